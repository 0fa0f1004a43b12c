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

"""Tests for the planner's decision step."""

import json

import numpy as np
import pytest

from test.core.scripted_backend import ScriptedBackend
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.core.planner import Planner
from vlm_planner.core.strategies import StrategyConfig, make_strategy
from vlm_planner.errors import ConfigError, UnknownActionError

LIBRARY = ActionLibrary([Action('Pick up the red block'), Action('put it in the bin'),
                         Action('wait')])


def frames(*stamps):
    return [Frame(np.zeros((8, 8, 3), np.uint8), s) for s in stamps]


def planner(probs, min_confidence=0.0, name='base', **backend_kwargs):
    backend = ScriptedBackend(probs=probs, **backend_kwargs)
    return Planner(backend, LIBRARY, make_strategy(StrategyConfig(name=name)),
                   min_confidence=min_confidence), backend


def test_decision_is_a_library_label_with_full_record():
    plan, backend = planner([0.1, 0.8, 0.1])
    decision = plan.decide('tidy up', frames(1.0, 2.0, 3.5))
    assert decision.action == 'put it in the bin' and decision.index == 1
    assert decision.stamp == 3.5 and decision.keyframe_stamps == (1.0, 2.0, 3.5)
    assert decision.accepted and decision.strategy == 'base' and decision.model == 'scripted'
    record = json.loads(json.dumps(decision.to_record()))
    assert record['candidates'] == LIBRARY.labels
    assert record['scores'] == pytest.approx([0.1, 0.8, 0.1])
    assert record['latency_s'] >= 0
    # The history goes to the model as video, the last frame as the current observation.
    [message] = backend.score_calls[0]
    assert len(message.content[1].frames) == 2


def test_candidates_subset_is_mapped_back_to_canonical_labels():
    plan, _ = planner([0.2, 0.8])
    decision = plan.decide('g', frames(0.0), candidates=['WAIT', 'pick up the red block'])
    assert decision.action == 'Pick up the red block'
    assert decision.candidates == ('wait', 'Pick up the red block')


def test_candidate_outside_library_is_refused():
    plan, _ = planner([1.0])
    with pytest.raises(UnknownActionError, match='fly away'):
        plan.decide('g', frames(0.0), candidates=['fly away'])


def test_low_confidence_decision_is_not_accepted():
    plan, _ = planner([0.4, 0.35, 0.25], min_confidence=0.5)
    decision = plan.decide('g', frames(0.0))
    assert decision.action == 'Pick up the red block' and not decision.accepted


def test_free_text_strategies_still_end_in_a_library_label():
    plan, _ = planner([0.0, 0.0, 1.0], name='cot', replies=['jump over the moon'])
    decision = plan.decide('g', frames(0.0))
    assert decision.action in LIBRARY and decision.invalid_answers == 1


def test_missing_inputs_and_bad_threshold():
    plan, _ = planner([1.0])
    with pytest.raises(ValueError, match='camera frame'):
        plan.decide('g', [])
    with pytest.raises(ValueError, match='goal'):
        plan.decide('  ', frames(0.0))
    with pytest.raises(ConfigError, match='min_confidence'):
        Planner(ScriptedBackend(), LIBRARY, make_strategy(StrategyConfig()), min_confidence=2)
