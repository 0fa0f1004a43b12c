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

"""eval --ray on a local Ray cluster of CPU workers: sharded, streamed back, retried, resumed."""

from __future__ import annotations

import os
from pathlib import Path
import signal

import pytest

from test.eval.test_runner import MemoryDataset
from vlm_planner.eval.distributed import run_on_ray, shards
from vlm_planner.eval.runner import Evaluation

ray = pytest.importorskip('ray')
REPO = Path(__file__).resolve().parents[2]


class PerItemDataset(MemoryDataset):
    """Items that load one by one (as EgoPlan-Bench's), so a shard can hold some of them."""

    def __init__(self, name, count, keep=None, crash_marker=None):
        super().__init__(name, count)
        self.keep, self.crash_marker = keep, crash_marker

    def item_ids(self):
        return [i for i in super().item_ids() if self.keep is None or i in self.keep]

    def subset(self, ids):
        return PerItemDataset(self.name, self.count, set(ids), self.crash_marker)

    def items(self, keyframes):
        for item in super().items(keyframes):
            if self.keep is not None and item.item_id not in self.keep:
                continue
            if self.crash_marker and item.item_id == 'item3' and \
                    not Path(self.crash_marker).exists():
                Path(self.crash_marker).touch()
                os._exit(1)  # the worker process dies mid-shard, once
            yield item


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """A Ray instance on this machine with two CPU workers, test modules importable."""
    os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO),
                                                             os.environ.get('PYTHONPATH')]))
    # Ray installs its own signal handlers in the driver; later tests expect the defaults.
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    for number, handler in handlers.items():
        signal.signal(number, handler)


def outcomes(records):
    return sorted((r['dataset'], r['item_id'], r['strategy'], r['predicted']) for r in records)


def test_shards_spread_the_work_and_match_a_local_run(cluster, tmp_path, tiny_model_cache):
    data = [PerItemDataset('mem', 5), MemoryDataset('rec', 2)]
    distributed = Evaluation(data, ['tiny'], ['base', 'reflect'], tmp_path / 'ray')
    work = shards(distributed, shard_size=2)
    # Five per-item items in shards of two; the recording-like data set is one shard.
    assert sorted(len(s.item_ids) for s in work) == [0, 1, 2, 2]
    records = run_on_ray(distributed, shard_size=2, progress=False)
    local = Evaluation(data, ['tiny'], ['base', 'reflect'], tmp_path / 'local').run(
        progress=False)
    assert len(records) == 14 and outcomes(records) == outcomes(local)
    assert distributed.failures == []


def test_a_worker_that_dies_has_its_items_retried(cluster, tmp_path, tiny_model_cache):
    marker = tmp_path / 'crashed-once'
    data = [PerItemDataset('mem', 6, crash_marker=str(marker))]
    records = run_on_ray(Evaluation(data, ['tiny'], ['base'], tmp_path / 'out'), shard_size=3,
                         progress=False)
    assert marker.exists(), 'the worker never crashed: the test tests nothing'
    assert sorted(r['item_id'] for r in records) == [f'item{i}' for i in range(6)]


def test_a_distributed_run_resumes_what_a_local_run_left(cluster, tmp_path, tiny_model_cache):
    Evaluation([PerItemDataset('mem', 4)], ['tiny'], ['base'], tmp_path, limit=0).run(
        progress=False)
    grown = Evaluation([PerItemDataset('mem', 7)], ['tiny'], ['base'], tmp_path)
    assert grown.done == 4
    assert [sorted(s.item_ids) for s in shards(grown, shard_size=8)] == [
        ['item4', 'item5', 'item6']]
    assert len(run_on_ray(grown, progress=False)) == 7
