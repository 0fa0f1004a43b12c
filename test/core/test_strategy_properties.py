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

"""Property-based tests: whatever a model replies, a decision is a candidate action or none.

Random and adversarial replies (random unicode, actions outside the candidates, negated
candidates, answer letters out of range, long runs of blanks, huge texts) and random scores go
through every registered strategy with both scorings and both ``on_invalid`` settings, via a
scripted backend.
"""

import json

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np

from test.core.scripted_backend import ScriptedBackend
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.core.planner import Planner
from vlm_planner.core.strategies import ON_INVALID, SCORINGS, StrategyConfig, make_strategy
from vlm_planner.core.strategies import strategy_names

LIBRARY = ActionLibrary([Action(label) for label in (
    'pick up the red block', 'pick up the blue block', 'pick up the green block',
    'put the held block in the bin', 'wait')])
FOREIGN = ('open the drawer', 'pick up the yellow block', 'put the held block in the box',
           'pick up the bin', 'throw the red block', 'wave', 'pick up the white block')
NEGATIONS = ('do NOT', "don't", 'I would not', 'never', 'avoid', 'rather than', 'we must not',
             'Do not', 'I won\u2019t')
FRAMES = [Frame(np.zeros((8, 8, 3), np.uint8), 0.0), Frame(np.zeros((8, 8, 3), np.uint8), 1.0)]
# Derandomized (the same examples on every run) and bounded, so the suite stays fast.
PROPERTY = settings(derandomize=True, max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

labels = st.sampled_from(LIBRARY.labels)
foreign = st.sampled_from(FOREIGN)
negated_label = st.builds(lambda neg, label: f'{neg} {label}', st.sampled_from(NEGATIONS), labels)
letter = st.sampled_from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcz')
marker = st.builds(lambda form, x: form.format(x), st.sampled_from(
    ('Answer: ({})', 'The answer is {}', '{}', '({}) do it', 'answer: {}.')), letter)
huge = st.builds(lambda text, n: text * n, st.text(min_size=1, max_size=12),
                 st.integers(1_000, 40_000))
typo = st.builds(lambda label, i: label[:i] + label[i + 1:], labels, st.integers(0, 20))
blanks = st.builds(lambda word, blank, n: word + blank * n, st.sampled_from(('answer', 'Answer:')),
                   st.sampled_from(' \n\t'), st.integers(100, 3000))
piece = st.one_of(st.text(max_size=80), labels, foreign, negated_label, marker, typo, blanks,
                  st.sampled_from(('\n', ', ', '. ', '; ', ' not ', ' but ', ' so ', '\u2019')))
reply = st.one_of(st.lists(piece, max_size=8).map(''.join), huge, st.text())
probs = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6)


@st.composite
def cases(draw, names=None):
    """One strategy setting, candidate subset, scripted scores and replies."""
    name = draw(st.sampled_from(names or strategy_names()))
    config = StrategyConfig(name=name, samples=draw(st.integers(1, 4)),
                            scoring=draw(st.sampled_from(SCORINGS)),
                            on_invalid=draw(st.sampled_from(ON_INVALID)), max_new_tokens=16)
    candidates = draw(st.lists(labels, min_size=1, max_size=len(LIBRARY), unique=True))
    backend = ScriptedBackend(probs=draw(st.lists(probs, min_size=1, max_size=3)),
                              continuation_probs=draw(st.lists(probs, min_size=1, max_size=3)),
                              replies=draw(st.lists(reply, min_size=1, max_size=4)))
    return config, candidates, backend


@PROPERTY
@given(case=cases(), min_confidence=st.floats(0.0, 1.0))
def test_every_strategy_decides_a_candidate_or_no_action(case, min_confidence):
    config, candidates, backend = case
    planner = Planner(backend, LIBRARY, make_strategy(config), min_confidence=min_confidence,
                      max_rationale_chars=500)
    decision = planner.decide('tidy up the table', FRAMES, candidates=candidates)
    assert decision.candidates == tuple(candidates)
    if decision.needs_help:
        assert decision.action == '' and decision.index is None and not decision.accepted
        assert decision.needs_help_reason
    else:
        assert decision.action in candidates
        assert decision.candidates[decision.index] == decision.action
    assert 0.0 <= decision.confidence <= 1.0
    assert decision.accepted == (not decision.needs_help
                                 and decision.confidence >= min_confidence)
    assert len(decision.rationale) <= 500
    json.dumps(decision.to_record(), allow_nan=False)


rejected_only = st.lists(st.one_of(foreign, negated_label), min_size=1, max_size=3).map(
    '. '.join)


@PROPERTY
@given(case=cases(names=['cot', 'consistency']), text=rejected_only)
def test_a_reply_naming_only_foreign_or_rejected_actions_never_becomes_an_action(case, text):
    config, candidates, backend = case
    backend.replies = [text]
    config = StrategyConfig(name=config.name, samples=config.samples, scoring=config.scoring,
                            on_invalid='no_action')
    decision = Planner(backend, LIBRARY, make_strategy(config)).decide(
        'tidy up the table', FRAMES, candidates=candidates)
    assert decision.needs_help and decision.action == '' and not decision.accepted
