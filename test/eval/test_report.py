# Copyright 2026 vlm_planner maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The Markdown report and its plots, written from synthetic records."""

from __future__ import annotations

import numpy as np
import pytest

from vlm_planner.atomic_file import atomic_path
from vlm_planner.eval import report
from vlm_planner.eval.metrics import NO_ANSWER

matplotlib_image = pytest.importorskip('matplotlib.image')

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
CANDIDATES = ['pick up the red block', 'pick up the blue block', 'open the drawer', 'wait']


def record(item_id, predicted, model='Qwen/Qwen2.5-VL-3B', strategy='base', answer=0,
           latency=1.0, untrained=False, candidates=CANDIDATES, task='tidy'):
    """A result record as the evaluator writes it."""
    return {
        'dataset': 'tabletop', 'item_id': str(item_id), 'task': task, 'model': model,
        'strategy': strategy, 'goal': 'tidy up', 'candidates': list(candidates),
        'candidate_verbs': ['pick', 'pick', 'open', 'wait'][:len(candidates)],
        'candidate_nouns': ['red block', 'blue block', 'drawer', ''][:len(candidates)],
        'answer': answer, 'predicted': predicted, 'correct': answer == predicted,
        'confidence': 0.9, 'scores': None, 'votes': None, 'invalid_answers': 0,
        'answer_method': 'scored', 'latency_s': latency, 'tokens': 12, 'untrained': untrained,
    }


def two_strategies(untrained=False):
    """10 items: 'base' gets 8 right, 'cot' gets 3 right and is 100x slower."""
    records = []
    for i in range(10):
        records.append(record(i, 0 if i < 8 else 1, latency=0.1 + 0.01 * i,
                              untrained=untrained, task='tea' if i < 5 else 'tidy'))
        records.append(record(i, 0 if i < 3 else 2, strategy='cot', latency=10.0 + i,
                              untrained=untrained, task='tea' if i < 5 else 'tidy'))
    return records


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000, path
    image = matplotlib_image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, image.shape


def no_temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith('.') or p.suffix == '.tmp']


def test_report_contents_and_plots(tmp_path):
    out = tmp_path / 'report'
    path = report.write_report(two_strategies(), out)
    assert path == out / 'report.md'
    text = path.read_text()
    assert '80.0% [49.0%, 94.3%]' in text  # base: 8 / 10 with its Wilson interval
    assert '30.0% [10.8%, 60.3%]' in text  # cot: 3 / 10
    assert '| Qwen/Qwen2.5-VL-3B | base | 10 |' in text
    assert '+50.0 pp' in text  # paired: base - cot
    assert '0.062' in text  # exact McNemar for 5 vs 0 discordant pairs: 2 / 32
    assert 'untrained' not in text.lower()
    for title in ('## Headline', '## Accuracy per data set', '## Accuracy per task',
                  '## Paired comparisons', '## Answer-position bias'):
        assert title in text
    assert '| tea | Qwen/Qwen2.5-VL-3B | base | 5 | 100.0%' in text
    pngs = ['accuracy.png', 'latency.png', 'confusion_Qwen-Qwen2.5-VL-3B_base.png',
            'confusion_Qwen-Qwen2.5-VL-3B_cot.png']
    for name in pngs:
        assert f']({name})' in text
        assert_png(out / name)
    assert sorted(p.name for p in out.iterdir()) == sorted(pngs + ['report.md'])


def test_significant_difference_is_marked(tmp_path):
    records = []
    for i in range(20):
        records.append(record(i, 0, strategy='a'))
        records.append(record(i, 0 if i < 3 else 1, strategy='b'))
    text = report.write_report(records, tmp_path).read_text()
    assert '**yes** \\*' in text
    assert '<0.001' in text


def test_untrained_warning(tmp_path):
    text = report.write_report(two_strategies(untrained=True), tmp_path).read_text()
    assert 'untrained model: accuracy is chance-level by construction' in text


def test_position_bias_table_flags_always_a(tmp_path):
    records = [record(i, 0, answer=i % 4) for i in range(40)]
    text = report.write_report(records, tmp_path).read_text()
    assert '| 100% / 0% / 0% / 0% | 25% / 25% / 25% / 25% | 0 | 120.0 (3) | <0.001 | 1.000 |' \
        in text
    assert 'Nothing to compare' in text


def test_empty_records_give_a_short_report(tmp_path):
    path = report.write_report([], tmp_path / 'new')
    assert 'No result records' in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == ['report.md']


def test_many_labels_are_pooled_and_pipes_escaped(tmp_path):
    labels = [f'action {i:02d} | variant' for i in range(30)]
    records = [record(i, (i + 1) % 30 if i % 3 else i, answer=i, candidates=labels)
               for i in range(30)]
    records.append(record(30, -1, answer=0, candidates=labels))
    text = report.write_report(records, tmp_path).read_text()
    assert 'action 00 | variant' not in text.replace('\\|', '')  # no raw pipe in a cell
    assert_png(tmp_path / 'confusion_Qwen-Qwen2.5-VL-3B_base.png')


def test_top_labels_pools_the_rest():
    counts = np.arange(25 * 25, dtype=float).reshape(25, 25)
    labels = [f'l{i}' for i in range(25)]
    kept, pooled = report._top_labels(labels, counts, 20)
    assert kept == labels[:19] + [report.OTHER]
    assert pooled.shape == (20, 20)
    assert pooled.sum() == counts.sum()
    assert pooled[0, 19] == counts[0, 19:].sum()
    assert NO_ANSWER not in kept


def test_rewrite_replaces_files_and_leaves_no_temp_files(tmp_path):
    report.write_report(two_strategies(), tmp_path)
    report.write_report(two_strategies(untrained=True), tmp_path)
    assert 'untrained model' in (tmp_path / 'report.md').read_text()
    assert no_temp_files(tmp_path) == []


def test_crash_keeps_the_previous_report(tmp_path, monkeypatch):
    path = report.write_report(two_strategies(), tmp_path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError('disk on fire')

    monkeypatch.setattr(report, 'render_markdown', crash)
    with pytest.raises(RuntimeError):
        report.write_report(two_strategies(untrained=True), tmp_path)
    assert path.read_bytes() == before
    assert no_temp_files(tmp_path) == []


def test_atomic_write_failing_midway_leaves_nothing(tmp_path):
    target = tmp_path / 'file.txt'
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text('half')
            raise RuntimeError('crash')
    assert list(tmp_path.iterdir()) == []


def test_plot_failure_leaves_no_partial_png(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken_savefig(self, fname, **kwargs):
        with open(fname, 'wb') as handle:
            handle.write(b'\x89PNG half')
        raise OSError('disk full')

    monkeypatch.setattr(Figure, 'savefig', broken_savefig)
    with pytest.raises(OSError):
        report.write_report(two_strategies(), tmp_path)
    assert list(tmp_path.iterdir()) == []
