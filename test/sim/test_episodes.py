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

"""Tests of expert rollouts with detours, hard negatives and filming."""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from test.sim.reachable import LIBRARY, reachable_states
from vlm_planner.errors import ConfigError
from vlm_planner.sim.episodes import (correct_actions, Episode, FAMILIES, family_of,
                                      make_episode, plan_length, RolloutConfig)
from vlm_planner.sim.filming import action_column, film, FilmConfig
from vlm_planner.sim.render import render
from vlm_planner.sim.tasks import parse_goal, UnsolvableTaskError
from vlm_planner.sim.world import TabletopWorld

DETOURING = RolloutConfig(detour_rate=0.5, max_detours=3, head_start_rate=0.4)


def episodes(config=RolloutConfig(), count=60) -> list[Episode]:
    return [make_episode(seed, FAMILIES[seed % len(FAMILIES)], LIBRARY, config)
            for seed in range(count)]


@pytest.fixture(scope='module')
def detoured() -> list[Episode]:
    return episodes(DETOURING)


def test_same_seed_same_episode_and_family_kept():
    assert episodes(count=12) == episodes(count=12)
    assert make_episode(1, 'tower', LIBRARY) != make_episode(2, 'tower', LIBRARY)
    for episode in episodes(count=12):
        assert family_of(parse_goal(episode.goal)) == episode.family


def test_every_answer_is_the_experts_next_action_and_the_episode_reaches_its_goal(detoured):
    for episode in detoured:
        task = parse_goal(episode.goal)
        world = TabletopWorld.from_dict(episode.initial)
        assert not task.is_satisfied(world)
        for step in episode.steps:
            assert step.world() == world, 'steps follow each other'
            assert step.answer == task.expert_plan(world)[0]
            # The labelled action brings the goal one step closer, detour or not.
            labelled = world.copy()
            assert labelled.apply(LIBRARY.get(step.answer)).applied
            assert plan_length(task, labelled) == plan_length(task, world) - 1
            result = world.apply(LIBRARY.get(step.executed)) if step.applied else None
            assert step.applied == (result is not None and result.applied)
        assert task.is_satisfied(world) and world == TabletopWorld.from_dict(episode.final)


def test_detours_of_every_kind_happen_and_are_recovered(detoured):
    kinds = collections.Counter(step.detour for e in detoured for step in e.steps)
    assert kinds['wrong-pick'] and kinds['wrong-place'] and kinds['failed']
    assert sum(bool(e.head_start) for e in detoured) >= 5
    for episode in detoured:
        task = parse_goal(episode.goal)
        for step, after in zip(episode.steps, episode.steps[1:]):
            if step.detour == 'failed':  # nothing changed; the next step retries
                assert not step.applied and after.state == step.state
                assert after.answer == step.answer
            elif step.detour:  # a wrong action: it made no progress
                assert step.executed != step.answer
                assert plan_length(task, after.world()) >= plan_length(task, step.world())
        assert sum(bool(s.detour) for s in episode.steps) <= DETOURING.max_detours


def test_no_detours_at_rate_zero_gives_the_shortest_plan():
    config = RolloutConfig(detour_rate=0.0, head_start_rate=0.0)
    for episode in episodes(config, count=24):
        plan = parse_goal(episode.goal).expert_plan(TabletopWorld.from_dict(episode.initial))
        assert [s.answer for s in episode.steps] == plan == [s.executed for s in episode.steps]
        assert not episode.head_start


def test_hard_negatives_are_wrong_library_actions_distinct_from_the_answer(detoured):
    feasible_negatives = 0
    for episode in detoured:
        task = parse_goal(episode.goal)
        for step in episode.steps:
            world = step.world()
            assert len(step.candidates) == 4 and len(set(step.candidates)) == 4
            assert step.answer in step.candidates
            assert set(step.candidates) <= set(LIBRARY.labels)
            correct = correct_actions(task, world, LIBRARY)
            negatives = [c for c in step.candidates if c != step.answer]
            assert not set(negatives) & correct, 'no negative is as good as the answer'
            feasible_negatives += sum(world.copy().apply(LIBRARY.get(n)).applied
                                      for n in negatives)
    assert feasible_negatives > 100, 'negatives are mostly actions possible in the state'
    positions = collections.Counter(step.candidates.index(step.answer)
                                    for e in detoured for step in e.steps)
    assert set(positions) == {0, 1, 2, 3}


def test_families_and_layouts():
    found = episodes(count=48)
    assert collections.Counter(e.family for e in found) == {f: 8 for f in FAMILIES}
    assert {TabletopWorld.from_dict(e.initial).n_slots for e in found} == {3, 4, 5}
    assert any(TabletopWorld.from_dict(e.initial).in_bin() for e in found)
    assert any(any(loc.startswith('on:') for loc in e.initial['blocks'].values())
               for e in found)


def test_layout_filter_and_bad_settings():
    only = make_episode(3, 'bin-all', LIBRARY, accept=lambda w: w.n_slots == 5)
    assert TabletopWorld.from_dict(only.initial).n_slots == 5
    with pytest.raises(ConfigError, match='no start layout'):
        make_episode(3, 'bin-all', LIBRARY, accept=lambda w: False)
    with pytest.raises(ConfigError, match='unknown goal family'):
        make_episode(3, 'juggle', LIBRARY)
    with pytest.raises(ConfigError, match='detour_rate'):
        RolloutConfig(detour_rate=1.5)
    with pytest.raises(ConfigError, match='slots'):
        RolloutConfig(slots=(2,))


def test_film_shows_each_state_at_its_decision_and_the_motion_between():
    episode = make_episode(5, 'tower', LIBRARY, DETOURING)
    config = FilmConfig(width=64, height=64, fps=5.0, settle=2, motion=2)
    filmed = film(episode, None, LIBRARY, config)
    assert len(filmed.frames) == len(episode.steps) * 4 + 2
    assert filmed.decisions == [4 * i + 1 for i in range(len(episode.steps))]
    for step, index in zip(episode.steps, filmed.decisions):
        np.testing.assert_array_equal(filmed.frames[index], render(step.world(), 64, 64))
        np.testing.assert_array_equal(filmed.frames[index - 1], filmed.frames[index])
        assert not np.array_equal(filmed.frames[index + 1], filmed.frames[index]), 'motion'
    np.testing.assert_array_equal(filmed.frames[-1],
                                  render(TabletopWorld.from_dict(episode.final), 64, 64))
    assert filmed.time(5) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match='settle'):
        FilmConfig(settle=0)


def test_action_columns():
    world = TabletopWorld.from_dict({'blocks': {'red': 'table:2', 'green': 'on:red',
                                                'blue': 'gripper'}, 'slots': 4})
    assert action_column(world, 'stack the held block on the green block', LIBRARY) == 2
    assert action_column(world, 'put the held block in the bin', LIBRARY) == 4
    assert action_column(world, 'put the held block on the table', LIBRARY) == 0
    assert action_column(world, 'pick up the blue block', LIBRARY) is None


@pytest.mark.parametrize('goal', ['put the red and blue blocks in the bin',
                                  'put the green block on the table',
                                  'stack the blue block on the red block on the green block'])
def test_expert_plans_are_shortest_so_negatives_are_never_as_good(goal):
    """Hard negatives rely on it: an action is correct iff it shortens the plan by one."""
    task = parse_goal(goal)
    states = reachable_states([TabletopWorld.random_initial(s, n_slots=3) for s in range(30)])
    key = {json.dumps(w.to_dict(), sort_keys=True): i for i, w in enumerate(states)}
    moves = [[key[json.dumps(after.to_dict(), sort_keys=True)] for action in LIBRARY
              if (after := w.copy()).apply(action).applied] for w in states]
    distance = {i: 0 for i, w in enumerate(states) if task.is_satisfied(w)}
    while True:  # Bellman-Ford style: states one step from a known distance
        more = {i: 1 + min(distance[j] for j in moves[i] if j in distance)
                for i in range(len(states)) if i not in distance and
                any(j in distance for j in moves[i])}
        if not more:
            break
        distance.update(more)
    checked = 0
    for i, world in enumerate(states):
        try:
            plan = task.expert_plan(world)
        except UnsolvableTaskError:
            assert i not in distance
            continue
        assert len(plan) == distance[i]
        checked += 1
    assert checked > 50
