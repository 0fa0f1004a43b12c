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

"""The decision session: one clock, goal, freshness and safety rules, without ROS."""

from __future__ import annotations

import numpy as np
import pytest

from test.core.scripted_backend import ScriptedBackend
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.planner import Planner
from vlm_planner.core.session import (DecisionSession, ReplayClock, replayed_keyframes,
                                      SessionConfig)
from vlm_planner.core.frames import Frame
from vlm_planner.core.strategies import make_strategy, StrategyConfig
from vlm_planner.core.trigger import TriggerConfig
from vlm_planner.errors import ConfigError

LIBRARY = ActionLibrary([Action('pick up the red block'), Action('put the held block in the bin')])


def image(value=0):
    return np.full((24, 32, 3), value, np.uint8)


def session(clock=None, probs=(0.9, 0.1), trigger='idle', **config):
    clock = clock or ReplayClock(100.0)
    planner = Planner(ScriptedBackend(probs=list(probs)), LIBRARY,
                      make_strategy(StrategyConfig()))
    return DecisionSession(planner, clock=clock, config=SessionConfig(**config),
                           keyframes=KeyframeConfig(policy='interval', min_interval=0.0),
                           trigger=TriggerConfig(mode=trigger, settle_time=0.0)), clock


def ready(s, clock):
    s.set_goal('put the red block in the bin')
    s.add_frame(image(), clock())


def test_a_decision_needs_a_goal_and_a_fresh_frame_on_the_session_clock():
    s, clock = session(max_frame_age=2.0)
    assert 'no goal' in s.decide().problem
    s.set_goal('put the red block in the bin')
    assert 'no camera frame' in s.decide().problem
    s.add_frame(image(), 100.0)
    clock.advance_to(101.0)
    outcome = s.decide()
    assert outcome.act and outcome.decision.action == 'pick up the red block'
    clock.advance_to(102.5)  # the frame is now 2.5 s old on the same clock
    assert 'old' in s.decide().problem


def test_the_trigger_runs_on_the_session_clock_not_the_wall_clock():
    s, clock = session(trigger='timer')
    s.trigger.period = 5.0
    ready(s, clock)
    assert s.due()
    s.decide()
    clock.advance_to(104.9)
    s.add_frame(image(), 104.9)
    assert not s.due()
    clock.advance_to(105.0)
    assert s.due()  # five seconds of session time, however fast the replay ran


def test_a_future_frame_is_dropped_and_does_not_blind_the_session():
    s, clock = session(future_tolerance=0.5)
    s.set_goal('put the red block in the bin')
    problem = s.add_frame(image(1), 100.0 + 3600.0)
    assert 'ahead of the clock' in problem and s.stats['frames_from_future'] == 1
    assert s.buffer.latest is None
    s.add_frame(image(2), 100.0)  # later good frames are taken, not dropped as out of order
    assert s.buffer.latest.stamp == 100.0
    assert s.decide().act


def test_a_clock_that_jumps_back_restarts_the_task_instead_of_freezing_it():
    s, clock = session()
    ready(s, clock)
    clock.advance_to(200.0)
    s.add_frame(image(3), 200.0)
    clock.advance_to(10.0)  # a replay started over
    s.add_frame(image(4), 10.0)
    assert s.stats['clock_jumps'] == 1
    assert [f.stamp for f in s.snapshot()] == [10.0]
    assert s.decide().act


def test_a_late_older_frame_is_ignored_but_not_a_jump():
    s, clock = session()
    ready(s, clock)
    s.add_frame(image(5), 99.9)
    assert s.stats['frames_out_of_order'] == 1 and s.stats['clock_jumps'] == 0


def test_a_negative_frame_age_is_invalid():
    s, clock = session(future_tolerance=0.5)
    ready(s, clock)
    clock.advance_to(50.0)  # the clock went back, no frame since
    assert 'in the future' in s.decide().problem


@pytest.mark.parametrize('source', ['arm', 'topic'])
def test_no_action_while_estopped_and_none_after_release_until_resumed(source):
    s, clock = session()
    ready(s, clock)
    s.on_status('idle')
    if source == 'arm':
        s.on_status('estopped')
    else:
        s.set_estop(True)
    assert s.estopped and not s.due()
    outcome = s.decide()
    assert not outcome.act and outcome.decision is None and 'estop' in outcome.problem
    if source == 'arm':
        s.on_status('idle')
    else:
        s.set_estop(False)
    assert not s.estopped and s.paused
    clock.advance_to(110.0)
    s.add_frame(image(), 110.0)
    assert not s.due() and not s.decide().act  # never by itself after the release
    assert s.resume() == ''
    assert s.due() and s.decide().act


def test_resume_is_refused_while_still_estopped():
    s, clock = session()
    ready(s, clock)
    s.set_estop(True)
    assert 'release it first' in s.resume()
    assert s.paused


def test_an_estop_during_a_decision_stops_its_action():
    s, clock = session()
    ready(s, clock)
    original = s.planner.decide

    def decide_then_estop(*args, **kwargs):
        decision = original(*args, **kwargs)
        s.on_status('estopped')  # arrives while the model is thinking
        return decision
    s.planner.decide = decide_then_estop
    outcome = s.decide()
    assert outcome.decision is not None and not outcome.act


def test_dry_run_decides_but_never_acts():
    s, clock = session(dry_run=True)
    ready(s, clock)
    outcome = s.decide()
    assert outcome.decision.action == 'pick up the red block'
    assert not outcome.act and 'dry run' in outcome.problem and not s.may_act()


def test_max_decision_rate_bounds_every_path():
    s, clock = session(max_decision_rate=2.0)
    ready(s, clock)
    assert s.decide().act
    assert 'max_decision_rate' in s.decide().problem
    clock.advance_to(100.5)
    s.add_frame(image(), 100.5)
    assert s.decide().decided


def test_a_huge_goal_is_rejected_and_the_old_goal_stays():
    s, clock = session(max_goal_chars=100)
    s.set_goal('put the red block in the bin')
    problem = s.set_goal('x' * 1_000_000)
    assert 'rejected' in problem and len(problem) < 400
    assert s.goal == 'put the red block in the bin' and s.stats['goals_rejected'] == 1


def test_a_new_goal_starts_a_new_task_from_the_current_frame():
    s, clock = session()
    s.set_goal('a')
    for t in (100.0, 101.0, 102.0):
        clock.advance_to(t)
        s.add_frame(image(int(t)), t)
    s.set_goal('b')
    assert [f.stamp for f in s.snapshot()] == [102.0]


def test_a_model_failure_leaves_the_session_consistent():
    s, clock = session()
    ready(s, clock)

    def broken(*args, **kwargs):
        raise RuntimeError('CUDA out of memory')
    s.planner.decide = broken
    with pytest.raises(RuntimeError):
        s.decide()
    assert s.stats['failed_decisions'] == 1
    del s.planner.decide
    assert s.decide().act  # the lock was released


def test_closed_session_refuses_everything():
    s, clock = session()
    ready(s, clock)
    s.close()
    assert not s.due() and s.decide().problem == 'shutting down'


def test_replayed_keyframes_equals_feeding_a_session():
    frames = [Frame(image(i * 40), 100.0 + i) for i in range(5)]
    config = KeyframeConfig(max_count=3, min_interval=0.0, change_threshold=0.01)
    got = replayed_keyframes(frames, config)
    s, clock = session()
    s.buffer.config = config
    for f in frames:
        clock.advance_to(f.stamp)
        s.add_frame(f.image, f.stamp)
    assert [f.stamp for f in got] == [f.stamp for f in s.snapshot()]


def test_session_config_checks_like_the_parameter_table():
    with pytest.raises(ConfigError, match='max_frame_age'):
        SessionConfig(max_frame_age=0.0)
    with pytest.raises(ConfigError, match='dry_run'):
        SessionConfig(dry_run='yes')


def test_an_action_the_arm_reports_failed_is_left_out_until_one_succeeds():
    s, clock = session()
    ready(s, clock)
    first = s.decide()
    assert first.decision.action == 'pick up the red block'
    assert first.decision.candidates == tuple(LIBRARY.labels)
    s.sent(first.decision.action)
    for status in ('executing', 'failed', 'failed'):  # the second 'failed' is a heartbeat
        s.on_status(status)
    assert s.failed_actions == ('pick up the red block',) and s.stats['actions_failed'] == 1

    second = s.decide()  # the model prefers the failed action, but it is not offered
    assert second.decision.candidates == ('put the held block in the bin',)
    assert second.decision.action == 'put the held block in the bin'
    s.sent(second.decision.action)
    s.on_status('failed')  # the previous outcome repeated: not this action's
    assert s.failed_actions == ('pick up the red block',)
    s.on_status('executing')
    s.on_status('succeeded')
    assert s.failed_actions == ()
    assert s.decide().decision.candidates == tuple(LIBRARY.labels)


def test_failed_actions_are_forgotten_with_the_task_and_can_be_allowed():
    s, clock = session()
    ready(s, clock)
    s.sent('pick up the red block')
    s.on_status('failed')  # a changed status is an outcome even without 'executing'
    assert s.candidates() == ['put the held block in the bin']
    s.set_goal('put the red block in the bin')  # the same goal: the same task
    assert s.failed_actions == ('pick up the red block',)
    s.config = SessionConfig(avoid_failed_actions=False)
    assert s.candidates() is None and s.decide().decision.action == 'pick up the red block'
    s.config = SessionConfig()
    s.set_goal('put the blue block in the bin')
    assert s.failed_actions == () and s.candidates() is None
    for action in LIBRARY.labels:  # every action failed: the whole library again
        s.sent(action)
        s.on_status('executing')
        s.on_status('failed')
    assert s.failed_actions == tuple(LIBRARY.labels) and s.candidates() is None
    s.reset()
    assert s.failed_actions == ()
