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

"""Step timing keeps every joint within its velocity limit; trajectories end at rest on target."""

from __future__ import annotations

import math

from hypothesis import given, HealthCheck, settings, strategies as st
import pytest

from vlm_planner.skills.config import Joint
from vlm_planner.skills.motion import (describe_miss, MIN_DURATION, step_duration,
                                       trajectory_points, worst_error)

PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
POSITION = st.floats(-10.0, 10.0, allow_nan=False)
VELOCITY = st.floats(1e-3, 10.0, allow_nan=False)


def joint(name: str = 'j', max_velocity: float = 1.0, tolerance: float = 0.02) -> Joint:
    return Joint(name, -10.0, 10.0, max_velocity, tolerance)


@st.composite
def moves(draw):
    """(start, target, joints, requested, count) of 1..7 joints."""
    n = draw(st.integers(1, 7))
    start = draw(st.lists(POSITION, min_size=n, max_size=n))
    target = draw(st.lists(POSITION, min_size=n, max_size=n))
    # Some joints stay put, to cover zero distances.
    target = [s if draw(st.booleans()) and i % 2 else t
              for i, (s, t) in enumerate(zip(start, target))]
    joints = [joint(f'j{i}', draw(VELOCITY)) for i in range(n)]
    requested = draw(st.none() | st.floats(1e-3, 20.0))
    return start, target, joints, requested, draw(st.integers(1, 50))


# step_duration

def test_a_short_move_without_a_duration_takes_min_duration():
    assert MIN_DURATION == 0.5
    assert step_duration([0.0, 0.0], [0.1, -0.1], [joint(), joint()], None) == MIN_DURATION
    assert step_duration([1.0], [1.0], [joint()], None) == MIN_DURATION


def test_a_requested_duration_is_kept_when_the_limits_allow_it_even_below_min_duration():
    assert step_duration([0.0], [0.1], [joint()], 3.0) == 3.0
    assert step_duration([0.0], [0.1], [joint()], 0.2) == 0.2


def test_a_fast_move_is_stretched_to_the_slowest_joint():
    # 1.5 * 2.0 / 1.0 = 3.0 s for the first joint; 1.5 * 1.0 / 0.25 = 6.0 s for the second.
    duration = step_duration([0.0, 0.0], [2.0, -1.0], [joint('a', 1.0), joint('b', 0.25)], 1.0)
    assert duration == pytest.approx(6.0, rel=1e-8) and duration >= 6.0


@pytest.mark.parametrize('requested', [0.0, -1.0, math.inf, math.nan])
def test_a_bad_requested_duration(requested):
    with pytest.raises(ValueError, match='must be > 0'):
        step_duration([0.0], [1.0], [joint()], requested)


def test_lengths_must_match():
    with pytest.raises(ValueError, match='start has 2 positions but target has 1'):
        step_duration([0.0, 0.0], [1.0], [joint()], None)
    with pytest.raises(ValueError, match='1 joints but 2 positions'):
        step_duration([0.0, 0.0], [1.0, 1.0], [joint()], None)


# trajectory_points

def test_points_are_evenly_timed_and_end_at_rest_on_the_target():
    points = trajectory_points([0.0, 1.0], [1.0, 1.0], 2.0)
    assert len(points) == 10
    assert [t for _, _, t in points] == pytest.approx([0.2 * k for k in range(1, 11)])
    assert points[-1] == ((1.0, 1.0), (0.0, 0.0), 2.0)
    # Half-way the cubic is at half the distance, at its peak velocity 1.5 * 1.0 / 2.0.
    positions, velocities, time = points[4]
    assert time == pytest.approx(1.0)
    assert positions == pytest.approx((0.5, 1.0)) and velocities == pytest.approx((0.75, 0.0))


def test_one_point_is_just_the_target():
    assert trajectory_points([0.0], [0.3], 0.7, count=1) == [((0.3,), (0.0,), 0.7)]


@pytest.mark.parametrize('kwargs, match', [
    ({'duration': 0.0}, 'duration must be > 0'), ({'duration': -1.0}, 'duration must be > 0'),
    ({'duration': math.nan}, 'duration must be > 0'), ({'count': 0}, 'count must be at least 1')])
def test_bad_trajectory_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        trajectory_points([0.0], [1.0], **{'duration': 1.0, **kwargs})
    with pytest.raises(ValueError, match='start has 1 positions but target has 2'):
        trajectory_points([0.0], [1.0, 2.0], 1.0)


def hermite(p0, v0, t0, p1, v1, t1, t):
    """What joint_trajectory_controller does between two points with positions and velocities."""
    h = t1 - t0
    s = (t - t0) / h
    return ((2 * s**3 - 3 * s**2 + 1) * p0 + (s**3 - 2 * s**2 + s) * h * v0
            + (-2 * s**3 + 3 * s**2) * p1 + (s**3 - s**2) * h * v1)


def test_the_controllers_spline_between_points_is_the_profile_itself():
    start, target, duration = 0.2, -1.4, 3.0
    points = [((start,), (0.0,), 0.0)] + trajectory_points([start], [target], duration, count=4)
    for (p0, v0, t0), (p1, v1, t1) in zip(points, points[1:]):
        for frac in (0.25, 0.5, 0.75):
            t = t0 + frac * (t1 - t0)
            u = t / duration
            expected = start + (target - start) * (3 * u**2 - 2 * u**3)
            assert hermite(p0[0], v0[0], t0, p1[0], v1[0], t1, t) == pytest.approx(expected)


@PROPERTY
@given(moves())
def test_velocities_never_exceed_the_limits_when_timed_by_step_duration(move):
    start, target, joints, requested, count = move
    duration = step_duration(start, target, joints, requested)
    assert duration >= (MIN_DURATION if requested is None else requested)
    points = trajectory_points(start, target, duration, count)
    assert len(points) == count
    for positions, velocities, _ in points:
        for q0, q1, q, v, j in zip(start, target, positions, velocities, joints):
            assert abs(v) <= j.max_velocity, (v, j.max_velocity)
            assert min(q0, q1) <= q <= max(q0, q1)
            assert v == 0.0 or (v > 0) == (q1 > q0)  # never moves backwards
    times = [t for _, _, t in points]
    assert all(a < b for a, b in zip(times, times[1:])) and times[0] > 0
    last_positions, last_velocities, last_time = points[-1]
    assert last_positions == tuple(target) and last_time == duration
    assert last_velocities == (0.0,) * len(target)


@PROPERTY
@given(moves())
def test_step_duration_is_no_longer_than_the_limits_need(move):
    start, target, joints, requested, _ = move
    duration = step_duration(start, target, joints, requested)
    floor = MIN_DURATION if requested is None else requested
    peak = max(1.5 * abs(q1 - q0) / (duration * j.max_velocity)
               for q0, q1, j in zip(start, target, joints))
    # Either the requested (or minimum) duration, or the slowest joint just reaches its limit.
    assert duration == floor or peak == pytest.approx(1.0, rel=1e-6)


# worst_error and describe_miss

def test_worst_error_is_relative_to_each_tolerance():
    joints = [joint('a', tolerance=0.1), joint('b', tolerance=0.01), joint('c', tolerance=0.5)]
    target = {'a': 0.0, 'b': 0.0, 'c': 0.0}
    # a is 0.3 away (3 tolerances), b 0.05 (5 tolerances), c inside.
    assert worst_error({'a': 0.3, 'b': -0.05, 'c': 0.4}, target, joints) == ('b', 0.05, 0.01)
    assert worst_error({'a': 0.1, 'b': 0.01, 'c': -0.5}, target, joints) is None


def test_worst_error_checks_only_the_targets_joints_and_counts_nan_as_worst():
    joints = [joint('a'), joint('b'), joint('f', tolerance=0.002)]
    actual = {'a': 5.0, 'b': 0.0, 'f': 0.01, 'extra': 1.0}
    assert worst_error(actual, {'f': 0.0}, joints) == ('f', 0.01, 0.002)
    assert worst_error(actual, {'b': 0.0}, joints) is None
    name, error, _ = worst_error({'a': 9.0, 'b': math.nan}, {'a': 0.0, 'b': 0.0}, joints)
    assert name == 'b' and math.isnan(error)


def test_worst_error_needs_a_measurement_of_each_target_joint():
    with pytest.raises(ValueError, match='no measured position of joint b.*reports a'):
        worst_error({'a': 0.0}, {'a': 0.0, 'b': 0.0}, [joint('a'), joint('b')])


@PROPERTY
@given(st.lists(st.tuples(st.floats(-5.0, 5.0), st.floats(-5.0, 5.0), st.floats(1e-4, 1.0)),
                min_size=1, max_size=9))
def test_worst_error_picks_the_joint_most_tolerances_away(rows):
    joints = [joint(f'j{i}', tolerance=tol) for i, (_, _, tol) in enumerate(rows)]
    actual = {f'j{i}': a for i, (a, _, _) in enumerate(rows)}
    target = {f'j{i}': t for i, (_, t, _) in enumerate(rows)}
    errors = [abs(a - t) for a, t, _ in rows]
    result = worst_error(actual, target, joints)
    outside = [i for i, (e, (_, _, tol)) in enumerate(zip(errors, rows)) if e > tol]
    if not outside:
        assert result is None
        return
    assert result is not None
    name, error, tolerance = result
    i = int(name[1:])
    assert i in outside and error == errors[i] and tolerance == rows[i][2]
    assert error / tolerance == max(errors[k] / rows[k][2] for k in outside)


def test_describe_miss():
    assert describe_miss('elbow_joint', 0.31, 0.02) == (
        'joint elbow_joint is 0.310 rad from its target (tolerance 0.020)')
    assert describe_miss('finger', 0.0123, 0.002, unit='m') == (
        'joint finger is 0.012 m from its target (tolerance 0.002)')
