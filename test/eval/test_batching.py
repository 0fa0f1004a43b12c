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

"""Throughput on one machine: an evaluation's items asked in batches, requests kept in flight."""

from __future__ import annotations

from test.eval.test_runner import MemoryDataset
from test.models.fake_openai_api import MODEL, serve_fake_api
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.eval.runner import Evaluation, item_seed


def test_a_batched_evaluation_predicts_the_same_with_fewer_passes(tmp_path, tiny_model_cache):
    passes = []

    def loader(config):
        from vlm_planner.models.factory import load_backend
        backend = load_backend(config)
        backend.model.register_forward_pre_hook(lambda *_: passes.append(1))
        return backend

    def evaluate(folder, batch_size, scoring):
        passes.clear()
        records = Evaluation([MemoryDataset('mem', 6)], ['tiny'], ['base'], folder,
                             overrides={'strategy.scoring': scoring}, batch_size=batch_size,
                             backend_loader=loader).run(progress=False)
        return sorted((r['item_id'], r['predicted']) for r in records), len(passes)

    for scoring in ('letter', 'likelihood'):
        one, one_passes = evaluate(tmp_path / f'one-{scoring}', 1, scoring)
        many, many_passes = evaluate(tmp_path / f'many-{scoring}', 3, scoring)
        assert many == one and len(many) == 6
        assert many_passes < one_passes, scoring


def test_a_failing_item_fails_alone_in_a_batch(tmp_path, tiny_model_cache):
    run = Evaluation([MemoryDataset('mem', 4, bad_item=2)], ['tiny'], ['base'], tmp_path,
                     batch_size=4)
    records = run.run(progress=False)
    assert sorted(r['item_id'] for r in records) == ['item0', 'item1', 'item3']
    assert len(run.failures) == 1 and 'mem/item2' in run.failures[0]


def test_a_model_server_gets_a_batch_concurrently_within_the_bound(tmp_path):
    with serve_fake_api() as fake:
        fake.delay = 0.2
        run = Evaluation([MemoryDataset('mem', 6)], [f'openai:{fake.url}#{MODEL}'], ['base'],
                         tmp_path, overrides={'model.max_in_flight': 3}, batch_size=6)
        records = run.run(progress=False)
    assert len(records) == 6
    assert fake.most_in_flight == 3


def test_sampled_replies_keep_their_seed_when_asked_concurrently(tmp_path):
    with serve_fake_api() as fake:
        fake.delay = 0.05
        Evaluation([MemoryDataset('mem', 4)], [f'openai:{fake.url}#{MODEL}'], ['consistency'],
                   tmp_path, overrides={'model.max_in_flight': 4, 'strategy.samples': 2},
                   batch_size=4, seed=7).run(progress=False)
        seeds = sorted(body['seed'] for body in fake.posts() if body.get('temperature'))
    items = list(MemoryDataset('mem', 4).items(KeyframeConfig()))
    assert seeds == sorted(item_seed(7, item, 'consistency') for item in items)
