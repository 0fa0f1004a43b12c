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

"""Tests for building the planning prompt."""

import dataclasses

import numpy as np
import pytest

from vlm_planner.core.chat import ImagePart, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.core.prompts import (PlanningQuestion, PromptTemplate, build_messages,
                                      reflection_messages)
from vlm_planner.errors import ConfigError


def frame(stamp):
    return Frame(np.zeros((8, 8, 3), np.uint8), stamp)


QUESTION = PlanningQuestion(goal='put the red block in the bin', history=(frame(1.0), frame(4.5)),
                            current=frame(6.0), candidates=('pick up the red block', 'wait'))


def test_default_prompt_follows_egoplan_and_orders_video_image_text():
    template = PromptTemplate.default()
    [message] = build_messages(template, QUESTION, template.answer_instruction)
    kinds = [type(p) for p in message.content]
    assert kinds == [TextPart, VideoPart, TextPart, ImagePart, TextPart]
    assert message.content[1].frames == QUESTION.history
    assert message.content[3].frame is QUESTION.current
    assert '-5.0 s, -1.5 s' in message.content[0].text
    question = message.content[-1].text
    assert 'My current task is to put the red block in the bin. What should be my next action?' \
        in question
    assert '(A) pick up the red block\n(B) wait' in question
    assert question.endswith(template.answer_instruction)


def test_without_history_there_is_no_video():
    template = PromptTemplate.default()
    question = PlanningQuestion('g', (), frame(0.0), ('a',))
    [message] = build_messages(template, question, 'x')
    assert not any(isinstance(p, VideoPart) for p in message.content)


def test_empty_progress_wording_sends_only_the_current_observation():
    template = dataclasses.replace(PromptTemplate.default(), progress='')
    [message] = build_messages(template, QUESTION, template.answer_instruction)
    assert [type(p) for p in message.content] == [TextPart, ImagePart, TextPart]
    assert message.content[1].frame is QUESTION.current


def test_user_template_overrides_only_given_fields_and_system_message(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text("question: 'Goal: {goal}. Next?'\nsystem: 'You are a robot.'\n")
    template = PromptTemplate.from_yaml(path)
    messages = build_messages(template, QUESTION, template.answer_instruction)
    assert messages[0].role == 'system' and messages[0].content[0].text == 'You are a robot.'
    assert 'Goal: put the red block in the bin. Next?' in messages[1].content[-1].text
    assert template.choice == PromptTemplate.default().choice


def test_reflection_shows_first_answer_back():
    template = PromptTemplate.default()
    messages = reflection_messages(template, QUESTION, 1, 'Letter only.')
    assert [m.role for m in messages] == ['user', 'assistant', 'user']
    assert messages[1].content[0].text == '(B) wait'
    assert 'You answered (B) wait.' in messages[2].content[0].text
    assert messages[2].content[0].text.endswith('Letter only.')


@pytest.mark.parametrize('content, message', [
    ('questionn: x', 'unknown fields'), ('question: [1, 2]', 'must be text'),
    ('- a list', 'must be a mapping')])
def test_bad_templates_are_rejected(tmp_path, content, message):
    path = tmp_path / 'p.yaml'
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        PromptTemplate.from_yaml(path)


def test_missing_template_file_and_too_many_candidates():
    with pytest.raises(ConfigError, match='does not exist'):
        PromptTemplate.from_yaml('/nonexistent/prompt.yaml')
    with pytest.raises(ValueError, match='at most 26'):
        PlanningQuestion('g', (), frame(0), tuple(str(i) for i in range(27)))
