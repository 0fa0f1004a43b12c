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

"""The motion maths of a skill step: how long it takes, its trajectory, and whether it arrived.

Every joint of a step follows the same **cubic (smoothstep) profile** from its start ``q0`` to
its target ``q1`` in ``T`` seconds::

    s(u) = 3 u^2 - 2 u^3,  u = t / T
    q(t) = q0 + (q1 - q0) s(u)
    v(t) = (q1 - q0) 6 u (1 - u) / T

so all joints start and arrive together, at rest, on straight lines in joint space. The velocity
peaks at ``u = 0.5`` at ``1.5 |q1 - q0| / T``; :func:`step_duration` therefore makes ``T`` at
least ``1.5 |q1 - q0| / max_velocity`` for every joint. The acceleration is ``6 |q1 - q0| / T^2``
at both ends (the profile bounds velocity, not acceleration or jerk): keep ``max_velocity``
well below the arm's own limits, as the example skills files do.

:func:`trajectory_points` samples the profile as (positions, velocities, time) points. A
ros2_control ``joint_trajectory_controller`` given positions and velocities interpolates between
points with cubic splines, which reproduce this cubic exactly, so the arm follows the planned
profile between samples too.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from vlm_planner.skills.config import Joint

#: Seconds a step takes at least when its duration is not given.
MIN_DURATION = 0.5
#: Peak velocity of the profile, as a multiple of distance / duration.
PEAK_FACTOR = 1.5
# step_duration lengthens the exact bound by this factor so that rounding can never put a
# sampled velocity a hair above max_velocity.
_ROUNDING = 1.0 + 1e-9


def _check_lengths(start: Sequence[float], target: Sequence[float]) -> None:
    if len(start) != len(target):
        raise ValueError(f'start has {len(start)} positions but target has {len(target)}.')


def step_duration(start: Sequence[float], target: Sequence[float], joints: Sequence[Joint],
                  requested: float | None) -> float:
    """Return how long a move from ``start`` to ``target`` takes.

    It is the requested duration (or :data:`MIN_DURATION` when None), lengthened where needed
    so that no joint exceeds its ``max_velocity`` on the cubic profile of
    :func:`trajectory_points`: at least ``1.5 |target - start| / max_velocity`` for each joint.

    Args:
        start: the joints' current positions.
        target: the joints' target positions, in the same order.
        joints: the joints, in the same order (for their velocity limits).
        requested: the step's duration from the skills file, or None.

    Returns:
        The duration in seconds, > 0.

    Raises:
        ValueError: if the lengths differ or ``requested`` is not a positive finite number.
    """
    _check_lengths(start, target)
    if len(joints) != len(target):
        raise ValueError(f'{len(joints)} joints but {len(target)} positions.')
    if requested is None:
        duration = MIN_DURATION
    elif not (math.isfinite(requested) and requested > 0):
        raise ValueError(f'the requested duration must be > 0 (got {requested!r}).')
    else:
        duration = float(requested)
    for q0, q1, joint in zip(start, target, joints):
        needed = PEAK_FACTOR * abs(q1 - q0) / joint.max_velocity
        if needed > 0:
            duration = max(duration, needed * _ROUNDING)
    return duration


def trajectory_points(start: Sequence[float], target: Sequence[float], duration: float,
                      count: int = 10
                      ) -> list[tuple[tuple[float, ...], tuple[float, ...], float]]:
    """Sample the cubic profile from ``start`` to ``target`` (see the module docstring).

    Args:
        start: the joints' current positions (not part of the result).
        target: the joints' target positions.
        duration: seconds the move takes, e.g. from :func:`step_duration`.
        count: how many points, evenly spaced in time, >= 1.

    Returns:
        ``count`` points ``(positions, velocities, time_from_start)``, at times
        ``duration * k / count`` for k = 1..count; the last is exactly ``target`` with zero
        velocities at ``duration``. Positions always lie between start and target; velocities
        stay within ``max_velocity`` when ``duration`` comes from :func:`step_duration`.

    Raises:
        ValueError: if the lengths differ, ``duration`` is not positive or ``count`` < 1.
    """
    _check_lengths(start, target)
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f'duration must be > 0 (got {duration!r}).')
    if count < 1:
        raise ValueError(f'count must be at least 1 (got {count}).')
    points = []
    for k in range(1, count):
        u = k / count
        shape = u * u * (3.0 - 2.0 * u)
        rate = 6.0 * u * (1.0 - u) / duration
        positions = tuple(
            min(max(q0 + (q1 - q0) * shape, min(q0, q1)), max(q0, q1))
            for q0, q1 in zip(start, target))
        velocities = tuple((q1 - q0) * rate for q0, q1 in zip(start, target))
        points.append((positions, velocities, duration * u))
    points.append((tuple(float(q) for q in target), tuple(0.0 for _ in target), float(duration)))
    return points


def worst_error(actual: Mapping[str, float], target: Mapping[str, float],
                joints: Sequence[Joint]) -> tuple[str, float, float] | None:
    """Find the joint farthest outside its tolerance.

    Only the joints of ``joints`` that ``target`` names are checked, so the arm's and the
    gripper's joints may be passed together.

    Args:
        actual: measured positions by joint name (from ``joint_states``).
        target: target positions by joint name.
        joints: the joints, for their tolerances.

    Returns:
        ``(name, error, tolerance)`` of the joint with the largest ``error / tolerance`` among
        those whose ``|actual - target|`` exceeds their tolerance (a non-finite measurement
        counts as the worst), or None when every checked joint is within its tolerance.

    Raises:
        ValueError: if ``actual`` has no position for a checked joint.
    """
    worst: tuple[str, float, float] | None = None
    worst_ratio = 0.0
    for joint in joints:
        if joint.name not in target:
            continue
        if joint.name not in actual:
            raise ValueError(f'no measured position of joint {joint.name}; the robot reports '
                             f'{", ".join(actual) or "no joints"}.')
        error = abs(actual[joint.name] - target[joint.name])
        ratio = error / joint.tolerance if math.isfinite(error) else math.inf
        if not error <= joint.tolerance and (worst is None or ratio > worst_ratio):
            worst, worst_ratio = (joint.name, error, joint.tolerance), ratio
    return worst


def describe_miss(name: str, error: float, tolerance: float, unit: str = 'rad') -> str:
    """Say how far a joint missed its target, for logs and failure messages.

    Args:
        name: the joint's name.
        error: its distance from the target.
        tolerance: its tolerance.
        unit: the joint's unit (``'m'`` for a prismatic finger).

    Returns:
        E.g. ``'joint elbow_joint is 0.310 rad from its target (tolerance 0.020)'``.
    """
    return f'joint {name} is {error:.3f} {unit} from its target (tolerance {tolerance:.3f})'
