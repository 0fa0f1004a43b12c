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

"""Tests of the tabletop world state and the effect of actions."""

from __future__ import annotations

import json

import pytest

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.sim.world import block_colour, COLOURS, Location, TabletopWorld

LIBRARY = ActionLibrary.from_yaml(default_actions_file())


def act(world: TabletopWorld, label: str):
    return world.apply(LIBRARY.get(label))


def world_of(**blocks: str) -> TabletopWorld:
    return TabletopWorld.from_dict({'blocks': blocks})


def test_default_layout():
    world = TabletopWorld.default()
    assert world.n_slots == 4
    assert world.held is None
    assert world.to_dict() == {
        'slots': 4, 'held': None,
        'blocks': {'red': 'table:0', 'green': 'table:1', 'blue': 'table:2'}}
    assert world.free_slots() == [3]
    assert world.in_bin() == []


def test_random_initial_is_seeded_and_valid():
    layouts = {json.dumps(TabletopWorld.random_initial(seed).to_dict()) for seed in range(40)}
    assert len(layouts) > 10
    assert TabletopWorld.random_initial(5) == TabletopWorld.random_initial(5)
    assert any(TabletopWorld.random_initial(s).below(c) for s in range(40) for c in COLOURS), \
        'some random layouts should start stacked'
    for seed in range(40):
        world = TabletopWorld.random_initial(seed)
        assert world.held is None and world.in_bin() == []
        assert TabletopWorld.from_dict(world.to_dict()) == world


def test_pick_and_put_in_bin():
    world = TabletopWorld.default()
    result = act(world, 'pick up the red block')
    assert result.applied and result.label == 'pick up the red block'
    assert 'picked up the red block' in result.message
    assert world.held == 'red' and world.location('red') == Location.in_gripper()
    assert world.free_slots() == [0, 3]
    result = act(world, 'put the held block in the bin')
    assert result.applied
    assert world.held is None and world.in_bin() == ['red']


def test_put_on_table_uses_lowest_free_slot():
    world = TabletopWorld.default()
    act(world, 'pick up the green block')
    act(world, 'stack the held block on the red block')
    act(world, 'pick up the blue block')
    result = act(world, 'put the held block on the table')
    assert result.applied and 'slot 1' in result.message
    assert world.location('blue') == Location.on_table(1)


def test_stack_builds_piles():
    world = TabletopWorld.default()
    act(world, 'pick up the red block')
    assert act(world, 'stack the held block on the green block').applied
    act(world, 'pick up the blue block')
    assert act(world, 'stack the held block on the red block').applied
    assert world.below('blue') == 'red' and world.below('red') == 'green'
    assert world.above('green') == 'red' and world.top_of('green') == 'blue'
    assert [world.height(c) for c in COLOURS] == [1, 0, 2]
    assert world.slot_of('blue') == 1
    assert not world.is_clear('green') and world.is_clear('blue')


@pytest.mark.parametrize('setup, label, reason', [
    ([], 'put the held block in the bin', 'gripper is empty'),
    ([], 'put the held block on the table', 'gripper is empty'),
    ([], 'stack the held block on the red block', 'gripper is empty'),
    (['pick up the red block'], 'pick up the green block', 'already holds the red block'),
    (['pick up the red block'], 'pick up the red block', 'already in the gripper'),
    (['pick up the red block'], 'stack the held block on the red block', 'on itself'),
    (['pick up the red block', 'put the held block in the bin'], 'pick up the red block',
     'in the bin'),
    (['pick up the red block', 'put the held block in the bin', 'pick up the green block'],
     'stack the held block on the red block', 'in the bin'),
    (['pick up the red block', 'stack the held block on the green block'],
     'pick up the green block', 'red block is on top of it'),
    (['pick up the red block', 'stack the held block on the green block',
      'pick up the blue block'], 'stack the held block on the green block',
     'red block is on top of it'),
])
def test_infeasible_actions_change_nothing(setup, label, reason):
    world = TabletopWorld.default()
    for step in setup:
        assert act(world, step).applied, step
    before = world.copy()
    result = act(world, label)
    assert not result.applied
    assert reason in result.message
    assert world == before


def test_no_free_slot_blocks_put_on_table():
    world = TabletopWorld({'red': Location.on_table(0), 'green': Location.on_block('red'),
                           'blue': Location.on_block('green')}, n_slots=1)
    act(world, 'pick up the blue block')
    result = act(world, 'put the held block on the table')
    assert not result.applied and 'no table slot is free' in result.message
    assert world.held == 'blue'


def test_unknown_verb_or_noun_is_not_applied():
    world = TabletopWorld.default()
    for action in (Action('wave', verb='wave', noun='hand'),
                   Action('pick up the yellow block', verb='pick', noun='yellow block'),
                   Action('put it in the sink', verb='put', noun='sink'),
                   Action('no verb')):
        result = world.apply(action)
        assert not result.applied and 'does not understand' in result.message
    assert world == TabletopWorld.default()


def test_copy_is_independent():
    world = TabletopWorld.default()
    twin = world.copy()
    act(twin, 'pick up the red block')
    assert world.held is None and twin.held == 'red'
    assert world != twin


@pytest.mark.parametrize('blocks, message', [
    ({'red': 'table:0', 'green': 'table:0', 'blue': 'table:2'}, 'both on slot 0'),
    ({'red': 'table:9', 'green': 'table:1', 'blue': 'table:2'}, 'slots 0..3'),
    ({'red': 'on:green', 'green': 'on:red', 'blue': 'table:2'}, 'loop'),
    ({'red': 'on:red', 'green': 'table:1', 'blue': 'table:2'}, 'cannot be on'),
    ({'red': 'on:blue', 'green': 'on:blue', 'blue': 'table:2'}, 'both on the blue block'),
    ({'red': 'on:blue', 'green': 'table:1', 'blue': 'bin'}, 'in the bin'),
    ({'red': 'gripper', 'green': 'gripper', 'blue': 'table:2'}, 'one block at most'),
    ({'red': 'table:0', 'green': 'table:1'}, 'missing'),
    ({'red': 'table:0', 'green': 'table:1', 'blue': 'table:2', 'pink': 'bin'}, 'unknown'),
    ({'red': 'shelf', 'green': 'table:1', 'blue': 'table:2'}, 'cannot read location'),
])
def test_impossible_states_are_rejected(blocks, message):
    with pytest.raises(ValueError, match=message):
        world_of(**blocks)


def test_location_text_round_trip():
    for loc in (Location.on_table(2), Location.in_bin(), Location.on_block('red'),
                Location.in_gripper()):
        assert Location.parse(str(loc)) == loc
    with pytest.raises(ValueError):
        Location('table')


def test_block_colour():
    assert block_colour('red block') == 'red'
    assert block_colour('the Blue block') == 'blue'
    assert block_colour('bin') is None
    assert block_colour('yellow block') is None


def test_describe_says_where_every_block_is():
    world = TabletopWorld({'red': Location.in_bin(), 'green': Location.on_table(2),
                           'blue': Location.on_block('green')})
    assert world.describe() == ('red block: the bin; green block: table slot 2; '
                                'blue block: the top of the green block')
    world.apply(LIBRARY.get('pick up the blue block'))
    assert world.describe().endswith('blue block: the gripper')
