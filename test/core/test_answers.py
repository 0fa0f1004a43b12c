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

"""Tests for parsing free-text answers."""

import time

import pytest

from vlm_planner.core.answers import parse_answer

CANDIDATES = ['pick up the red block', 'put the held block in the bin', 'pick up the blue block']


@pytest.mark.parametrize('text, index, method', [
    ('Answer: (B)', 1, 'marker'),
    ('First I look. ... The answer is C.', 2, 'marker'),
    ('Answer: A. Wait, no. Answer: (C)', 2, 'marker'),
    ('answer is: B', 1, 'marker'), ('Answer:C', 2, 'marker'), ('Answer - ( A )', 0, 'marker'),
    ('B', 1, 'letter'),
    ('(C) pick up the blue block', 2, 'letter'),
    ('A. pick', 0, 'letter'),
    ('We hold nothing, so pick up the blue block, then pick up the red block', 0, 'label'),
    ('Put the held block in the bin.', 1, 'label'),
    ('pick up the blu block', 2, 'fuzzy'),
])
def test_recognised_answers(text, index, method):
    parsed = parse_answer(text, CANDIDATES)
    assert (parsed.index, parsed.method) == (index, method)
    assert parsed.valid


@pytest.mark.parametrize('text', [
    '', 'no idea', 'A good plan is to think', 'the answer is a bit unclear', 'Answer: (D)',
    'answer: b'])
def test_unrecognised_answers_are_invalid_not_guessed(text):
    parsed = parse_answer(text, CANDIDATES)
    assert not parsed.valid
    assert parsed.index is None and parsed.method == 'invalid'


@pytest.mark.parametrize('text', [
    'do NOT put the held block in the bin',
    "Don't put the held block in the bin.",
    'I would not put the held block in the bin',
    'Never put the held block in the bin!',
    'Avoid: put the held block in the bin',
    'We should avoid to put the held block in the bin',
    'Rather than put the held block in the bin, think again.',
    'I would NOT choose Answer: (B)',
    'do not put the held blok in the bin',  # negated near-spelling
])
def test_a_negated_mention_never_selects_the_action_it_rejects(text):
    assert parse_answer(text, CANDIDATES).index != 1
    assert not parse_answer(text, CANDIDATES).valid


@pytest.mark.parametrize('text, index', [
    ("I'd put the held block in the bin, not pick up the red block.", 1),
    ("Don't pick up the red block; put the held block in the bin", 1),
    ('Do not wait. Answer: (A)', 0),
    ('It is not held yet, so pick up the red block', 0),
])
def test_negation_drops_only_the_mention_it_is_in_front_of(text, index):
    assert parse_answer(text, CANDIDATES).index == index


@pytest.mark.parametrize('text', [
    'open the drawer',
    'pick up the yellow block',  # shares all words but the colour with two candidates
    'pick up the green block',
    'put the held block in the box',
    'I pick up the blu block',  # an extra word is not a misspelling
    'pick blue block',
    'unpick up the red block',  # a prefix that reverses the verb is not a typo
])
def test_an_action_outside_the_candidates_is_invalid_not_the_nearest_candidate(text):
    parsed = parse_answer(text, CANDIDATES)
    assert parsed.index is None and parsed.method == 'invalid'


def test_fuzzy_match_needs_one_unique_near_spelling():
    colours = ['pick up the red block', 'pick up the rad block']
    assert parse_answer('pick up the rod block', colours).index is None  # near both
    assert parse_answer('pick up red block', CANDIDATES).index == 0  # article left out
    assert parse_answer('pickup the red block', CANDIDATES).index == 0
    assert parse_answer('Final answer: put the held blok in the bin', CANDIDATES).index == 1


def test_labels_match_whole_words_only():
    labels = ['wait', 'pick up the red block']
    assert parse_answer('I am waiting for nothing, so pick up the red block', labels).index == 1
    assert parse_answer('waiting', labels).index is None


@pytest.mark.timeout(10)
@pytest.mark.parametrize('text', [
    'The answer' + ' ' * 3000, 'answer is' + '\n' * 3000 + '(', 'Answer:' + '\t' * 3000 + '-'],
    ids=['spaces', 'newlines', 'tabs'])
def test_blank_runs_after_answer_cost_linear_time(text):
    # The marker pattern once backtracked polynomially here: hours for a few thousand blanks.
    start = time.perf_counter()
    assert parse_answer(text, CANDIDATES).index is None
    assert time.perf_counter() - start < 1.0


def test_a_huge_reply_is_read_from_its_end_in_bounded_time():
    start = time.perf_counter()
    noise = 'blah ' * 400_000 + 'Answer: (C)'
    assert parse_answer(noise, CANDIDATES).index == 2
    assert parse_answer('x' * 2_000_000, CANDIDATES).index is None
    assert parse_answer('pick up the blu block\n' * 50_000, CANDIDATES).index == 2
    assert parse_answer('pick up the blu block ' * 50_000, CANDIDATES).index is None  # one line
    assert time.perf_counter() - start < 5.0
