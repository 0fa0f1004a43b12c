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

"""Evaluate models and prompting strategies on recorded decision points.

For every model, every data set item and every strategy, the planner decides exactly as the live
node would (same keyframe buffer, prompts, strategies and planner) and one result line is appended
to ``<out>/results.jsonl``. Finished results of the same run (model, settings and seed, see
:mod:`.provenance`) are skipped on a rerun, so a killed evaluation resumes where it stopped, and
one rerun with other settings is evaluated as a run of its own. Sampled replies are seeded per
item (:func:`item_seed`), so a rerun repeats them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from vlm_planner import settings
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.core.planner import Planner
from vlm_planner.core.strategies import make_strategy, Strategy
from vlm_planner.data.items import Dataset, EvalItem
from vlm_planner.errors import ConfigError, VlmPlannerError
from vlm_planner.eval.provenance import run_id, run_identity
from vlm_planner.eval.results import folder_lock, record_runs, RESULTS_FILE, ResultStore
from vlm_planner.models.base import check_scoring, in_flight
from vlm_planner.models.factory import load_backend
from vlm_planner.models.spec import apply_model_spec, model_name, ModelSpec, parse_model_spec

logger = logging.getLogger(__name__)

#: Appended to a model's name in a blank-frame control run.
BLANK_SUFFIX = '+blank-frames'
#: Grey level of the frames of a blank-frame control.
BLANK_LEVEL = 128


def blanked(item: EvalItem) -> EvalItem:
    """``item`` with each frame replaced by a uniform grey frame of the same size and time."""
    frames = tuple(Frame(np.full_like(f.image, BLANK_LEVEL), f.stamp) for f in item.frames)
    return dataclasses.replace(item, frames=frames)


def _check_unique(names: Sequence[str], what: str) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f'{what} {duplicates} given twice (results are keyed by name); '
                          'rename one of them.')


def item_seed(seed: int, item: EvalItem, strategy: str) -> int:
    """The sampling seed of one item and strategy: stable across reruns and machines."""
    text = f'{seed}/{item.dataset}/{item.item_id}/{strategy}'
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], 'little') & 0x7FFFFFFF


def result_record(item: EvalItem, model: str, decision, run: str = '',
                  seed: int | None = None) -> dict[str, Any]:
    """One results.jsonl line: the item's ground truth beside the planner's decision."""
    return {
        'dataset': item.dataset, 'item_id': item.item_id, 'task': item.task, 'model': model,
        'strategy': decision.strategy, 'run': run, 'seed': seed, 'goal': item.goal,
        'domain': item.domain, 'benchmark': item.benchmark,
        'candidates': [a.label for a in item.candidates],
        'candidate_verbs': [a.verb for a in item.candidates],
        'candidate_nouns': [a.noun for a in item.candidates],
        'answer': item.answer, 'predicted': decision.index,  # None: no action (needs help)
        'correct': decision.index == item.answer, 'confidence': decision.confidence,
        'needs_help': decision.needs_help,
        'scores': decision.scores, 'votes': decision.votes,
        'invalid_answers': decision.invalid_answers, 'answer_method': decision.answer_method,
        'latency_s': decision.latency_s, 'tokens': decision.tokens,
        'untrained': decision.untrained, 'decision_time': item.decision_time,
        'keyframe_stamps': list(decision.keyframe_stamps), 'rationale': decision.rationale,
        'stages': decision.stages,
    }


class Evaluation:
    """One evaluation run over data sets x models x strategies, resumable."""

    def __init__(self, datasets: Sequence[Dataset], models: Sequence[str | ModelSpec],
                 strategies: Sequence[str], out_dir: str | Path, *,
                 overrides: dict[str, Any] | None = None, limit: int = 0,
                 blank_frames: bool = False, seed: int = 0,
                 data_options: dict[str, Any] | None = None, batch_size: int = 1,
                 backend_loader: Callable = load_backend) -> None:
        """Check the run's settings before anything heavy happens.

        Args:
            datasets: the data sets to evaluate on.
            models: model specifications (:mod:`vlm_planner.models.spec`), as text or parsed;
                ``overrides`` may refine them (``model.device``) but not contradict them.
            strategies: strategy names.
            out_dir: output folder; results already there are kept and skipped.
            overrides: planner parameters applied to every run (keyframes, scoring, ...).
            limit: evaluate at most this many items per data set (0: all).
            blank_frames: a control: every frame is replaced by a uniform grey one of its size,
                so the accuracy shows what the model gets from the text alone (it should fall
                to chance); the models are named ``<name>+blank-frames``.
            seed: the evaluation's seed; each item's sampled replies start from a seed derived
                from it (:func:`item_seed`).
            data_options: options the data sets were read with that change their items (frame
                rates, sampling); part of each run's identity.
            batch_size: items asked together: the base strategy scores them in one batched
                pass (models that batch, see ``TransformersBackend.batches``), a model server
                gets them concurrently (``model.max_in_flight``).
            backend_loader: turns a ModelConfig into a backend (tests pass a recording one).
        """
        self.datasets = list(datasets)
        self.strategies = list(strategies)
        if not (self.datasets and models and self.strategies):
            raise ConfigError('give at least one data set, one model and one strategy.')
        self._values: dict[str, dict[str, Any]] = {}
        self.models: list[ModelSpec] = []
        for model in models:
            spec = model if isinstance(model, ModelSpec) else parse_model_spec(model)
            values = settings.complete(apply_model_spec(overrides or {}, spec))
            # As the model is best asked, unless the overrides say otherwise.
            values = {**values, **settings.recommended(values, explicit=set(overrides or {}))}
            # Named after what runs: '-p model.tiny_arch:=smolvlm' beside 'tiny' is tiny-smolvlm.
            spec = dataclasses.replace(
                spec, name=model_name(values) + (BLANK_SUFFIX if blank_frames else ''))
            self.models.append(spec)
            self._values[spec.name] = values
        _check_unique([d.name for d in self.datasets], 'data sets')
        _check_unique([m.name for m in self.models], 'models')
        _check_unique(self.strategies, 'strategies')
        self.limit = limit
        self.blank_frames = blank_frames
        self.seed = seed
        if batch_size < 1:
            raise ConfigError(f'--batch-size must be at least 1, got {batch_size}.')
        self.batch_size = batch_size
        self.out_dir = Path(out_dir)
        self.store = ResultStore(self.out_dir / RESULTS_FILE)
        #: Per model name: the run's identity and id (what produced its results).
        self.identities = {name: run_identity(values, blank_frames=blank_frames, seed=seed,
                                              data=data_options)
                           for name, values in self._values.items()}
        self.runs = {name: run_id(identity) for name, identity in self.identities.items()}
        self.failures: list[str] = []
        self._load_backend = backend_loader
        for values in self._values.values():
            for name in self.strategies:
                settings.strategy_config({**values, 'strategy.name': name})
            settings.model_config(values)

    @property
    def total(self) -> int:
        """Number of results a complete run holds."""
        items = sum(min(len(d), self.limit) if self.limit else len(d) for d in self.datasets)
        return items * len(self.models) * len(self.strategies)

    @property
    def done(self) -> int:
        """Results of this run's data sets, models and strategies already in the results file.

        Other runs sharing the folder (another model, the blank-frame control) do not count.
        """
        datasets = {d.name for d in self.datasets}
        found = sum(1 for r in self.store.records if r['dataset'] in datasets
                    and self.runs.get(r['model']) == r.get('run')
                    and r['strategy'] in self.strategies)
        return min(found, self.total)

    def run(self, progress: bool = True) -> list[dict[str, Any]]:
        """Evaluate everything not yet in the results file; return all results.

        Raises:
            ResultsError: another evaluation is writing the output folder.
        """
        with self.locked():
            with tqdm(total=self.total, initial=self.done, unit='decision',
                      desc='evaluating', disable=not progress) as bar:
                for model in self.models:
                    self._run_model(model, bar)
        return self.store.records

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the output folder's lock, with this evaluation's runs recorded in runs.json.

        Raises:
            ResultsError: another evaluation is writing the folder.
        """
        with folder_lock(self.out_dir):
            record_runs(self.out_dir, {self.runs[name]: {'name': name, **identity}
                                       for name, identity in self.identities.items()})
            yield

    def model_run(self, model: ModelSpec) -> 'ModelRun':
        """What a worker needs to evaluate items for ``model`` (picklable)."""
        return ModelRun(model.name, self._values[model.name], self.runs[model.name], self.seed,
                        self.blank_frames, self.limit, self.batch_size)

    def _run_model(self, model: ModelSpec, bar: tqdm) -> None:
        run = self.model_run(model)
        backend = None  # loaded only if something is left to do for this model
        for dataset in self.datasets:
            if self.finished(dataset, model):
                continue  # not even replayed: reading a long recording takes a while
            for batch in run.batches(dataset):
                for strategy in self.strategies:
                    todo = [item for item in batch if self.key(
                        item.item_id, item.dataset, model, strategy) not in self.store]
                    if not todo:
                        continue
                    if backend is None:
                        bar.set_postfix_str(f'loading {model.name}')
                        backend = run.load(self._load_backend)
                    bar.set_postfix_str(f'{model.name} {strategy} {dataset.name}')
                    records, failures = run.evaluate_many(todo, strategy, backend)
                    for record in records:
                        self.store.append(record)
                    for message in failures:
                        self.fail(message)
                    bar.update(len(todo))
        if backend is not None:
            backend.close()

    def finished(self, dataset: Dataset, model: ModelSpec) -> bool:
        """Whether every item of ``dataset`` has a result for every strategy with ``model``."""
        return all(self.key(item_id, dataset.name, model, strategy) in self.store
                   for item_id in dataset.item_ids() for strategy in self.strategies)

    def key(self, item_id: str, dataset: str, model: ModelSpec,
            strategy: str) -> tuple[str, ...]:
        """The results-file key of one item, model and strategy in this evaluation."""
        return (dataset, item_id, model.name, strategy, self.runs[model.name])

    def fail(self, message: str) -> None:
        """Report a decision that failed; it is not recorded, so a rerun tries it again."""
        logger.error('skipped %s', message)
        self.failures.append(message)


@dataclasses.dataclass(frozen=True)
class ModelRun:
    """One model's run: how its items are read and decided, shared by local and Ray workers.

    Attributes:
        name: the model's name in results.
        values: its complete planner parameters.
        run: the run id (:mod:`.provenance`).
        seed: the evaluation seed.
        blank_frames: replace every frame by a grey one (the control).
        limit: most items per data set (0: all).
        batch_size: items asked together (see :meth:`evaluate_many`).
    """

    name: str
    values: dict[str, Any]
    run: str
    seed: int
    blank_frames: bool
    limit: int
    batch_size: int = 1

    def load(self, loader: Callable = load_backend) -> Any:
        """Load the model and check that it can be asked as configured."""
        backend = loader(settings.model_config(self.values))
        check_scoring(backend, self.values['strategy.scoring'])  # before any item
        return backend

    def items(self, dataset: Dataset) -> Iterable[EvalItem]:
        """The data set's items as evaluated: at most ``limit``, blanked for the control."""
        for count, item in enumerate(dataset.items(settings.keyframe_config(self.values))):
            if self.limit and count >= self.limit:
                return
            yield blanked(item) if self.blank_frames else item

    def batches(self, dataset: Dataset) -> Iterator[list[EvalItem]]:
        """The data set's items (see :meth:`items`) in batches of ``batch_size``."""
        batch: list[EvalItem] = []
        for item in self.items(dataset):
            batch.append(item)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def evaluate_many(self, items: Sequence[EvalItem], strategy: str,
                      backend: Any) -> tuple[list[dict[str, Any]], list[str]]:
        """Decide ``items`` with ``strategy``; return their records and failure messages.

        A strategy that batches (the base strategy) asks them in one call; the others decide
        them one by one, up to the backend's ``max_in_flight`` at once, each with its own seed.
        A batch that fails is asked again item by item, so one bad item fails alone.
        """
        config = settings.strategy_config({**self.values, 'strategy.name': strategy})
        method = make_strategy(config, settings.load_template(self.values))
        if len(items) > 1 and type(method).decide_many is not Strategy.decide_many:
            try:
                return self._batched(items, method, backend), []
            except VlmPlannerError as error:
                logger.info('a batch of %d items failed (%s); asking them one by one',
                            len(items), error)
        outcomes = in_flight(lambda item: self._attempt(item, strategy, backend), items,
                             backend.max_in_flight)
        return ([o for o in outcomes if isinstance(o, dict)],
                [o for o in outcomes if isinstance(o, str)])

    def _batched(self, items: Sequence[EvalItem], method: Strategy,
                 backend: Any) -> list[dict[str, Any]]:
        for item in items:  # each item's own candidates must make a library
            ActionLibrary(item.candidates, name=item.dataset)
        labels = {a.label: a for item in items for a in item.candidates}
        planner = Planner(backend, ActionLibrary(list(labels.values()), name='batch'), method)
        decisions = planner.decide_many([(item.goal, item.frames,
                                          [a.label for a in item.candidates]) for item in items])
        return [result_record(item, self.name, decision, self.run,
                              item_seed(self.seed, item, method.name))
                for item, decision in zip(items, decisions)]

    def _attempt(self, item: EvalItem, strategy: str, backend: Any) -> dict[str, Any] | str:
        """The item's record, or the message saying why it failed."""
        try:
            return self.evaluate(item, strategy, backend)
        except VlmPlannerError as error:
            return f'{item.dataset}/{item.item_id} {self.name} {strategy}: {error}'

    def evaluate(self, item: EvalItem, strategy: str, backend: Any) -> dict[str, Any]:
        """Decide ``item`` with ``strategy`` and return its result record.

        Raises:
            VlmPlannerError: the decision failed (the model, the prompt or the item).
        """
        config = settings.strategy_config({**self.values, 'strategy.name': strategy})
        seed = item_seed(self.seed, item, strategy)
        backend.reseed(seed)
        planner = Planner(backend, ActionLibrary(item.candidates, name=item.dataset),
                          make_strategy(config, settings.load_template(self.values)))
        decision = planner.decide(item.goal, item.frames,
                                  candidates=[a.label for a in item.candidates])
        return result_record(item, self.name, decision, self.run, seed)
