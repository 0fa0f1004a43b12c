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

"""A clock that stands still (a replay ended or paused) pauses deciding, without ROS.

Two fake clocks drive the session: the node clock (under ``use_sim_time`` it follows ``/clock``)
and the steady clock that measures how long the node clock has stood still.
"""

from __future__ import annotations

import pytest

from test.core.test_session import image, session
from vlm_planner.core.session import ReplayClock, SessionConfig
from vlm_planner.errors import ConfigError

GOAL = 'put the red block in the bin'


def replaying(max_clock_stall=1.0, start=100.0, trigger='timer'):
    """A session on a replayed clock, watched by a steady clock; the frame at ``start`` in."""
    s, clock = session(ReplayClock(start), trigger=trigger, max_clock_stall=max_clock_stall)
    steady = ReplayClock(0.0)
    s.steady_clock = steady
    s.set_goal(GOAL)
    s.add_frame(image(), start)
    assert not s.watch_clock()  # the first look: a standstill is measured from here
    return s, clock, steady


def test_a_clock_that_stands_still_pauses_deciding_says_so_and_resumes_when_it_moves():
    s, clock, steady = replaying(max_clock_stall=1.0)
    assert s.due() and s.blocked() == '' and s.clock_notes() == []  # never decided: due now
    steady.advance_to(0.9)  # the clock has not moved for 0.9 s: still within max_clock_stall
    assert s.due() and not s.clock_stopped
    steady.advance_to(1.2)  # 1.2 s: the replay ended
    assert not s.due() and s.clock_stopped  # the trigger would decide; the session refuses
    problem = s.problems['clock']
    assert 'stood still at 100.000 s' in problem and 'max_clock_stall' in problem
    assert s.blocked() == problem
    outcome = s.decide()  # the ~/plan path: the last frame is fresh on the stopped clock
    assert not outcome.decided and outcome.problem == problem
    assert s.stats['decisions'] == 0 and s.stats['clock_stops'] == 1
    assert s.clock_notes() == [problem] and s.clock_notes() == []  # logged once
    steady.advance_to(5.0)
    assert not s.due() and s.stats['clock_stops'] == 1 and s.clock_notes() == []
    clock.advance_to(100.2)  # playback goes on
    s.add_frame(image(1), 100.2)
    assert s.blocked() == '' and not s.clock_stopped and s.problems['clock'] == ''
    assert s.clock_notes() == ['the clock moves again (100.200 s): deciding resumes']
    assert s.decide().act and s.stats['decisions'] == 1
    steady.advance_to(6.5)  # stopped again, counted again
    assert s.blocked() == s.problems['clock'] and s.stats['clock_stops'] == 2


def test_a_clock_that_moves_or_jumps_back_is_never_taken_for_stopped():
    s, clock, steady = replaying(max_clock_stall=0.5)
    for step in range(1, 20):
        steady.advance_to(step * 0.4)
        clock.advance_to(100.0 + (step % 5) * 0.1)  # a loop: forward, then back to the start
        assert s.blocked() == '' and not s.clock_stopped
    assert s.stats['clock_stops'] == 0 and s.clock_notes() == []


def test_a_clock_that_never_started_says_nothing_publishes_clock():
    s, clock, steady = replaying(start=0.0)
    steady.advance_to(2.0)
    assert not s.due() and s.clock_stopped
    assert 'nothing publishes /clock' in s.problems['clock'] and '--clock' in s.problems['clock']


def test_offline_sessions_and_max_clock_stall_0_never_pause():
    s, clock, steady = replaying(max_clock_stall=0.0)
    steady.advance_to(100.0)
    assert s.due() and s.blocked() == '' and s.decide().act
    s, clock, steady = replaying()
    s.steady_clock = None  # as offline replays build it: their clock moves frame by frame
    assert s.blocked() == '' and s.decide().act and s.problems['clock'] == ''
    with pytest.raises(ConfigError, match='max_clock_stall'):
        SessionConfig(max_clock_stall=-1.0)


def test_the_e_stop_pause_and_the_clock_pause_are_separate():
    s, clock, steady = replaying()
    s.set_estop(True)
    steady.advance_to(2.0)
    assert not s.due() and s.clock_stopped and 'estop' in s.blocked()  # noticed while paused
    assert len(s.clock_notes()) == 1
    s.set_estop(False)
    assert s.resume() == ''  # the e-stop is released; the clock still stands
    assert s.blocked() == s.problems['clock']
    clock.advance_to(100.1)
    assert s.blocked() == '' and s.decide().act
