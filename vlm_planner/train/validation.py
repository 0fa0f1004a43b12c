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

"""Validation during fine-tuning, by the evaluator's own rules.

Each validation item is decided by :meth:`~vlm_planner.core.planner.Planner.decide` on the model
being trained (wrapped as a :class:`~vlm_planner.models.hf.TransformersBackend`), with the
strategy, scoring and prompt the trained model will be deployed with, and recorded as
``vlm-planner eval`` records it (:func:`vlm_planner.eval.runner.result_record`). So the accuracy
on the curve is the accuracy ``eval`` reports for the saved model on the same items.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.planner import Planner
from vlm_planner.core.prompts import PromptTemplate
from vlm_planner.core.strategies import make_strategy, StrategyConfig
from vlm_planner.errors import VlmPlannerError
from vlm_planner.eval.runner import result_record
from vlm_planner.models.base import VLMBackend
from vlm_planner.train.store import ItemStore

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Validation:
    """The outcome of one validation.

    Attributes:
        accuracy: share of the decided items decided correctly.
        items: items decided.
        chance: the accuracy of a uniform random choice on these items.
        records: one ``results.jsonl`` record per item, as ``vlm-planner eval`` writes them.
        failures: the items the model could not decide (as ``eval``, they are left out).
    """

    accuracy: float
    items: int
    chance: float
    records: list[dict[str, Any]]
    failures: list[str] = dataclasses.field(default_factory=list)


def validate(backend: VLMBackend, store: ItemStore, strategy: StrategyConfig,
             template: PromptTemplate, *, limit: int = 0) -> Validation:
    """Decide the first ``limit`` items of ``store`` (0: all) and score the decisions.

    Args:
        backend: the model, in evaluation mode.
        store: the validation items.
        strategy: the strategy settings the model will be deployed with.
        template: the prompt wording it will be deployed with.
        limit: most items (0: all).
    """
    count = min(len(store), limit) if limit else len(store)
    asker = make_strategy(strategy, template)
    records = []
    failures = []
    for index in range(count):
        item = store[index]
        labels = [action.label for action in item.candidates]
        planner = Planner(backend, ActionLibrary(item.candidates, name=item.dataset), asker)
        try:
            decision = planner.decide(item.goal, item.frames, candidates=labels)
        except VlmPlannerError as error:  # as eval does: the item is skipped and reported
            logger.error('validation skipped %s/%s: %s', item.dataset, item.item_id, error)
            failures.append(f'{item.dataset}/{item.item_id}: {error}')
            continue
        records.append(result_record(item, backend.name, decision))
    decided = len(records)
    correct = sum(record['correct'] for record in records)
    chance = sum(1 / len(record['candidates']) for record in records)
    return Validation(accuracy=correct / decided if decided else 0.0, items=decided,
                      chance=chance / decided if decided else 0.0, records=records,
                      failures=failures)
