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

"""A simulated ros2_control joint trajectory controller, for tests and demos without a robot.

Topics (all names relative, so they follow the node's namespace and remappings):

* subscribes each of ``trajectory_topics`` (trajectory_msgs/JointTrajectory; by default
  ``joint_trajectory_controller/joint_trajectory`` and ``gripper_controller/joint_trajectory``):
  a trajectory for any subset of the simulated joints;
* subscribes ``forward_command_topic`` (std_msgs/Float64MultiArray; by default
  ``gripper_forward_controller/commands``): new targets of ``forward_command_joints``, in order,
  approached at the velocity limit;
* publishes ``joint_states`` (sensor_msgs/JointState) at ``rate`` Hz: name, position and velocity
  of every joint, stamped with the node clock.

As in ros2_control's ``joint_trajectory_controller``, a new trajectory replaces the running one
for the joints it names (the others carry on), starting from their current positions at
``header.stamp`` (zero: on reception); a trajectory without points holds its joints where they
are. The set-point interpolates linearly in time between the points, and each joint follows it no
faster than its velocity limit, so a trajectory that is too fast arrives late, as on a real arm. A
trajectory naming an unknown joint is rejected with a logged error and moves nothing. Joints named
in ``stalled_joints`` (changeable at run time) are blocked: they stay where they are until
released, then catch up with their set-point. The simulation itself is :class:`JointFollower`,
plain Python with the time passed in.
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Any, Iterable, Mapping, Sequence

from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidTopicNameException
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from vlm_planner.errors import ConfigError
from vlm_planner.params import Param
from vlm_planner.ros.mock_manipulator_node import HOME_POSE, JOINT_NAMES
from vlm_planner.ros.node_main import run_node, SelfCleaningNode
from vlm_planner.ros.parameters import declare_params
from vlm_planner.ros.qos import COMMAND_QOS

#: The simulated gripper joint (prismatic, metres), after the six arm joints.
FINGER_JOINT = 'finger_joint'
#: The finger's start position: open.
FINGER_OPEN = 0.04


def _join(values: Iterable[Any]) -> str:
    return ', '.join(str(v) for v in values)


SIM_JOINT_CONTROLLER_PARAMS = (
    Param('joints', _join(JOINT_NAMES + (FINGER_JOINT,)),
          'Comma-separated names of the simulated joints.'),
    Param('initial_positions', _join(HOME_POSE + (FINGER_OPEN,)),
          'Comma-separated start positions (rad or m), one per joint; empty: all 0.'),
    Param('max_velocity', 1.0, 'Velocity limit of every joint (rad/s or m/s).', above=0.0),
    Param('max_velocities', '', 'Comma-separated per-joint velocity limits (rad/s or m/s), one '
          'per joint; empty: max_velocity for all.'),
    Param('trajectory_topics',
          'joint_trajectory_controller/joint_trajectory, gripper_controller/joint_trajectory',
          'Comma-separated topics of trajectory_msgs/JointTrajectory to follow.'),
    Param('forward_command_topic', 'gripper_forward_controller/commands',
          'Topic of std_msgs/Float64MultiArray targets of forward_command_joints; empty: none.'),
    Param('forward_command_joints', FINGER_JOINT,
          'Comma-separated joints set, in order, by each forward command.'),
    Param('rate', 50.0, 'Hz of the simulation steps and of joint_states.', above=0.0),
    Param('stalled_joints', '', 'Comma-separated joints that are blocked and do not move; '
          'empty: none.', dynamic=True),
)


def split_list(text: str) -> list[str]:
    """Split a comma-separated parameter into its stripped, non-empty items."""
    return [item.strip() for item in text.split(',') if item.strip()]


def _floats(name: str, text: str) -> list[float]:
    values = []
    for item in split_list(text):
        try:
            value = float(item)
        except ValueError:
            raise ConfigError(f'parameter {name} must be comma-separated numbers, got '
                              f'{item!r} in {text!r}.') from None
        if not math.isfinite(value):
            raise ConfigError(f'parameter {name} must hold finite numbers, got {item!r}.')
        values.append(value)
    return values


class JointFollower:
    """The simulated joints: trajectories in, velocity-limited positions out; time passed in.

    Each joint has its own plan, a list of knots (time, position) that the set-point interpolates
    linearly; before the first knot it is the first position, after the last the last one. On
    every :meth:`step` each joint that is not stalled moves toward its set-point by at most its
    velocity limit times the time passed.

    Args:
        names: the joint names.
        positions: their start positions, where they are held.
        max_velocities: their velocity limits (> 0).
        now: the time (s) of the start state.

    Raises:
        ValueError: duplicate names, or lengths or values that do not fit.
    """

    def __init__(self, names: Sequence[str], positions: Sequence[float],
                 max_velocities: Sequence[float], now: float = 0.0) -> None:
        self.names = tuple(names)
        if len(set(self.names)) != len(self.names):
            doubled = sorted({n for n in self.names if self.names.count(n) > 1})
            raise ValueError(f'joint names must be unique; named more than once: '
                             f'{_join(doubled)}')
        if len(positions) != len(self.names) or len(max_velocities) != len(self.names):
            raise ValueError(f'{len(self.names)} joints need as many positions and velocity '
                             f'limits, got {len(positions)} and {len(max_velocities)}')
        if not all(math.isfinite(p) for p in positions):
            raise ValueError(f'positions must be finite, got {list(positions)}')
        if not all(math.isfinite(v) and v > 0.0 for v in max_velocities):
            raise ValueError(f'velocity limits must be finite and > 0, got {list(max_velocities)}')
        self.max_velocities = tuple(float(v) for v in max_velocities)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._positions = [float(p) for p in positions]
        self._velocities = [0.0] * len(self.names)
        self._plans: list[tuple[list[float], list[float]]] = [([now], [p]) for p in positions]
        self._stalled: frozenset[str] = frozenset()
        self._time = now

    # ----------------------------------------------------------------------------------- state

    @property
    def time(self) -> float:
        """When (s) the state was last advanced to."""
        return self._time

    @property
    def positions(self) -> tuple[float, ...]:
        """The actual joint positions."""
        return tuple(self._positions)

    @property
    def velocities(self) -> tuple[float, ...]:
        """The joint velocities of the last step (0 for a joint that did not move)."""
        return tuple(self._velocities)

    def position(self, name: str) -> float:
        """Return the actual position of joint ``name``."""
        return self._positions[self._index[name]]

    @property
    def stalled(self) -> frozenset[str]:
        """The joints that are blocked."""
        return self._stalled

    def set_stalled(self, names: Iterable[str]) -> None:
        """Block the joints ``names`` (and release all others).

        Raises:
            ValueError: a name is not a joint of this follower.
        """
        names = list(names)
        self._check_known(names)
        self._stalled = frozenset(names)
        for name in self._stalled:
            self._velocities[self._index[name]] = 0.0

    def unknown(self, names: Iterable[str]) -> list[str]:
        """Return the names (in order) that are not joints of this follower."""
        return [n for n in names if n not in self._index]

    def _check_known(self, names: Sequence[str]) -> None:
        unknown = self.unknown(names)
        if unknown:
            raise ValueError(f'unknown joints {_join(unknown)}; the joints are '
                             f'{_join(self.names)}')
        if len(set(names)) != len(names):
            raise ValueError(f'joints named twice in {_join(names)}')

    def setpoints(self, now: float) -> tuple[float, ...]:
        """Return the commanded position of every joint at time ``now``."""
        return tuple(_interpolate(times, values, now) for times, values in self._plans)

    # -------------------------------------------------------------------------------- commands

    def follow(self, names: Sequence[str], points: Sequence[tuple[float, Sequence[float]]],
               now: float, start: float | None = None) -> None:
        """Replace the plans of the joints ``names`` with a trajectory; others carry on.

        The state is first advanced to ``now``; the set-point then runs from the joints' actual
        positions at ``start`` to each point at ``start`` plus its time from start. No points
        means hold the joints where they are.

        Args:
            names: the joints the trajectory moves (a subset of :attr:`names`).
            points: (time from start in s, one position per name) pairs, times increasing.
            now: the current time (s).
            start: when the trajectory starts (None: ``now``).

        Raises:
            ValueError: unknown or repeated joints, or malformed points; nothing changes then.
        """
        names = list(names)
        if not names:
            raise ValueError('the trajectory names no joints')
        self._check_known(names)
        previous = -math.inf
        for k, (offset, positions) in enumerate(points):
            if not math.isfinite(offset) or offset < 0.0:
                raise ValueError(f'point {k} has time_from_start {offset}; it must be >= 0')
            if offset <= previous:
                raise ValueError(f'point {k} has time_from_start {offset} s, not after the '
                                 f'previous point ({previous} s); times must increase')
            previous = offset
            if len(positions) != len(names):
                raise ValueError(f'point {k} has {len(positions)} positions for '
                                 f'{len(names)} joints')
            if not all(math.isfinite(p) for p in positions):
                raise ValueError(f'point {k} has a position that is not finite: '
                                 f'{list(positions)}')
        self.step(now)
        t0 = now if start is None else start
        for j, name in enumerate(names):
            i = self._index[name]
            times = [t0] + [t0 + offset for offset, _ in points]
            values = [self._positions[i]] + [float(positions[j]) for _, positions in points]
            self._plans[i] = (times, values)

    def hold(self, names: Sequence[str], now: float) -> None:
        """Stop the joints ``names`` where they are at ``now`` (an empty trajectory)."""
        self.follow(names, [], now)

    def command(self, targets: Mapping[str, float], now: float) -> None:
        """Set new targets of some joints, approached at their velocity limits (a forward command).

        Raises:
            ValueError: unknown joints or a target that is not finite; nothing changes then.
        """
        self._check_known(list(targets))
        if not all(math.isfinite(v) for v in targets.values()):
            raise ValueError(f'targets must be finite, got {dict(targets)}')
        self.step(now)
        for name, target in targets.items():
            self._plans[self._index[name]] = ([now], [float(target)])

    def step(self, now: float) -> None:
        """Advance the joints to time ``now`` (an earlier or equal time changes nothing)."""
        dt = now - self._time
        if dt <= 0.0:
            return
        self._time = now
        for i, name in enumerate(self.names):
            if name in self._stalled:
                self._velocities[i] = 0.0
                continue
            times, values = self._plans[i]
            error = _interpolate(times, values, now) - self._positions[i]
            reach = self.max_velocities[i] * dt
            if abs(error) <= reach:
                self._positions[i] += error
                moved = error
            else:
                moved = math.copysign(reach, error)
                self._positions[i] += moved
            self._velocities[i] = moved / dt
        # A joint that has arrived reports velocity 0 from its next step on.


def _interpolate(times: list[float], values: list[float], now: float) -> float:
    index = bisect.bisect_right(times, now)
    if index == 0:
        return values[0]
    if index == len(times):
        return values[-1]
    t0, t1 = times[index - 1], times[index]
    v0, v1 = values[index - 1], values[index]
    return v0 + (v1 - v0) * (now - t0) / (t1 - t0)


def _seconds(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class SimJointControllerNode(SelfCleaningNode):
    """Follows joint trajectories and forward commands and publishes joint states (module doc).

    Args:
        **kwargs: passed to :class:`rclpy.node.Node` (e.g. ``context``, ``namespace``,
            ``parameter_overrides``).

    Raises:
        ConfigError: if a parameter is invalid (wrong type, range or number of items).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__('sim_joint_controller', **kwargs)

    def setup(self) -> None:
        """Read the parameters and create the follower, publishers, subscriptions and timer."""
        values = declare_params(self, SIM_JOINT_CONTROLLER_PARAMS)
        joints = split_list(values['joints'])
        if not joints:
            raise ConfigError('parameter joints names no joints; give comma-separated names.')
        positions = _floats('initial_positions', values['initial_positions'])
        positions = positions or [0.0] * len(joints)
        if len(positions) != len(joints):
            raise ConfigError(f'parameter initial_positions has {len(positions)} values for '
                              f'{len(joints)} joints ({_join(joints)}); give one per joint.')
        limits = _floats('max_velocities', values['max_velocities'])
        if not limits:
            limits = [values['max_velocity']] * len(joints)
        elif len(limits) != len(joints):
            raise ConfigError(f'parameter max_velocities has {len(limits)} values for '
                              f'{len(joints)} joints ({_join(joints)}); give one per joint, or '
                              'leave it empty to use max_velocity.')
        elif any(v <= 0.0 for v in limits):
            raise ConfigError(f'parameter max_velocities must hold values > 0, got '
                              f'{values["max_velocities"]!r}.')
        try:
            self._follower = JointFollower(joints, positions, limits, self._now())
        except ValueError as exc:
            raise ConfigError(f'parameter joints: {exc}.') from exc
        self._forward_joints = split_list(values['forward_command_joints'])
        for name in ('stalled_joints', 'forward_command_joints'):
            self._check_joints(name, values[name])
        self._follower.set_stalled(split_list(values['stalled_joints']))
        self._lock = threading.Lock()  # set_parameters may run outside the executor

        # Reliable with a short queue, like joint_state_broadcaster; best-effort readers match too.
        self._joint_pub = self.create_publisher(JointState, 'joint_states', COMMAND_QOS)
        self._trajectory_topics = split_list(values['trajectory_topics'])
        forward_topic = values['forward_command_topic'].strip()
        try:
            for topic in self._trajectory_topics:
                self.create_subscription(
                    JointTrajectory, topic,
                    lambda msg, topic=topic: self._on_trajectory(msg, topic), COMMAND_QOS)
            if forward_topic:
                self.create_subscription(Float64MultiArray, forward_topic,
                                         self._on_forward_command, COMMAND_QOS)
        except InvalidTopicNameException as exc:
            raise ConfigError(f'parameters trajectory_topics and forward_command_topic must hold '
                              f'valid topic names: {exc}') from exc
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(1.0 / values['rate'], self._on_step)
        self.get_logger().info(
            f'ready: {len(joints)} joints ({_join(joints)}), following '
            f'{_join(self._trajectory_topics) or "no trajectory topics"}'
            f'{", forward commands on " + forward_topic if forward_topic else ""}, '
            f'{values["rate"]} Hz')

    # ----------------------------------------------------------------------------------- state

    @property
    def follower(self) -> JointFollower:
        """The simulated joints (read it under the node's callbacks or after spinning)."""
        return self._follower

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _check_joints(self, name: str, text: str) -> None:
        """Raise :class:`ConfigError` if the list parameter ``name`` holds unknown or repeats."""
        try:
            names = split_list(text)
            unknown = self._follower.unknown(names)
            if unknown:
                raise ValueError(f'unknown joints {_join(unknown)}; the joints are '
                                 f'{_join(self._follower.names)}')
            if len(set(names)) != len(names):
                raise ValueError(f'joints named twice in {text!r}')
        except ValueError as exc:
            raise ConfigError(f'parameter {name}: {exc}.') from exc

    def _on_step(self) -> None:
        now = self.get_clock().now()
        with self._lock:
            self._follower.step(now.nanoseconds * 1e-9)
            positions, velocities = self._follower.positions, self._follower.velocities
        msg = JointState()
        msg.header.stamp = now.to_msg()
        msg.name = list(self._follower.names)
        msg.position = list(positions)
        msg.velocity = list(velocities)
        self._joint_pub.publish(msg)

    # ------------------------------------------------------------------------------- callbacks

    def _on_trajectory(self, msg: JointTrajectory, topic: str) -> None:
        names = list(msg.joint_names)
        points = [(_seconds(p.time_from_start), list(p.positions)) for p in msg.points]
        stamp = _seconds(msg.header.stamp)
        with self._lock:
            now = self._now()
            try:
                self._follower.follow(names, points, now, start=stamp if stamp > 0.0 else None)
            except ValueError as exc:
                self.get_logger().error(f'rejected the trajectory on {topic}: {exc}; '
                                        'nothing moved')
                return
        if points:
            self.get_logger().debug(f'following {len(points)} points for {_join(names)} '
                                    f'over {points[-1][0]:.3f} s')
        else:
            self.get_logger().debug(f'holding {_join(names)}')

    def _on_forward_command(self, msg: Float64MultiArray) -> None:
        data = list(msg.data)
        if len(data) != len(self._forward_joints):
            self.get_logger().error(
                f'rejected a forward command of {len(data)} values: it needs one per joint of '
                f'forward_command_joints ({_join(self._forward_joints)}); nothing moved')
            return
        with self._lock:
            try:
                self._follower.command(dict(zip(self._forward_joints, data)), self._now())
            except ValueError as exc:
                self.get_logger().error(f'rejected a forward command: {exc}; nothing moved')

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        table = {p.name: p for p in SIM_JOINT_CONTROLLER_PARAMS}
        stalled: list[str] | None = None
        for param in params:
            if param.name not in table:
                continue  # not ours (use_sim_time, qos_overrides.*): rclpy handles it
            if not table[param.name].dynamic:
                return SetParametersResult(successful=False,
                                           reason=f'{param.name} is read-only; restart the node.')
            try:
                value = table[param.name].check(param.value)
                self._check_joints(param.name, value)
            except ConfigError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            stalled = split_list(value)  # stalled_joints is the one dynamic parameter
        if stalled is not None:
            with self._lock:
                self._follower.step(self._now())  # the joints moved until now
                self._follower.set_stalled(stalled)
            self.get_logger().info(f'stalled joints: {_join(stalled) or "none"}')
        return SetParametersResult(successful=True)


def main(args: list[str] | None = None) -> int:
    """Run the simulated controller until Ctrl-C or shutdown; return the process exit status."""
    return run_node(SimJointControllerNode, 'sim_joint_controller', args)


if __name__ == '__main__':
    raise SystemExit(main())
