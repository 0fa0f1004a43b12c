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

"""Validation scores decisions as eval does; the item store gives back what was replayed."""

from __future__ import annotations

import pytest

from test.core.scripted_backend import ScriptedBackend
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.prompts import PromptTemplate
from vlm_planner.core.strategies import StrategyConfig
from vlm_planner.data.episodes import load_dataset
from vlm_planner.errors import InferenceError
from vlm_planner.train.curves import loss_scale, MetricsLog, plot_curves
from vlm_planner.train.store import ItemStore
from vlm_planner.train.validation import validate

KEYFRAMES = KeyframeConfig(max_count=2)


@pytest.fixture
def store(colour_data, tmp_path):
    store = ItemStore(tmp_path / 'val')
    store.write(load_dataset(colour_data['val']).items(KEYFRAMES), progress=False)
    return store


def test_the_store_returns_the_replayed_items(colour_data, store):
    items = list(load_dataset(colour_data['val']).items(KEYFRAMES))

    assert store.complete and len(store) == len(items) == 12
    for index, item in enumerate(items):
        back = store[index]
        assert (back.item_id, back.goal, back.candidates, back.answer, back.decision_time) == (
            item.item_id, item.goal, item.candidates, item.answer, item.decision_time)
        assert [(f.stamp, f.image.tobytes()) for f in back.frames] == [
            (f.stamp, f.image.tobytes()) for f in item.frames]
    assert store.counts() == {'val': 12}


class FailingOnce(ScriptedBackend):
    """Prefers the first candidate; the second question fails."""

    def score_continuations(self, messages, continuations):
        if len(self.continuation_calls) == 1:
            self.continuation_calls.append(None)
            raise InferenceError('the processor rejected the prompt')
        return super().score_continuations(messages, continuations)


def test_validation_scores_decisions_and_leaves_failed_items_out(store):
    backend = FailingOnce(continuation_probs=[0.7, 0.1, 0.1, 0.1])
    result = validate(backend, store, StrategyConfig(scoring='likelihood'),
                      PromptTemplate.default())

    expected = [store[i].answer == 0 for i in range(len(store)) if i != 1]
    assert result.items == 11 and len(result.failures) == 1 and 'rejected' in result.failures[0]
    assert result.accuracy == pytest.approx(sum(expected) / 11)
    assert result.chance == 0.25
    assert [r['predicted'] for r in result.records] == [0] * 11
    assert validate(backend, store, StrategyConfig(scoring='likelihood'),
                    PromptTemplate.default(), limit=3).items == 3


def test_a_resumed_log_drops_later_steps_and_plots(tmp_path):
    log = MetricsLog(tmp_path / 'metrics.jsonl')
    for step in range(1, 6):
        log.append({'kind': 'train', 'step': step, 'loss': 1.0 / step})
    log.append({'kind': 'val', 'step': 5, 'accuracy': 0.5, 'chance': 0.25, 'items': 4})
    log.truncate(3)

    assert [r['step'] for r in log.records()] == [1, 2, 3]
    assert plot_curves(log.records(), tmp_path / 'curves.png').stat().st_size > 1000


def test_a_loss_that_falls_by_orders_of_magnitude_is_drawn_on_a_log_scale():
    assert loss_scale([10.7, 1.4, 0.17, 0.08]) == 'log'  # the late steps would be a flat line
    assert loss_scale([0.9, 0.5, 0.2]) == 'linear'
    assert loss_scale([0.0, 0.0]) == 'linear'
