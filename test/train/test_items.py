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

"""Training items are the planner's own questions: same frames, same messages, same candidates."""

from __future__ import annotations

import dataclasses

import pytest

from test.core.scripted_backend import ScriptedBackend
from test.train.colour_data import ACTIONS
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.chat import ImagePart, TextPart
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.planner import Planner
from vlm_planner.core.prompts import LETTERS, PromptTemplate
from vlm_planner.core.strategies import make_strategy, StrategyConfig
from vlm_planner.data.episodes import load_dataset
from vlm_planner.train.items import (sample_candidates, training_items, with_negatives,
                                     without_options)

KEYFRAMES = KeyframeConfig(max_count=3)


def plain(messages):
    """Messages as comparable tuples: roles, texts, frame stamps and pixels."""
    result = []
    for message in messages:
        parts = []
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append(('text', part.text))
            elif isinstance(part, ImagePart):
                parts.append(('image', part.frame.stamp, part.frame.image.tobytes()))
            else:
                parts.append(('video', tuple((f.stamp, f.image.tobytes()) for f in part.frames)))
        result.append((message.role, tuple(parts)))
    return result


def planner_messages(item, scoring, template):
    """The messages the planner sends the model when it decides ``item``."""
    backend = ScriptedBackend()
    strategy = make_strategy(StrategyConfig(scoring=scoring), template)
    planner = Planner(backend, ActionLibrary(item.candidates, name=item.dataset), strategy)
    planner.decide(item.goal, item.frames, candidates=[a.label for a in item.candidates])
    if scoring == 'likelihood':
        (messages, continuations), = backend.continuation_calls
        assert continuations == [a.label for a in item.candidates]
        return messages
    messages, = backend.score_calls
    return messages


@pytest.mark.parametrize('lettered', [True, False])
def test_items_are_the_messages_the_planner_sends(colour_data, lettered):
    template = PromptTemplate.default() if lettered else without_options(PromptTemplate.default())
    kinds = ('action', 'letter') if lettered else ('action',)
    dataset = load_dataset(colour_data['train'])
    items = list(training_items(dataset, KEYFRAMES, StrategyConfig(name='cot'), template,
                                kinds=kinds))

    assert len(items) == len(dataset) * len(kinds)
    evaluated = list(dataset.items(KEYFRAMES))
    for number, training in enumerate(items):
        item = evaluated[number // len(kinds)]
        assert training.item.item_id == item.item_id
        scoring = 'likelihood' if training.kind == 'action' else 'letter'
        assert plain(training.messages) == plain(planner_messages(item, scoring, template))
        answer = item.candidates[item.answer].label
        assert training.target == (answer if training.kind == 'action'
                                   else LETTERS[item.answer])


def test_the_targets_are_the_colour_of_the_current_frame(colour_data):
    items = list(training_items(load_dataset(colour_data['val']), KEYFRAMES, StrategyConfig(),
                                without_options(PromptTemplate.default())))

    assert sorted(set(i.target for i in items)) == sorted(ACTIONS.values())
    for training in items:
        image = training.item.frames[-1].image
        colour = min(ACTIONS, key=lambda name: abs(image.mean(axis=(0, 1)) - _rgb(name)).sum())
        assert training.target == ACTIONS[colour]


def _rgb(name):
    from test.train.colour_data import COLOURS
    return COLOURS[name]


def test_without_options_leaves_the_list_and_its_mention_out(colour_data):
    item = next(iter(load_dataset(colour_data['train']).items(KEYFRAMES)))
    training = next(training_items(load_dataset(colour_data['train']), KEYFRAMES,
                                   StrategyConfig(), without_options(PromptTemplate.default())))
    text = training.messages[-1].content[-1].text

    assert 'Options:' not in text and '(A)' not in text and 'option' not in text.lower()
    assert text.endswith('Answer with the next action.')
    assert all(a.label not in text for a in item.candidates)


def test_whole_library_items_get_three_negatives_of_the_same_task_per_seed(colour_data):
    items = list(load_dataset(colour_data['all']).items(KEYFRAMES))
    assert all(len(i.candidates) == 8 for i in items)

    sampled = list(with_negatives(items, 3, seed=0))
    again = list(with_negatives(items, 3, seed=0))
    other = list(with_negatives(items, 3, seed=1))

    task_answers = {i.candidates[i.answer].label for i in items}
    in_task = 0
    for before, after in zip(items, sampled):
        labels = [a.label for a in after.candidates]
        assert len(labels) == 4 and len(set(labels)) == 4
        assert after.candidates[after.answer] == before.candidates[before.answer]
        assert set(labels) <= {a.label for a in before.candidates}
        in_task += sum(label in task_answers for label in labels if label != labels[after.answer])
    assert [i.candidates for i in again] == [i.candidates for i in sampled]
    assert [i.candidates for i in other] != [i.candidates for i in sampled]
    assert len({i.answer for i in sampled}) > 1  # the answer is not always first
    # Other answers of the task are preferred: uniform draws would give 3/7 of them.
    assert in_task / (3 * len(items)) > 0.6


def test_items_with_few_candidates_keep_theirs(colour_data):
    items = list(load_dataset(colour_data['train']).items(KEYFRAMES))

    assert list(with_negatives(items, 3, seed=5)) == items


def test_a_drawn_item_depends_on_the_seed_and_the_item_only(colour_data):
    item = next(iter(load_dataset(colour_data['all']).items(KEYFRAMES)))
    renamed = dataclasses.replace(item, item_id='another')

    assert sample_candidates(item, 3, 7).candidates == sample_candidates(item, 3, 7).candidates
    assert any(sample_candidates(item, 3, 7).candidates
               != sample_candidates(renamed, 3, seed).candidates for seed in range(3))


def test_scene_items_ask_for_the_description_in_the_planners_prompt(colour_data):
    from test.train.colour_data import scene_of
    from vlm_planner.train.items import Prompter, SCENE_INSTRUCTION

    template = without_options(PromptTemplate.default())
    prompter = Prompter(StrategyConfig(), template)
    for item in load_dataset(colour_data['scenes']).items(KEYFRAMES):
        action = prompter.training_item(item, 'action')
        scene = prompter.training_item(item, 'scene')
        colour = next(c for c, label in ACTIONS.items()
                      if label == item.candidates[item.answer].label)
        assert scene.kind == 'scene' and scene.target == scene_of(colour) == item.scene
        # The same frames and question; only the closing instruction differs.
        assert plain(scene.messages)[:-1] == plain(action.messages)[:-1]
        *asked, last = plain(scene.messages)[-1][1]
        assert asked == list(plain(action.messages)[-1][1][:-1])
        assert last[1].endswith('\n' + SCENE_INSTRUCTION)
        assert last[1].replace(SCENE_INSTRUCTION, '') == plain(action.messages)[-1][1][-1][1] \
            .replace(template.action_instruction, '')


def test_an_item_without_a_scene_has_no_scene_item(colour_data):
    from vlm_planner.train.items import Prompter

    item = next(iter(load_dataset(colour_data['train']).items(KEYFRAMES)))
    assert item.scene == ''
    with pytest.raises(ValueError, match='no scene description'):
        Prompter(StrategyConfig(), PromptTemplate.default()).training_item(item, 'scene')
