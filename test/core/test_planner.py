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
from vlm_planner.core.planner import Planner, bound_text
from vlm_planner.core.prompts import PromptTemplate
from vlm_planner.core.strategies import Strategy, StrategyConfig, StrategyResult, make_strategy
from vlm_planner.errors import ConfigError, UnknownActionError

LIBRARY = ActionLibrary([Action('Pick up the red block'), Action('put it in the bin'),
                         Action('wait')])


def frames(*stamps):
    return [Frame(np.zeros((8, 8, 3), np.uint8), s) for s in stamps]


def planner(probs, min_confidence=0.0, name='base', on_invalid='no_action', planner_kwargs=None,
            **backend_kwargs):
    backend = ScriptedBackend(probs=probs, **backend_kwargs)
    strategy = make_strategy(StrategyConfig(name=name, on_invalid=on_invalid))
    return Planner(backend, LIBRARY, strategy, min_confidence=min_confidence,
                   **(planner_kwargs or {})), backend


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


def test_free_text_strategies_fall_back_to_a_library_label_when_asked():
    plan, _ = planner([0.0, 0.0, 1.0], name='cot', on_invalid='fallback',
                      replies=['jump over the moon'])
    decision = plan.decide('g', frames(0.0))
    assert decision.action in LIBRARY and decision.invalid_answers == 1
    assert not decision.needs_help


@pytest.mark.parametrize('name, reply', [
    ('cot', 'jump over the moon'), ('cot', 'do NOT put it in the bin'),
    ('cot', 'pick up the yellow block'), ('consistency', 'Answer: (Z)')])
def test_an_answer_naming_no_candidate_ends_as_no_action_that_needs_help(name, reply):
    plan, _ = planner([0.0, 1.0, 0.0], name=name, replies=[reply])
    decision = plan.decide('g', frames(0.0))
    assert decision.needs_help and decision.needs_help_reason
    assert decision.action == '' and decision.index is None
    assert decision.confidence == 0.0 and not decision.accepted
    record = json.loads(json.dumps(decision.to_record()))
    assert record['index'] is None and record['needs_help'] is True


def test_a_parsed_answer_the_scores_doubt_is_held_back_by_min_confidence():
    plan, _ = planner([0.7, 0.2, 0.1], min_confidence=0.5, name='cot',
                      replies=['Answer: (B)'])
    decision = plan.decide('g', frames(0.0))
    assert decision.action == 'put it in the bin' and decision.confidence == pytest.approx(0.2)
    assert not decision.accepted and not decision.needs_help


def test_rationale_is_bounded_with_a_marker():
    reply = 'x' * 50_000 + ' Answer: (A)'
    plan, _ = planner([1.0, 0.0, 0.0], name='cot', replies=[reply],
                      planner_kwargs={'max_rationale_chars': 300})
    decision = plan.decide('g', frames(0.0))
    assert len(decision.rationale) <= 300
    assert 'characters cut' in decision.rationale
    assert decision.rationale.endswith('Answer: (A)') and decision.action == LIBRARY[0].label
    default, _ = planner([1.0, 0.0, 0.0], name='cot', replies=[reply])
    assert len(default.decide('g', frames(0.0)).rationale) <= 2000
    with pytest.raises(ConfigError, match='max_rationale_chars'):
        planner([1.0], planner_kwargs={'max_rationale_chars': -1})


class _Rogue(Strategy):
    name = 'rogue'

    def __init__(self, index, confidence):
        super().__init__(StrategyConfig(), PromptTemplate.default())
        self.result = StrategyResult(index, confidence)

    def decide(self, backend, question):
        return self.result


@pytest.mark.parametrize('index, confidence', [(7, 0.9), (-1, 0.9), (True, 0.9)])
def test_a_strategy_index_outside_the_candidates_becomes_no_action(index, confidence):
    decision = Planner(ScriptedBackend(), LIBRARY, _Rogue(index, confidence)).decide(
        'g', frames(0.0))
    assert decision.needs_help and decision.action == '' and not decision.accepted
    assert 'names none of the 3 candidates' in decision.needs_help_reason


@pytest.mark.parametrize('confidence, expected', [(1.5, 1.0), (-0.1, 0.0), (float('nan'), 0.0)])
def test_a_confidence_outside_0_1_is_clamped(confidence, expected):
    decision = Planner(ScriptedBackend(), LIBRARY, _Rogue(0, confidence)).decide(
        'g', frames(0.0))
    assert decision.confidence == expected and decision.action == LIBRARY[0].label


def test_missing_inputs_and_bad_threshold():
    plan, _ = planner([1.0])
    with pytest.raises(ValueError, match='camera frame'):
        plan.decide('g', [])
    with pytest.raises(ValueError, match='goal'):
        plan.decide('  ', frames(0.0))
    with pytest.raises(ConfigError, match='min_confidence'):
        Planner(ScriptedBackend(), LIBRARY, make_strategy(StrategyConfig()), min_confidence=2)


@pytest.mark.parametrize('size, limit', [(10, 10), (11, 10), (5000, 64), (5000, 40), (10**6, 2000),
                                         (100, 0)])
def test_bound_text_never_exceeds_the_limit_and_keeps_both_ends(size, limit):
    text = 'S' + 'x' * (size - 2) + 'E'
    bounded = bound_text(text, limit)
    assert len(bounded) <= limit
    if size <= limit:
        assert bounded == text
    elif limit >= 64:
        head, rest = bounded.split(' [... ')
        count, tail = rest.split(' characters cut ...] ')
        assert head.startswith('S') and tail.endswith('E')
        assert len(head) + int(count) + len(tail) == size


def test_the_decision_names_what_the_model_was_trained_on():
    from vlm_planner.models.model_card import ModelCard
    plan, backend = planner([0.2, 0.7, 0.1])
    backend.card = ModelCard(trained_on='tabletop episodes, ' + 'x' * 1000)
    decision = plan.decide('put it away', frames(0.0))
    assert decision.trained_on.startswith('tabletop episodes') and len(decision.trained_on) <= 300
    assert decision.untrained is False and json.loads(json.dumps(decision.to_record()))
