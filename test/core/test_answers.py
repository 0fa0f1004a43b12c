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

import pytest

from vlm_planner.core.answers import parse_answer

CANDIDATES = ['pick up the red block', 'put the held block in the bin', 'pick up the blue block']


@pytest.mark.parametrize('text, index, method', [
    ('Answer: (B)', 1, 'marker'),
    ('First I look. ... The answer is C.', 2, 'marker'),
    ('Answer: A. Wait, no. Answer: (C)', 2, 'marker'),
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
