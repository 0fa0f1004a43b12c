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

"""A Markdown report with PNG plots of an evaluation, readable without the raw results.

:func:`write_report` writes into one folder:

* ``report.md``: headline table, accuracy per data set, per task and (EgoPlan-Bench2) per domain,
  paired comparisons with their significance, answer-position bias, and the plots embedded with
  relative links; on EgoPlan-Bench items, the published reference figures beside the results;
* ``accuracy.png``: accuracy per model and strategy with 95% intervals and the chance level;
* ``confusion_<model>_<strategy>.png``: correct against chosen action, rows normalised;
* ``latency.png``: the latency distribution of each model and strategy.

The domain table and the published figures read the records' ``domain`` and ``benchmark``
fields (an item's :attr:`~vlm_planner.data.items.EvalItem.domain` and ``benchmark``); records
without them get neither.

Plots are drawn and written with :mod:`vlm_planner.plots`; ``report.md`` too is written to a
temporary name and renamed over the target, so a crash never leaves half a file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import re
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from vlm_planner.atomic_file import atomic_path
from vlm_planner.data.egoplan import EGOPLAN_BENCH
from vlm_planner.eval import metrics
from vlm_planner.eval.metrics import AccuracyRow, Comparison, GroupSummary, Record
from vlm_planner.plots import figure, save_png

REPORT_NAME = 'report.md'
ACCURACY_PNG = 'accuracy.png'
LATENCY_PNG = 'latency.png'
#: Most action labels a confusion plot shows; the rest are pooled into OTHER.
MAX_CONFUSION_LABELS = 20
OTHER = '(other actions)'
UNTRAINED_WARNING = ('**Warning: untrained model: accuracy is chance-level by construction.** '
                     'At least one system below ran with random weights; its numbers only show '
                     'that the pipeline works.')
#: Latency axis goes logarithmic when the slowest decision is this many times the fastest.
LOG_SPREAD = 20.0


@dataclasses.dataclass(frozen=True)
class PublishedFigure:
    """An accuracy a paper reports, shown beside a benchmark's results and never measured here."""

    system: str
    accuracy: float


#: Published accuracies on EgoPlan-Bench's validation set, beside the results on its items.
EGOPLAN_PUBLISHED = (PublishedFigure('Video-LLaMA (vanilla)', 0.304),
                     PublishedFigure('Video-LLaMA fine-tuned on EgoPlan-IT (EgoPlan-Video-LLaMA)',
                                     0.444))
#: Questions of the validation set the published figures were measured on.
EGOPLAN_VALIDATION_SIZE = 3355
EGOPLAN_CITATION = ('Chen et al., "EgoPlan-Bench: Benchmarking Multimodal Large Language Models '
                    'for Human-Level Planning", arXiv:2312.06722')


def write_report(records: Iterable[Record], out_dir: str | Path) -> Path:
    """Write ``report.md`` and its plots for ``records`` into ``out_dir``.

    Args:
        records: result records as written to ``results.jsonl`` (see :mod:`.metrics`).
        out_dir: the folder to write into; created if missing.

    Returns:
        The path of ``report.md``.
    """
    records = list(records)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = metrics.summarize(records)
    images: list[tuple[str, str]] = []
    if summaries:
        _plot_accuracy(summaries, out / ACCURACY_PNG)
        images.append(('Accuracy per model and strategy', ACCURACY_PNG))
        for name, title in _plot_confusions(records, summaries, out):
            images.append((title, name))
        if any(s.latency_mean is not None for s in summaries):
            _plot_latency(records, summaries, out / LATENCY_PNG)
            images.append(('Latency per decision', LATENCY_PNG))
    text = render_markdown(records, summaries, images)
    path = out / REPORT_NAME
    with atomic_path(path) as temp:
        temp.write_text(text, encoding='utf-8')
    return path


def render_markdown(records: Sequence[Record], summaries: Sequence[GroupSummary],
                    images: Sequence[tuple[str, str]] = ()) -> str:
    """Return the report text; ``images`` are (title, relative path) pairs to embed."""
    lines = ['# Evaluation report', '']
    if not records:
        return '\n'.join(lines + ['No result records: nothing was evaluated yet.', ''])
    untrained = [f'{s.model} / {s.strategy}' for s in summaries if s.untrained]
    if untrained:
        lines += [UNTRAINED_WARNING + ' Untrained: ' + ', '.join(_esc(u) for u in untrained) + '.',
                  '']
    lines += _overview(records)
    sections = [
        ('Headline', _headline_table(summaries)),
        *_published_section(records),
        ('Accuracy per data set', _accuracy_table(metrics.accuracy_by(records, 'dataset'))),
        ('Accuracy per task', _accuracy_table(metrics.accuracy_by(records, 'task'))),
        *_domain_section(records),
        ('Paired comparisons', _comparison_section(metrics.paired_comparison(records))),
        ('Answer-position bias', _position_section(summaries)),
        ('Plots', _image_lines(images)),
    ]
    for title, body in sections:
        lines += [f'## {title}', ''] + body + ['']
    return '\n'.join(lines)


def _overview(records: Sequence[Record]) -> list[str]:
    datasets = sorted({str(r['dataset']) for r in records})
    return [f'{len(records)} decisions over {_n_items(records)} items from '
            f'{len(datasets)} data set(s): {", ".join(_esc(d) for d in datasets)}.', '']


def _headline_table(summaries: Sequence[GroupSummary]) -> list[str]:
    header = ['model', 'strategy', 'n', 'accuracy [95% CI]', 'chance', 'verb acc', 'noun acc',
              'invalid rate (mean)', 'latency p50 / p95 (s)', 'tokens / decision']
    rows = [[s.model, s.strategy, str(s.n),
             f'{_pct(s.accuracy)} [{_pct(s.ci_low)}, {_pct(s.ci_high)}]', _pct(s.chance),
             _part(s.verb_accuracy, s.verb_n), _part(s.noun_accuracy, s.noun_n),
             f'{_pct(s.invalid_rate)} ({s.invalid_mean:.2f})',
             f'{_num(s.latency_p50)} / {_num(s.latency_p95)}', _num(s.tokens_mean, 1)]
            for s in summaries]
    notes = ['', 'Accuracy intervals are Wilson 95% score intervals. Chance is the expected '
             'accuracy of uniform guessing (mean of 1/k). Verb and noun accuracy count items '
             'whose correct action has a verb or noun (n in brackets). The invalid rate is the '
             'share of decisions with at least one unparseable answer; the mean count follows.']
    return _table(header, rows) + notes


def _accuracy_table(rows: Sequence[AccuracyRow]) -> list[str]:
    if not rows:
        return ['No records.']
    header = [rows[0].key, 'model', 'strategy', 'n', 'accuracy [95% CI]']
    body = [[r.value, r.model, r.strategy, str(r.n),
             f'{_pct(r.accuracy)} [{_pct(r.ci_low)}, {_pct(r.ci_high)}]'] for r in rows]
    return _table(header, body)


def _domain_section(records: Sequence[Record]) -> list[tuple[str, list[str]]]:
    """Accuracy per EgoPlan-Bench2 domain, when any record has one."""
    with_domain = [r for r in records if r.get('domain')]
    if not with_domain:
        return []
    left_out = len(records) - len(with_domain)
    notes = ['', f'EgoPlan-Bench2 items by their domain; {left_out} decision(s) on items without '
             'a domain are left out.' if left_out else 'EgoPlan-Bench2 items by their domain.']
    return [('Accuracy per domain',
             _accuracy_table(metrics.accuracy_by(with_domain, 'domain')) + notes)]


def _published_section(records: Sequence[Record]) -> list[tuple[str, list[str]]]:
    """This evaluation's EgoPlan-Bench accuracy beside the published figures, when it has any."""
    egoplan = [r for r in records if r.get('benchmark') == EGOPLAN_BENCH]
    if not egoplan:
        return []
    header = ['system', 'n', 'accuracy [95% CI]', 'figure']
    rows = [[f'{r.model} / {r.strategy}', str(r.n),
             f'{_pct(r.accuracy)} [{_pct(r.ci_low)}, {_pct(r.ci_high)}]', 'this evaluation']
            for r in metrics.accuracy_by(egoplan, 'benchmark')]
    rows += [[f.system, f'{EGOPLAN_VALIDATION_SIZE:,}', _pct(f.accuracy),
              '**published**, not measured here'] for f in EGOPLAN_PUBLISHED]
    notes = ['', f'Published figures are quoted from {EGOPLAN_CITATION}: accuracy on the '
             f'EgoPlan-Bench validation set ({EGOPLAN_VALIDATION_SIZE:,} questions). '
             "EgoPlan-Bench's evaluation code samples frames uniformly over the task's progress "
             'and picks the answer of lowest loss; compare only a row asked the same way on the '
             'same questions (config/egoplan_protocol.yaml, docs/datasets.md). This evaluation '
             f'answered {_n_items(egoplan)} EgoPlan-Bench question(s).']
    return [('EgoPlan-Bench: published reference figures', _table(header, rows) + notes)]


def _n_items(records: Sequence[Record]) -> int:
    return len({(str(r['dataset']), str(r['item_id'])) for r in records})


def _comparison_section(comparisons: Sequence[Comparison]) -> list[str]:
    if not comparisons:
        return ['Nothing to compare: there is a single model and strategy, or no shared items.']
    header = ['compared', 'fixed', 'A', 'B', 'n', 'both right', 'only A', 'only B',
              'both wrong', 'A - B', 'p (McNemar)', 'p (Holm)', 'significant']
    rows = [[c.kind, c.fixed, c.a, c.b, str(c.n), str(c.both_right), str(c.only_a),
             str(c.only_b), str(c.both_wrong), f'{100 * c.difference:+.1f} pp',
             _p(c.p_value), _p(c.p_holm), '**yes** \\*' if c.significant else 'no']
            for c in comparisons]
    notes = ['', 'Each pair is compared on the items both answered. p is the exact two-sided '
             'McNemar test on the discordant pairs (only A, only B); p (Holm) corrects for all '
             f'{len(comparisons)} comparisons together. \\* marks differences significant at '
             f'{metrics.ALPHA:g} after correction.']
    return _table(header, rows) + notes


def _position_section(summaries: Sequence[GroupSummary]) -> list[str]:
    width = max(len(s.position_bias.predicted_counts) for s in summaries)
    letters = [metrics.position_letter(i) for i in range(width)]
    header = ['model', 'strategy', 'picked ' + '/'.join(letters), 'correct ' + '/'.join(letters),
              'no valid pick', 'chi2 (dof)', 'p (picked vs uniform)', 'p (correct vs uniform)']
    rows = []
    for s in summaries:
        bias = s.position_bias
        chi2 = '-' if bias.chi2 is None else f'{bias.chi2:.1f} ({bias.dof})'
        rows.append([s.model, s.strategy, _shares(bias.predicted_share),
                     _shares(bias.answer_share), str(bias.out_of_range), chi2,
                     _p(bias.p_value), _p(bias.answer_p_value)])
    notes = ['', 'Shares of in-range picks and of correct answers at each option position. The '
             'chi-square goodness-of-fit test compares the picked positions with uniform choice '
             "among each item's candidates; a small p means the model prefers some positions. "
             'Read it next to the last column: when the correct answers themselves are not '
             'uniform, an accurate model departs from uniform too.']
    return _table(header, rows) + notes


def _image_lines(images: Sequence[tuple[str, str]]) -> list[str]:
    lines = []
    for title, name in images:
        lines += [f'### {_esc(title)}', '', f'![{_esc(title)}]({name})', '']
    return lines[:-1] if lines else ['No plots.']


def _plot_accuracy(summaries: Sequence[GroupSummary], path: Path) -> None:
    models = sorted({s.model for s in summaries})
    strategies = sorted({s.strategy for s in summaries})
    width = 0.8 / len(models)
    fig = figure(max(6.0, 1.2 * len(strategies) * max(1, len(models) / 2) + 2), 4.5)
    ax = fig.add_subplot()
    for m, model in enumerate(models):
        rows = [(strategies.index(s.strategy), s) for s in summaries if s.model == model]
        x = [i + (m - (len(models) - 1) / 2) * width for i, _ in rows]
        acc = [s.accuracy for _, s in rows]
        err = [[s.accuracy - s.ci_low for _, s in rows], [s.ci_high - s.accuracy for _, s in rows]]
        ax.bar(x, acc, width * 0.9, yerr=err, capsize=4, label=_short(model, 40))
        for xi, (_, s) in zip(x, rows):  # the value, just above its interval
            ax.annotate(f'{100 * s.accuracy:.0f}%', (xi, s.ci_high), xytext=(0, 3),
                        ha='center', textcoords='offset points', fontsize=8)
    chance = float(np.mean([s.chance for s in summaries]))
    ax.axhline(chance, color='grey', linestyle='--', linewidth=1,
               label=f'chance (1/k = {100 * chance:.0f}%)')
    ax.set_xticks(range(len(strategies)), [_short(s, 20) for s in strategies])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel('accuracy (95% Wilson CI)')
    ax.set_xlabel('strategy')
    ax.set_title('Accuracy per strategy and model')
    ax.yaxis.set_major_formatter(lambda v, _: f'{100 * v:.0f}%')
    ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    save_png(fig, path)


def _plot_confusions(records: Sequence[Record], summaries: Sequence[GroupSummary],
                     out: Path) -> Iterator[tuple[str, str]]:
    used: set[str] = set()
    for s in summaries:
        labels, matrix = metrics.confusion(records, s.model, s.strategy)
        labels, counts = _top_labels(labels, np.array(matrix, dtype=float), MAX_CONFUSION_LABELS)
        name = _unique(f'confusion_{_slug(s.model)}_{_slug(s.strategy)}.png', used)
        _plot_confusion(labels, counts, f'{s.model} / {s.strategy}', out / name)
        yield name, f'Confusion: {s.model} / {s.strategy}'


def _top_labels(labels: list[str], counts: np.ndarray,
                limit: int) -> tuple[list[str], np.ndarray]:
    """Keep the ``limit`` - 1 most frequent labels and pool the rest into :data:`OTHER`."""
    if len(labels) <= limit:
        return labels, counts
    keep = limit - 1  # labels come most frequent first
    pooled = np.zeros((limit, limit))
    pooled[:keep, :keep] = counts[:keep, :keep]
    pooled[:keep, keep] = counts[:keep, keep:].sum(axis=1)
    pooled[keep, :keep] = counts[keep:, :keep].sum(axis=0)
    pooled[keep, keep] = counts[keep:, keep:].sum()
    return labels[:keep] + [OTHER], pooled


def _plot_confusion(labels: Sequence[str], counts: np.ndarray, title: str, path: Path) -> None:
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = min(14.0, max(5.0, 0.45 * len(labels) + 3.5))
    fig = figure(size + 1.5, size)
    ax = fig.add_subplot()
    image = ax.imshow(rates, cmap='Blues', vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='share of the row')
    ticks = range(len(labels))
    short = [_short(label, 36) for label in labels]
    ax.set_xticks(ticks, short, rotation=45, ha='right', rotation_mode='anchor', fontsize=8)
    ax.set_yticks(ticks, [f'{lab} (n={int(t)})' for lab, t in zip(short, totals[:, 0])],
                  fontsize=8)
    if len(labels) <= 12:
        for (i, j), value in np.ndenumerate(rates):
            if counts[i, j]:
                ax.text(j, i, f'{100 * value:.0f}', ha='center', va='center', fontsize=7,
                        color='white' if value > 0.5 else 'black')
    ax.set_xlabel('chosen action')
    ax.set_ylabel('correct action')
    ax.set_title(f'Confusion (rows normalised): {_short(title, 60)}', fontsize=10)
    save_png(fig, path)


def _plot_latency(records: Sequence[Record], summaries: Sequence[GroupSummary],
                  path: Path) -> None:
    groups = [(s, [float(r['latency_s']) for r in records
                   if str(r['model']) == s.model and str(r['strategy']) == s.strategy
                   and r.get('latency_s') is not None]) for s in summaries]
    groups = [(s, values) for s, values in groups if values]
    fig = figure(max(6.0, 1.5 * len(groups) + 2), 4.5)
    ax = fig.add_subplot()
    ax.boxplot([values for _, values in groups], showmeans=True, whis=(5, 95))
    names = [f'{_short(_model_name(s.model), 24)}\n{_short(s.strategy, 24)}' for s, _ in groups]
    ax.set_xticks(range(1, len(groups) + 1), names, fontsize=8)
    everything = [v for _, values in groups for v in values]
    positive = [v for v in everything if v > 0]
    if positive and len(positive) == len(everything) and max(positive) > (
            LOG_SPREAD * min(positive)):
        ax.set_yscale('log')
    log = ' (log scale)' if ax.get_yscale() == 'log' else ''
    ax.set_ylabel(f'latency per decision (s){log}')
    ax.set_title('Latency per model and strategy (box: quartiles, whiskers: p5-p95, '
                 'triangle: mean)', fontsize=10)
    ax.grid(axis='y', alpha=0.3)
    save_png(fig, path)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return lines + ['| ' + ' | '.join(_esc(cell) for cell in row) + ' |' for row in rows]


def _esc(text: Any) -> str:
    return str(text).replace('|', '\\|').replace('\n', ' ')


def _pct(value: float) -> str:
    return f'{100 * value:.1f}%'


def _part(value: float | None, n: int) -> str:
    return '-' if value is None else f'{_pct(value)} ({n})'


def _num(value: float | None, digits: int = 2) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def _p(value: float | None) -> str:
    if value is None:
        return '-'
    return '<0.001' if value < 0.001 else f'{value:.3f}'


def _shares(shares: Sequence[float]) -> str:
    return ' / '.join(f'{100 * share:.0f}%' for share in shares)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + '\u2026'


def _model_name(model: str) -> str:
    """A model id without its hub organisation ('Qwen/Qwen2.5-VL-3B' -> 'Qwen2.5-VL-3B')."""
    return model.rstrip('/').rsplit('/', 1)[-1] or model


def _slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9._-]+', '-', text).strip('-.') or 'x'


def _unique(name: str, used: set[str]) -> str:
    stem, suffix, number = name[:-4], '.png', 2
    while name in used:
        name = f'{stem}-{number}{suffix}'
        number += 1
    used.add(name)
    return name
