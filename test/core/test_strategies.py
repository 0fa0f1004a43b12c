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

"""Tests for the shipped prompting strategies, against a scripted backend."""

import numpy as np
import pytest

from test.core.scripted_backend import ScriptedBackend, message_text
from vlm_planner.core.frames import Frame
from vlm_planner.core.prompts import PlanningQuestion
from vlm_planner.core.strategies import StrategyConfig, make_strategy
from vlm_planner.errors import ConfigError, InferenceError

QUESTION = PlanningQuestion(
    goal='put the red block in the bin', history=(),
    current=Frame(np.zeros((8, 8, 3), np.uint8), 0.0),
    candidates=('pick up the red block', 'put the held block in the bin', 'wait'))


def decide(name, backend, **kwargs):
    return make_strategy(StrategyConfig(name=name, **kwargs)).decide(backend, QUESTION)


def test_base_takes_most_probable_letter_in_one_pass():
    backend = ScriptedBackend(probs=[0.2, 0.7, 0.1])
    result = decide('base', backend)
    assert result.index == 1
    assert result.confidence == pytest.approx(0.7)
    assert result.scores == pytest.approx([0.2, 0.7, 0.1])
    assert len(backend.score_calls) == 1 and not backend.generate_calls
    assert 'Answer with the letter' in message_text(backend.score_calls[0])


def test_cot_asks_to_think_and_parses_the_reasoned_answer():
    backend = ScriptedBackend(probs=[0.9, 0.05, 0.05],
                              replies=['Nothing is held yet. Answer: (A)'])
    result = decide('cot', backend)
    assert result.index == 0 and result.answer_method == 'marker'
    assert result.rationale.startswith('Nothing is held')
    assert result.invalid_answers == 0 and result.tokens > 0
    assert 'Think step by step' in message_text(backend.generate_calls[0][0])


def test_cot_confidence_is_the_scored_probability_of_the_parsed_answer_after_the_reasoning():
    backend = ScriptedBackend(probs=[0.1, 0.3, 0.6], replies=['So: Answer: (B)'])
    result = decide('cot', backend)
    # The parsed answer stands; the scorer's doubt about it is its confidence.
    assert result.index == 1 and result.confidence == pytest.approx(0.3)
    assert result.scores == pytest.approx([0.1, 0.3, 0.6])
    [followup] = backend.score_calls
    assert followup[-2].role == 'assistant' and followup[-2].content[0].text == 'So: Answer: (B)'
    assert 'Answer with the letter' in message_text(followup[-1:])


def test_cot_with_likelihood_scoring_scores_labels_after_the_reasoning():
    backend = ScriptedBackend(continuation_probs=[0.7, 0.2, 0.1],
                              replies=['I would pick up the red block'])
    result = decide('cot', backend, scoring='likelihood')
    assert result.index == 0 and result.confidence == pytest.approx(0.7)
    assert result.answer_method == 'label' and not backend.score_calls
    [(messages, continuations)] = backend.continuation_calls
    assert messages[-2].content[0].text == 'I would pick up the red block'


def test_cot_unparseable_reply_ends_without_an_action_by_default():
    backend = ScriptedBackend(probs=[0.1, 0.1, 0.8], replies=['hmm, blocks everywhere'])
    result = decide('cot', backend)
    assert result.index is None and result.confidence == 0.0
    assert result.invalid_answers == 1 and result.answer_method == 'no action'
    assert 'named no candidate' in result.reason
    assert result.scores == pytest.approx([0.1, 0.1, 0.8])  # kept for the record


def test_cot_fallback_counts_an_unparseable_reply_and_scores_letters_after_it():
    backend = ScriptedBackend(probs=[0.1, 0.1, 0.8], replies=['hmm, blocks everywhere'])
    result = decide('cot', backend, on_invalid='fallback')
    assert result.invalid_answers == 1
    assert result.index == 2 and result.answer_method == 'scored after reasoning'
    assert result.confidence == pytest.approx(0.8)
    followup = backend.score_calls[0]
    assert followup[-2].role == 'assistant' and followup[-2].content[0].text == (
        'hmm, blocks everywhere')


@pytest.mark.parametrize('reply', ['do NOT put the held block in the bin',
                                   'put the held bloc in the bin? No: open the drawer'])
def test_cot_never_takes_a_rejected_or_foreign_action(reply):
    backend = ScriptedBackend(probs=[0.1, 0.8, 0.1], replies=[reply])
    assert decide('cot', backend).index is None


def test_reflect_shows_first_answer_and_takes_second_pass():
    backend = ScriptedBackend(probs=[[0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    result = decide('reflect', backend)
    assert result.index == 1 and result.confidence == pytest.approx(0.8)
    second = backend.score_calls[1]
    assert 'You answered (A) pick up the red block' in message_text(second)
    assert 'revised to (B)' in result.rationale


def test_reflect_can_keep_its_answer():
    result = decide('reflect', ScriptedBackend(probs=[0.1, 0.1, 0.8]))
    assert result.index == 2 and 'kept' in result.rationale


class _CannotScore(ScriptedBackend):
    """A model server without logprobs: it generates but cannot score."""

    def score_letters(self, messages, letters):
        raise InferenceError('the model server returned no logprobs')


def test_cot_on_a_backend_that_cannot_score_keeps_the_answer_with_zero_confidence():
    result = decide('cot', _CannotScore(replies=['Answer: (B)']))
    assert result.index == 1 and result.confidence == 0.0
    assert result.answer_method == 'marker, not scored' and result.scores is None
    assert decide('cot', _CannotScore(replies=['hmm'])).index is None
    with pytest.raises(InferenceError, match='logprobs'):
        decide('cot', _CannotScore(replies=['hmm']), on_invalid='fallback')


def test_consistency_samples_in_one_batch_and_votes():
    replies = ['Answer: (B)', 'Answer: (C)', 'I would put the held block in the bin', 'nonsense',
               'Answer: (C)', 'B']
    backend = ScriptedBackend(replies=replies)
    result = decide('consistency', backend, samples=6, temperature=0.9)
    assert len(backend.generate_calls) == 1
    assert backend.generate_calls[0][1:] == (6, 0.9)
    assert result.votes == [0, 3, 2]
    assert result.index == 1 and result.confidence == pytest.approx(3 / 6)
    assert result.invalid_answers == 1 and result.answer_method == 'vote'


def test_consistency_tie_goes_to_earlier_option():
    backend = ScriptedBackend(replies=['Answer: (C)', 'Answer: (A)'])
    assert decide('consistency', backend, samples=2).index == 0


def test_consistency_counts_invalid_samples_in_the_vote_share():
    backend = ScriptedBackend(replies=['Answer: (A)', 'no idea', 'do not wait', '??'])
    result = decide('consistency', backend, samples=4)
    assert result.index == 0 and result.confidence == pytest.approx(1 / 4)
    assert result.invalid_answers == 3


def test_consistency_with_no_valid_sample_ends_without_an_action_by_default():
    backend = ScriptedBackend(probs=[0.1, 0.2, 0.7], replies=['??'])
    result = decide('consistency', backend, samples=3)
    assert result.index is None and result.confidence == 0.0
    assert result.votes == [0, 0, 0] and result.invalid_answers == 3
    assert 'none of 3 samples' in result.reason
    assert not backend.score_calls


def test_consistency_with_no_valid_sample_falls_back_to_scoring_and_says_so():
    backend = ScriptedBackend(probs=[0.1, 0.2, 0.7], replies=['??'])
    result = decide('consistency', backend, samples=3, on_invalid='fallback')
    assert result.index == 2 and result.invalid_answers == 3
    assert result.votes == [0, 0, 0]
    assert 'no sample was valid' in result.answer_method


def test_likelihood_scoring_scores_whole_labels_and_asks_for_the_action():
    backend = ScriptedBackend(continuation_probs=[0.05, 0.01, 0.2])
    result = decide('base', backend, scoring='likelihood')
    assert result.index == 2
    assert sum(result.scores) == pytest.approx(1.0)
    assert result.confidence == pytest.approx(0.2 / 0.26)
    [(messages, continuations)] = backend.continuation_calls
    assert continuations == list(QUESTION.candidates)
    assert message_text(messages).endswith('in the words of the options.')
    assert not backend.score_calls


def test_reflect_with_likelihood_scoring_uses_it_in_both_passes():
    backend = ScriptedBackend(continuation_probs=[0.3, 0.2, 0.1])
    assert decide('reflect', backend, scoring='likelihood').index == 0
    assert len(backend.continuation_calls) == 2 and not backend.score_calls


@pytest.mark.parametrize('kwargs, message', [
    ({'scoring': 'vibes'}, 'scoring'),
    ({'name': 'tot'}, "strategy.name is 'tot'; choose one of base, cot, reflect, consistency"),
    ({'name': 'consistency', 'temperature': 0}, 'temperature'),
    ({'samples': 0}, 'samples'), ({'max_new_tokens': 0}, 'max_new_tokens'),
    ({'on_invalid': 'guess'}, 'on_invalid'), ({'samples': 2.5}, 'samples must be a int')])
def test_bad_strategy_config_is_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        StrategyConfig(**kwargs)


def test_scores_of_the_wrong_size_or_not_finite_are_handled():
    class Broken(ScriptedBackend):
        def score_letters(self, messages, letters):
            return np.array([0.1, 0.2])

    with pytest.raises(InferenceError, match='2 scores for 3 options'):
        decide('base', Broken())

    class NotFinite(ScriptedBackend):
        def score_letters(self, messages, letters):
            return np.array([np.nan, np.inf, -np.inf])

    result = decide('base', NotFinite())
    assert result.index == 1 and 0.0 <= result.confidence <= 1.0
    assert np.isfinite(result.scores).all()


def test_the_strategy_parameters_are_declared_on_the_config_once():
    from vlm_planner.params import params_of

    table = {p.name: p for p in params_of(StrategyConfig, 'strategy.')}
    assert set(table) == {'strategy.' + f for f in (
        'name', 'samples', 'temperature', 'max_new_tokens', 'scoring', 'on_invalid')}
    assert table['strategy.on_invalid'].default == 'no_action'
    assert table['strategy.on_invalid'].choices == ('no_action', 'fallback')
    assert table['strategy.name'].choices == ('base', 'cot', 'reflect', 'consistency')
    assert all(p.dynamic for p in table.values())
