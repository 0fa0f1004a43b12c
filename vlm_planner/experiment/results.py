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

"""Read what an experiment's commands wrote back into numbers (:func:`collect`).

Accuracies come from the evaluators' ``results.jsonl`` with the evaluator's own statistics
(Wilson intervals, exact McNemar tests with the Holm correction, :mod:`vlm_planner.eval.metrics`);
learning curves from each run's ``training/metrics.jsonl``; distances from
``distance/distance.json``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from vlm_planner.data.names import dataset_names
from vlm_planner.eval import metrics
from vlm_planner.eval.results import ResultStore
from vlm_planner.eval.runner import RESULTS_FILE
from vlm_planner.experiment.plan import DOMAINS, Plan, RUNS, TRAIN_DATA
from vlm_planner.train.curves import METRICS_FILE

Record = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Accuracy:
    """Accuracy of one system on one data set, with its Wilson 95 % interval."""

    n: int
    correct: int
    accuracy: float
    low: float
    high: float
    chance: float

    @classmethod
    def of(cls, records: Sequence[Record]) -> Accuracy:
        """The accuracy of ``records``, which must be of one system."""
        summary = metrics.summarize(records)
        if len(summary) != 1:
            raise ValueError(f'expected the records of one system, got {len(summary)}')
        s = summary[0]
        return cls(s.n, s.correct, s.accuracy, s.ci_low, s.ci_high, s.chance)


@dataclasses.dataclass(frozen=True)
class Distance:
    """W1 between the training data and a test domain, with its bootstrap interval."""

    w1: float
    low: float | None
    high: float | None


@dataclasses.dataclass(frozen=True)
class Curve:
    """A run's learning curves: validation accuracy and training loss by step."""

    val: tuple[tuple[int, float], ...]
    loss: tuple[tuple[int, float], ...]
    chance: float | None


@dataclasses.dataclass(frozen=True)
class Results:
    """Everything the report shows.

    Attributes:
        domains: accuracy of each run (key) on each test domain (key).
        distances: W1 of each modality (visual, text) from the training data to each domain.
        curves: learning curves of each run.
        run_tests: per domain, the paired comparisons of the runs on it.
        blank: each run's in-domain accuracy with blank frames (the control).
        strategies: per model kind (trained, untrained), accuracy of each strategy.
        strategy_tests: per model kind, each strategy's paired comparison with ``base``.
    """

    domains: dict[str, dict[str, Accuracy]]
    distances: dict[str, dict[str, Distance]]
    curves: dict[str, Curve]
    run_tests: dict[str, list[metrics.Comparison]]
    blank: dict[str, Accuracy]
    strategies: dict[str, dict[str, Accuracy]]
    strategy_tests: dict[str, list[metrics.Comparison]]

    def drop(self, run: str, domain: str) -> float:
        """Accuracy lost by ``run`` from the training domain's test split to ``domain``."""
        return self.domains[run][DOMAINS[0].key].accuracy - self.domains[run][domain].accuracy


def collect(plan: Plan) -> Results:
    """Read the results of a finished experiment.

    Raises:
        ResultsError: a results file is damaged beyond its last line.
        FileNotFoundError: a step has not written its results yet.
    """
    domain_of = _domain_names(plan)
    domains: dict[str, dict[str, Accuracy]] = {}
    by_domain: dict[str, list[Record]] = {d.key: [] for d in DOMAINS}
    for run in RUNS:
        records = _records(plan.eval_dir(f'domains-{run.key}'))
        domains[run.key] = {}
        for domain in DOMAINS:
            mine = [r for r in records if domain_of.get(str(r['dataset'])) == domain.key]
            domains[run.key][domain.key] = Accuracy.of(mine)
            by_domain[domain.key] += mine
    strategies: dict[str, dict[str, Accuracy]] = {}
    strategy_tests: dict[str, list[metrics.Comparison]] = {}
    for kind in ('trained', 'untrained'):
        records = _records(plan.eval_dir(f'strategies-{kind}'))
        groups: dict[str, list[Record]] = {}
        for record in records:
            groups.setdefault(str(record['strategy']), []).append(record)
        strategies[kind] = {name: Accuracy.of(rows) for name, rows in groups.items()}
        strategy_tests[kind] = [c for c in metrics.paired_comparison(records)
                                if c.kind == 'strategy' and 'base' in (c.a, c.b)]
    return Results(
        domains=domains,
        distances=_distances(plan),
        curves={run.key: _curve(plan.path(run.path) / 'training' / METRICS_FILE) for run in RUNS},
        run_tests={key: [c for c in metrics.paired_comparison(rows) if c.kind == 'model']
                   for key, rows in by_domain.items()},
        blank={run.key: Accuracy.of(_records(plan.eval_dir(f'blank-{run.key}')))
               for run in RUNS},
        strategies=strategies, strategy_tests=strategy_tests)


def _domain_names(plan: Plan) -> dict[str, str]:
    """The name the evaluator gives each domain's data, mapped to the domain's key."""
    names = dataset_names([plan.path(d.data) for d in DOMAINS])
    return {name: domain.key for name, domain in zip(names, DOMAINS)}


def _records(folder: Path) -> list[dict[str, Any]]:
    path = folder / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f'{path} is missing: that evaluation has not run')
    return ResultStore(path).records


def _distances(plan: Plan) -> dict[str, dict[str, Distance]]:
    data = json.loads((plan.distance_dir / 'distance.json').read_text(encoding='utf-8'))
    name_of = {str(Path(d['path']).resolve()): d['name'] for d in data['datasets']}
    train = name_of[str(plan.path(TRAIN_DATA).resolve())]
    result: dict[str, dict[str, Distance]] = {'visual': {}, 'text': {}}
    for domain in DOMAINS:
        other = name_of[str(plan.path(domain.data).resolve())]
        pair = next(p for p in data['pairs'] if {p['a'], p['b']} == {train, other})
        for modality in result:
            estimate = pair[modality]
            result[modality][domain.key] = Distance(estimate['w1'], estimate['low'],
                                                    estimate['high'])
    return result


def _curve(path: Path) -> Curve:
    records = [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines()
               if line.strip()]
    val = tuple((int(r['step']), float(r['accuracy'])) for r in records
                if r.get('kind') == 'val' and r.get('accuracy') is not None)
    loss = tuple((int(r['step']), float(r['loss'])) for r in records if r.get('kind') == 'train')
    chance = next((float(r['chance']) for r in records
                   if r.get('kind') == 'val' and r.get('chance') is not None), None)
    return Curve(val, loss, chance)
