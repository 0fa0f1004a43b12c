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

"""Tests of goal parsing, success tests and expert plans."""

from __future__ import annotations

import pytest

from test.sim.reachable import LIBRARY, reachable_states
from vlm_planner.errors import ConfigError
from vlm_planner.sim.tasks import (BinTask, GoalParseError, parse_goal, StackTask,
                                   SUPPORTED_GOALS, TableTask, UnsolvableTaskError)
from vlm_planner.sim.world import COLOURS, TabletopWorld


def all_states() -> list[TabletopWorld]:
    """Every state reachable from the default layout and from seeded random layouts."""
    return reachable_states([TabletopWorld.default(),
                             *(TabletopWorld.random_initial(s) for s in range(20))])


STATES = all_states()
GOALS = [
    'put the red block in the bin', 'put the green block in the bin', 'put all blocks in the bin',
    'put the blue and red blocks in the bin', 'put the green block on the table',
    'stack the blue block on the green block', 'stack the green block on the blue block',
    'stack the red block on the green block on the blue block',
    'stack the blue block on the red block on the green block',
]


@pytest.mark.parametrize('text, expected', [
    ('put the red block in the bin', BinTask(('red',))),
    ('Put the GREEN block into the bin.', BinTask(('green',))),
    ('put blue block in bin', BinTask(('blue',))),
    ('put all blocks in the bin', BinTask(COLOURS)),
    ('put all the blocks into the bin', BinTask(COLOURS)),
    ('put the red and blue blocks in the bin', BinTask(('red', 'blue'))),
    ('put the blue, green and red blocks in the bin', BinTask(COLOURS)),
    ('put the green block on the table', TableTask('green')),
    ('stack the blue block on the green block', StackTask(('blue', 'green'))),
    ('stack the blue block on top of the green block', StackTask(('blue', 'green'))),
    ('put the blue block onto the red block', StackTask(('blue', 'red'))),
    ('stack the red block on the green block on the blue block',
     StackTask(('red', 'green', 'blue'))),
])
def test_parse_goal(text, expected):
    task = parse_goal(text)
    assert task == expected
    assert parse_goal(task.text) == task, 'canonical text must parse back to the same task'
    assert str(task) == task.text


def test_canonical_texts():
    assert parse_goal('put the red and blue blocks in the bin').text == \
        'put the red and blue blocks in the bin'
    assert parse_goal('put the red, green and blue blocks in the bin').text == \
        'put all blocks in the bin'
    assert parse_goal('stack the red block onto the green block').text == \
        'stack the red block on the green block'


@pytest.mark.parametrize('text, message', [
    ('make me a sandwich', 'Supported goals'),
    ('', 'Supported goals'),
    ('put the red block under the bin', 'Supported goals'),
    ('put the yellow block in the bin', "unknown block colour 'yellow'"),
    ('stack the red block on the red block', 'named twice'),
    ('stack the red block on the purple block', "unknown block colour 'purple'"),
])
def test_parse_errors(text, message):
    with pytest.raises(GoalParseError, match=message) as info:
        parse_goal(text)
    assert isinstance(info.value, ConfigError)


def test_parse_error_lists_supported_forms():
    with pytest.raises(GoalParseError) as info:
        parse_goal('tidy up')
    for form in SUPPORTED_GOALS:
        assert form in str(info.value)


def test_is_satisfied():
    world = TabletopWorld.from_dict({'blocks': {'red': 'bin', 'green': 'on:blue',
                                                'blue': 'table:3'}})
    assert parse_goal('put the red block in the bin').is_satisfied(world)
    assert not parse_goal('put all blocks in the bin').is_satisfied(world)
    assert parse_goal('stack the green block on the blue block').is_satisfied(world)
    assert not parse_goal('stack the blue block on the green block').is_satisfied(world)
    assert parse_goal('put the blue block on the table').is_satisfied(world)
    assert not parse_goal('put the green block on the table').is_satisfied(world)


def needed_in_bin(task, world: TabletopWorld) -> bool:
    """True where a block the task must move (not into the bin) is already in the bin."""
    needed = task.tower if isinstance(task, StackTask) else \
        (task.colour,) if isinstance(task, TableTask) else ()
    return any(world.location(c).kind == 'bin' for c in needed)


@pytest.mark.parametrize('goal', GOALS)
def test_expert_plans_reach_the_goal_from_every_reachable_state(goal):
    task = parse_goal(goal)
    solved = 0
    for start in STATES:
        if needed_in_bin(task, start):
            with pytest.raises(UnsolvableTaskError):
                task.expert_plan(start)
            continue
        plan = task.expert_plan(start)
        world = start.copy()
        for label in plan:
            result = world.apply(LIBRARY.get(label))
            assert result.applied, (goal, start, plan, result.message)
        assert task.is_satisfied(world), (goal, start, plan)
        assert len(plan) <= 12
        assert (plan == []) == task.is_satisfied(start)
        solved += 1
    assert solved >= len(STATES) // 4


def test_expert_plan_does_not_change_its_input():
    world = TabletopWorld.default()
    plan = parse_goal('put all blocks in the bin').expert_plan(world)
    assert len(plan) == 6
    assert world == TabletopWorld.default()


def test_expert_plan_examples():
    world = TabletopWorld.default()
    assert parse_goal('put the red block in the bin').expert_plan(world) == [
        'pick up the red block', 'put the held block in the bin']
    world = TabletopWorld.from_dict({'blocks': {'red': 'table:0', 'green': 'on:red',
                                                'blue': 'on:green'}})
    assert parse_goal('put the red block in the bin').expert_plan(world) == [
        'pick up the blue block', 'put the held block on the table',
        'pick up the green block', 'put the held block on the table',
        'pick up the red block', 'put the held block in the bin']


def test_tower_whose_bottom_stands_on_a_tower_block():
    # Wanted: red on green on blue. Now: green on blue on red, so blue must leave red first.
    world = TabletopWorld.from_dict({'blocks': {'red': 'table:0', 'blue': 'on:red',
                                                'green': 'on:blue'}})
    task = parse_goal('stack the red block on the green block on the blue block')
    plan = task.expert_plan(world)
    for label in plan:
        assert world.apply(LIBRARY.get(label)).applied
    assert task.is_satisfied(world)


def test_unsolvable_tasks_raise():
    world = TabletopWorld.from_dict({'blocks': {'red': 'bin', 'green': 'table:1',
                                                'blue': 'table:2'}})
    with pytest.raises(UnsolvableTaskError, match='red block is in the bin'):
        parse_goal('stack the blue block on the red block').expert_plan(world)
    with pytest.raises(UnsolvableTaskError, match='in the bin'):
        parse_goal('put the red block on the table').expert_plan(world)


def test_tasks_reject_bad_colours():
    with pytest.raises(ValueError):
        StackTask(('red',))
    with pytest.raises(ValueError):
        BinTask(('red', 'red'))
    with pytest.raises(ValueError):
        TableTask('pink')
