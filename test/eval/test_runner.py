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

"""Tests for the evaluation loop and its resumable results file, with a real tiny model."""

import json
from urllib.parse import urlparse

import numpy as np
import pytest

from test.models.fake_openai_api import MODEL, serve_fake_api

from vlm_planner.core.actions import Action
from vlm_planner.core.frames import Frame
from vlm_planner.core.session import replayed_keyframes
from vlm_planner.data.items import Dataset, EvalItem
from vlm_planner.errors import ConfigError
from vlm_planner.eval.results import ResultsError, ResultStore
from vlm_planner.eval.runner import Evaluation
from vlm_planner.models.factory import load_backend
from vlm_planner.models.spec import parse_model_spec

ACTIONS = (Action('pick up the red block', 'pick', 'red block'),
           Action('put the held block in the bin', 'put', 'bin'),
           Action('pick up the blue block', 'pick', 'blue block'))


class MemoryDataset(Dataset):
    """Items made in memory; counts how often its frames were produced."""

    def __init__(self, name, count, bad_item=None):
        self.name, self.count, self.bad_item = name, count, bad_item
        self.passes = 0

    def __len__(self):
        return self.count

    def item_ids(self):
        return [f'item{i}' for i in range(self.count)]

    def items(self, keyframes):
        self.passes += 1
        rng = np.random.default_rng(0)
        for i in range(self.count):
            frames = [Frame(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8), t)
                      for t in (0.0, 1.0, 2.0)]
            candidates = ACTIONS if i != self.bad_item else ACTIONS + (ACTIONS[0],)
            yield EvalItem(self.name, f'item{i}', 'tidy', 'put the red block in the bin',
                           candidates, i % 3, tuple(replayed_keyframes(frames, keyframes)), 2.0)


class CountingLoader:
    def __init__(self):
        self.loads = 0

    def __call__(self, config):
        self.loads += 1
        return load_backend(config)


def test_every_item_model_strategy_is_evaluated_once_and_records_ground_truth(
        tmp_path, tiny_model_cache):
    data = MemoryDataset('mem', 3)
    loader = CountingLoader()
    run = Evaluation([data], ['tiny'], ['base', 'reflect'], tmp_path, backend_loader=loader)
    records = run.run(progress=False)
    assert len(records) == run.total == 6
    assert loader.loads == 1 and data.passes == 1  # frames read once for all strategies
    lines = [json.loads(line) for line in (tmp_path / 'results.jsonl').read_text().splitlines()]
    assert lines == records
    first = records[0]
    assert first['candidates'] == [a.label for a in ACTIONS]
    assert first['candidate_verbs'] == ['pick', 'put', 'pick']
    assert first['correct'] == (first['predicted'] == first['answer'])
    assert first['untrained'] is True and first['model'] == 'tiny-qwen2_5_vl'
    assert {(r['item_id'], r['strategy']) for r in records} == {
        (f'item{i}', s) for i in range(3) for s in ('base', 'reflect')}


def test_rerun_skips_finished_results_and_does_not_load_the_model(tmp_path, tiny_model_cache):
    Evaluation([MemoryDataset('mem', 2)], ['tiny'], ['base'], tmp_path).run(progress=False)
    loader = CountingLoader()
    finished, grown = MemoryDataset('mem', 2), MemoryDataset('new', 1)
    again = Evaluation([finished, grown], ['tiny'], ['base'], tmp_path, backend_loader=loader)
    assert len(again.run(progress=False)) == 3
    assert loader.loads == 1
    assert finished.passes == 0, 'a finished data set was replayed'
    assert grown.passes == 1
    more = Evaluation([MemoryDataset('mem', 2)], ['tiny'], ['base', 'cot'], tmp_path)
    records = more.run(progress=False)
    assert sorted((r['dataset'], r['strategy']) for r in records) == [
        ('mem', 'base'), ('mem', 'base'), ('mem', 'cot'), ('mem', 'cot'), ('new', 'base')]


def test_a_rerun_with_other_settings_is_a_separate_run(tmp_path, tiny_model_cache):
    first = Evaluation([MemoryDataset('mem', 2)], ['tiny'], ['base'], tmp_path)
    first.run(progress=False)
    loader = CountingLoader()
    other = Evaluation([MemoryDataset('mem', 2)], ['tiny'], ['base'], tmp_path,
                       overrides={'keyframes.max_count': 2}, backend_loader=loader)
    assert other.runs['tiny-qwen2_5_vl'] != first.runs['tiny-qwen2_5_vl'] and other.done == 0
    records = other.run(progress=False)
    assert loader.loads == 1 and len(records) == 4
    assert {r['run'] for r in records} == {first.runs['tiny-qwen2_5_vl'],
                                           other.runs['tiny-qwen2_5_vl']}
    runs = json.loads((tmp_path / 'runs.json').read_text())
    assert runs[other.runs['tiny-qwen2_5_vl']]['settings']['keyframes.max_count'] == 2
    assert runs[first.runs['tiny-qwen2_5_vl']]['settings']['keyframes.max_count'] == 8
    # The same settings again: nothing left to do.
    again = Evaluation([MemoryDataset('mem', 2)], ['tiny'], ['base'], tmp_path,
                       overrides={'keyframes.max_count': 2}, backend_loader=loader)
    assert again.done == 2 and len(again.run(progress=False)) == 4 and loader.loads == 1


def test_a_failing_item_is_reported_and_left_for_the_next_run(tmp_path, tiny_model_cache):
    run = Evaluation([MemoryDataset('mem', 3, bad_item=1)], ['tiny'], ['base'], tmp_path)
    records = run.run(progress=False)
    assert [r['item_id'] for r in records] == ['item0', 'item2']
    assert len(run.failures) == 1 and 'mem/item1' in run.failures[0]
    assert 'twice' in run.failures[0]


def test_bad_settings_fail_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match='strategy'):
        Evaluation([MemoryDataset('m', 1)], ['tiny'], ['base', 'guess'], tmp_path)
    with pytest.raises(ConfigError, match='given twice'):
        Evaluation([MemoryDataset('m', 1), MemoryDataset('m', 1)], ['tiny'], ['base'], tmp_path)
    with pytest.raises(ConfigError, match='at least one'):
        Evaluation([], ['tiny'], ['base'], tmp_path)
    assert not (tmp_path / 'results.jsonl').exists() or not (
        tmp_path / 'results.jsonl').read_text()


def test_a_served_model_is_evaluated_through_its_server(tmp_path):
    with serve_fake_api() as api:
        run = Evaluation([MemoryDataset('mem', 2)], [f'openai:{api.url}#{MODEL}'], ['base'],
                         tmp_path)
        records = run.run(progress=False)
        posts = api.posts()

    assert [r['model'] for r in records] == [f'{urlparse(api.url).netloc}/{MODEL}'] * 2
    assert [r['predicted'] for r in records] == [0, 0]  # the fake server ranks ' A' first
    assert not any(r['untrained'] for r in records)
    assert len(posts) == 2 and {p['model'] for p in posts} == {MODEL}


def test_models_are_named_after_what_runs_and_parameters_may_not_contradict_them(tmp_path):
    refined = Evaluation([MemoryDataset('m', 1)], ['tiny', parse_model_spec('tiny:smolvlm')],
                         ['base'], tmp_path, overrides={'model.device': 'cpu'})
    assert [m.name for m in refined.models] == ['tiny-qwen2_5_vl', 'tiny-smolvlm']
    arch = Evaluation([MemoryDataset('m', 1)], ['tiny'], ['base'], tmp_path,
                      overrides={'model.tiny_arch': 'smolvlm'})
    assert [m.name for m in arch.models] == ['tiny-smolvlm']
    with pytest.raises(ConfigError, match='drop --model tiny or drop the parameter model.url'):
        Evaluation([MemoryDataset('m', 1)], ['tiny'], ['base'], tmp_path,
                   overrides={'model.url': 'http://localhost:8000/v1'})
    with pytest.raises(ConfigError, match=r"models \['tiny-qwen2_5_vl'\] given twice"):
        Evaluation([MemoryDataset('m', 1)], ['tiny', 'tiny:qwen2_5_vl'], ['base'], tmp_path)


def test_results_file_drops_a_cut_off_last_line_and_refuses_garbage(tmp_path):
    path = tmp_path / 'results.jsonl'
    good = {'dataset': 'd', 'item_id': '1', 'model': 'm', 'strategy': 's'}
    path.write_text(json.dumps(good) + '\n' + '{"dataset": "d", "item_')
    store = ResultStore(path)
    assert store.records == [good] and ('d', '1', 'm', 's', '') in store
    assert path.read_text() == json.dumps(good) + '\n'
    store.append({**good, 'item_id': '2'})
    assert len(ResultStore(path)) == 2
    with pytest.raises(ResultsError, match='already'):
        store.append(good)
    path.write_text('not json\n')
    with pytest.raises(ResultsError, match='line 1'):
        ResultStore(path)


def test_the_blank_frame_control_shows_the_model_grey_frames_under_its_own_name(tmp_path):
    seen = []

    class FrameSpy:
        def __init__(self, config):
            self.backend = load_backend(config)

        def __getattr__(self, name):
            return getattr(self.backend, name)

        def score_letters(self, messages, letters):
            seen.extend(p.frame.image for m in messages for p in m.content
                        if hasattr(p, 'frame'))
            return self.backend.score_letters(messages, letters)

    run = Evaluation([MemoryDataset('set', 2)], ['tiny'], ['base'], tmp_path,
                     blank_frames=True, backend_loader=FrameSpy)
    records = run.run(progress=False)
    assert {r['model'] for r in records} == {'tiny-qwen2_5_vl+blank-frames'}
    assert seen and all((image == 128).all() for image in seen)
    assert run.done == 2


def test_what_is_already_done_counts_only_this_runs_results(tmp_path, tiny_model_cache):
    Evaluation([MemoryDataset('set', 2)], ['tiny'], ['base'], tmp_path).run(progress=False)

    control = Evaluation([MemoryDataset('set', 2)], ['tiny'], ['base'], tmp_path,
                         blank_frames=True)
    assert control.done == 0  # the plain model's results are not the control's
    assert Evaluation([MemoryDataset('set', 2)], ['tiny'], ['base', 'cot'], tmp_path).done == 2
