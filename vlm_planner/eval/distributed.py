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

"""An evaluation spread over Ray workers: one per GPU, on one machine or many.

The work left to do is cut into *shards*: a recording whole (its items are replayed in order
through one keyframe buffer), or up to ``shard_size`` items of a data set whose items load one by
one (EgoPlan-Bench). Each shard is a Ray task with the resources of one worker (by default one GPU
where the cluster has GPUs); Ray places the tasks, and a task whose worker process dies is run
again (``max_retries``), so a lost worker's items are retried without a scheduler of our own. A
worker process keeps its model loaded between the shards it runs. Results stream back: the driver
appends each finished shard's records to the one resumable ``results.jsonl``, so an interrupted
distributed run resumes like a local one, on any number of workers.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from tqdm import tqdm

from vlm_planner.data.items import Dataset
from vlm_planner.errors import ConfigError
from vlm_planner.eval.results import result_key
from vlm_planner.eval.runner import Evaluation, ModelRun

logger = logging.getLogger(__name__)

#: Times Ray runs a shard again after its worker process died.
MAX_RETRIES = 3


@dataclasses.dataclass(frozen=True)
class Shard:
    """Work for one Ray task: some items of one data set, for one model.

    Attributes:
        run: the model's run.
        dataset: the data set (cut down to ``item_ids`` where it loads items one by one).
        item_ids: the items to decide (empty: every item the data set yields).
        strategies: the strategies to ask.
        done: keys (item id, strategy) already in the results file.
    """

    run: ModelRun
    dataset: Dataset
    item_ids: frozenset[str]
    strategies: tuple[str, ...]
    done: frozenset[tuple[str, str]]


@dataclasses.dataclass
class ShardResult:
    """What a shard produced: result records, and messages of decisions that failed."""

    records: list[dict[str, Any]]
    failures: list[str]


#: Backends loaded in this worker process, by model settings (kept between shards).
_BACKENDS: dict[str, Any] = {}


def evaluate_shard(shard: Shard) -> ShardResult:
    """Decide a shard's items (runs inside a Ray worker; also callable directly)."""
    key = repr(sorted(shard.run.values.items()))
    if key not in _BACKENDS:
        _BACKENDS.clear()  # one model per worker process at a time
        _BACKENDS[key] = shard.run.load()
    backend = _BACKENDS[key]
    result = ShardResult([], [])
    for batch in shard.run.batches(shard.dataset):
        for strategy in shard.strategies:
            todo = [item for item in batch
                    if (not shard.item_ids or item.item_id in shard.item_ids)
                    and (item.item_id, strategy) not in shard.done]
            if todo:
                records, failures = shard.run.evaluate_many(todo, strategy, backend)
                result.records += records
                result.failures += failures
    return result


def shards(evaluation: Evaluation, shard_size: int) -> list[Shard]:
    """The work an evaluation has left, cut into shards."""
    found = []
    for model in evaluation.models:
        run = evaluation.model_run(model)
        for dataset in evaluation.datasets:
            if evaluation.finished(dataset, model):
                continue
            done = frozenset((item_id, strategy) for item_id in dataset.item_ids()
                             for strategy in evaluation.strategies
                             if evaluation.key(item_id, dataset.name, model, strategy)
                             in evaluation.store)
            left = sorted({item_id for item_id in dataset.item_ids()
                           if any((item_id, s) not in done for s in evaluation.strategies)})
            whole = evaluation.limit or dataset.subset(left[:1]) is dataset
            groups = [[]] if whole else [left[i:i + shard_size]
                                         for i in range(0, len(left), shard_size)]
            for group in groups:
                part = dataset.subset(group) if group else dataset
                found.append(Shard(run, part, frozenset(group), tuple(evaluation.strategies),
                                   done))
    return found


def run_on_ray(evaluation: Evaluation, *, address: str = '', worker_gpus: float | None = None,
               worker_cpus: float = 1.0, shard_size: int = 16,
               progress: bool = True) -> list[dict[str, Any]]:
    """Run ``evaluation`` on a Ray cluster; return all results of its folder.

    Args:
        evaluation: the evaluation (its folder is locked while this runs).
        address: the cluster to join (``auto``, ``ray://HOST:10001``, ``HOST:6379``); empty
            starts a Ray instance on this machine.
        worker_gpus: GPUs per worker (None: 1 where the cluster has GPUs, else 0).
        worker_cpus: CPU cores per worker.
        shard_size: items per shard of a data set that loads items one by one.
        progress: show a progress bar.

    Raises:
        ConfigError: Ray is not installed, or an argument is out of range.
        ResultsError: another evaluation is writing the folder.
    """
    ray = _import_ray()
    if shard_size < 1:
        raise ConfigError(f'--shard-size must be at least 1, got {shard_size}.')
    if not ray.is_initialized():
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False)
    if worker_gpus is None:
        worker_gpus = 1.0 if ray.cluster_resources().get('GPU', 0) else 0.0
    task = ray.remote(evaluate_shard).options(num_gpus=worker_gpus, num_cpus=worker_cpus,
                                              max_retries=MAX_RETRIES)
    with evaluation.locked():
        work = shards(evaluation, shard_size)
        with tqdm(total=evaluation.total, initial=evaluation.done, unit='decision',
                  desc='evaluating (ray)', disable=not progress) as bar:
            pending = {task.remote(shard): shard for shard in work}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                shard = pending.pop(ready[0])
                _collect(evaluation, shard, ray, ready[0], bar)
    return evaluation.store.records


def _collect(evaluation: Evaluation, shard: Shard, ray: Any, ref: Any, bar: tqdm) -> None:
    """Append a finished shard's records; a shard that failed for good is reported."""
    try:
        result = ray.get(ref)
    except Exception as error:  # noqa: BLE001 - Ray wraps the worker's failure
        evaluation.fail(f'{shard.dataset.name} ({len(shard.item_ids) or "all"} items) '
                        f'{shard.run.name}: the worker failed {MAX_RETRIES + 1} times: {error}')
        return
    for record in result.records:
        if result_key(record) not in evaluation.store:
            evaluation.store.append(record)
            bar.update(1)
    for message in result.failures:
        evaluation.fail(message)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ConfigError('eval --ray needs Ray: pip install ray (the same version '
                          'on every machine of the cluster).') from error
    return ray
