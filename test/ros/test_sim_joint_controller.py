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

"""Tests of the simulated joint trajectory controller: its follower alone, then over real DDS.

The DDS tests wait on conditions with bounded timeouts and judge timing by the stamps of the
joint states (the node clock), not by when they arrived, so they hold on a busy machine.
"""

from __future__ import annotations

import uuid

import pytest

rclpy = pytest.importorskip('rclpy')

from builtin_interfaces.msg import Duration  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.parameter_client import AsyncParameterClient  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from test.conftest import rosout_qos, spin_until  # noqa: E402
from vlm_planner.errors import ConfigError  # noqa: E402
from vlm_planner.ros.mock_manipulator_node import HOME_POSE, JOINT_NAMES  # noqa: E402
from vlm_planner.ros.qos import COMMAND_QOS, SENSOR_QOS  # noqa: E402
from vlm_planner.ros.sim_joint_controller_node import (  # noqa: E402
    JointFollower, SIM_JOINT_CONTROLLER_PARAMS, SimJointControllerNode, split_list)

TIMEOUT = 10.0
ALL_JOINTS = JOINT_NAMES + ('finger_joint',)
ROSOUT_QOS = rosout_qos()


# ------------------------------------------------------------------------------ JointFollower


def make_follower(velocity: float = 1.0) -> JointFollower:
    return JointFollower(('a', 'b', 'c'), (0.0, 1.0, -1.0), (velocity,) * 3, now=10.0)


def run(follower: JointFollower, until: float, dt: float = 0.01) -> list[tuple[float, ...]]:
    """Step ``follower`` every ``dt`` s up to ``until``; return the positions after each step."""
    seen = []
    t = follower.time
    while t < until - 1e-12:
        t = min(until, t + dt)
        follower.step(t)
        seen.append(follower.positions)
    return seen


def test_set_point_interpolates_linearly_between_points():
    follower = make_follower(velocity=100.0)
    follower.follow(['a', 'b'], [(1.0, [1.0, 3.0]), (3.0, [0.0, 3.0])], now=10.0)
    assert follower.setpoints(10.0) == pytest.approx((0.0, 1.0, -1.0))
    assert follower.setpoints(10.5) == pytest.approx((0.5, 2.0, -1.0))
    assert follower.setpoints(11.0) == pytest.approx((1.0, 3.0, -1.0))
    assert follower.setpoints(12.0) == pytest.approx((0.5, 3.0, -1.0))
    assert follower.setpoints(20.0) == pytest.approx((0.0, 3.0, -1.0))
    # Fast joints track the set-point exactly.
    run(follower, 10.5)
    assert follower.positions == pytest.approx((0.5, 2.0, -1.0))
    assert follower.velocities == pytest.approx((1.0, 2.0, 0.0))
    run(follower, 13.5)
    assert follower.positions == pytest.approx((0.0, 3.0, -1.0))
    follower.step(13.6)
    assert follower.velocities == pytest.approx((0.0, 0.0, 0.0))


def test_a_future_start_holds_until_then():
    follower = make_follower()
    follower.follow(['a'], [(0.5, [0.5])], now=10.0, start=11.0)
    assert follower.setpoints(10.9)[0] == pytest.approx(0.0)
    assert follower.setpoints(11.25)[0] == pytest.approx(0.25)
    run(follower, 11.0)
    assert follower.position('a') == pytest.approx(0.0)
    run(follower, 11.5)
    assert follower.position('a') == pytest.approx(0.5)


def test_velocity_limit_is_never_exceeded_and_a_too_fast_trajectory_arrives_late():
    follower = make_follower(velocity=0.5)
    follower.follow(['a', 'c'], [(0.2, [1.0, 1.0])], now=10.0)  # asks for 5 and 10 rad/s
    dt = 0.02
    seen = [follower.positions] + run(follower, 15.0, dt)
    for before, after in zip(seen, seen[1:]):
        assert all(abs(q - p) <= 0.5 * dt + 1e-12 for p, q in zip(before, after))
    assert max(abs(v) for v in follower.velocities) <= 0.5
    # 1 rad at 0.5 rad/s takes 2 s, 2 rad takes 4 s, not the 0.2 s asked for.
    at = {round(10.0 + dt * k, 6): p for k, p in enumerate(seen)}
    assert at[11.9][0] < 1.0
    assert at[12.0][0] == pytest.approx(1.0)
    assert at[13.9][2] < 1.0
    assert at[14.0][2] == pytest.approx(1.0)
    assert follower.positions == pytest.approx((1.0, 1.0, 1.0))


def test_a_new_trajectory_replaces_the_running_one_from_the_current_state():
    follower = make_follower()
    follower.follow(['a', 'b'], [(1.0, [1.0, 2.0])], now=10.0)
    run(follower, 10.5)
    assert follower.positions[:2] == pytest.approx((0.5, 1.5))
    follower.follow(['a'], [(1.0, [-0.5])], now=10.5)  # b keeps its trajectory
    assert follower.setpoints(10.5)[0] == pytest.approx(0.5)
    assert follower.setpoints(11.0)[0] == pytest.approx(0.0)
    run(follower, 11.0)
    assert follower.positions[:2] == pytest.approx((0.0, 2.0))
    run(follower, 12.0)
    assert follower.positions[:2] == pytest.approx((-0.5, 2.0))
    values = [p[0] for p in run(follower, 13.0)]
    assert values == pytest.approx([-0.5] * len(values))


def test_an_empty_trajectory_holds_the_joints_where_they_are():
    follower = make_follower()
    follower.follow(['a', 'b'], [(2.0, [2.0, 3.0])], now=10.0)
    run(follower, 10.5)
    held = follower.positions
    follower.hold(['a'], now=10.5)
    run(follower, 13.0)
    assert follower.position('a') == pytest.approx(held[0])
    assert follower.position('b') == pytest.approx(3.0)  # not named: carries on
    assert follower.velocities == pytest.approx((0.0, 0.0, 0.0))


def test_a_stalled_joint_does_not_move_and_catches_up_when_released():
    follower = make_follower()
    follower.follow(['a', 'b'], [(1.0, [1.0, 2.0])], now=10.0)
    run(follower, 10.25)
    follower.set_stalled(['b'])
    stuck = follower.position('b')
    positions = run(follower, 11.5)
    assert [p[1] for p in positions] == pytest.approx([stuck] * len(positions))
    assert follower.velocities[1] == 0.0
    assert follower.position('a') == pytest.approx(1.0)
    follower.set_stalled([])
    run(follower, 11.6)
    assert follower.velocities[1] == pytest.approx(1.0)  # at the limit, toward the set-point
    run(follower, 13.0)
    assert follower.position('b') == pytest.approx(2.0)
    with pytest.raises(ValueError, match='unknown joints x'):
        follower.set_stalled(['x'])


@pytest.mark.parametrize('names, points, message', [
    (['a', 'elbow', 'x'], [(1.0, [0.0, 0.0, 0.0])], 'unknown joints elbow, x'),
    (['a', 'a'], [(1.0, [0.0, 0.0])], 'named twice'),
    ([], [(1.0, [])], 'names no joints'),
    (['a'], [(1.0, [0.0, 1.0])], '2 positions for 1 joints'),
    (['a'], [(1.0, [1.0]), (1.0, [2.0])], 'times must increase'),
    (['a'], [(-1.0, [1.0])], 'must be >= 0'),
    (['a'], [(1.0, [float('nan')])], 'not finite'),
])
def test_a_bad_trajectory_is_rejected_and_moves_nothing(names, points, message):
    follower = make_follower()
    follower.follow(['b'], [(1.0, [2.0])], now=10.0)
    with pytest.raises(ValueError, match=message):
        follower.follow(names, points, now=10.5)
    assert follower.time == 10.0  # not even advanced
    run(follower, 12.0)
    assert follower.positions == pytest.approx((0.0, 2.0, -1.0))


def test_a_forward_command_moves_at_the_velocity_limit():
    follower = make_follower(velocity=2.0)
    follower.command({'c': 1.0}, now=10.0)
    run(follower, 10.5)
    assert follower.position('c') == pytest.approx(0.0)
    assert follower.velocities[2] == pytest.approx(2.0)
    run(follower, 11.5)
    assert follower.position('c') == pytest.approx(1.0)
    with pytest.raises(ValueError, match='unknown joints z'):
        follower.command({'z': 0.0}, now=11.5)


def test_follower_rejects_inconsistent_construction():
    with pytest.raises(ValueError, match='unique'):
        JointFollower(('a', 'a'), (0.0, 0.0), (1.0, 1.0))
    with pytest.raises(ValueError, match='as many positions'):
        JointFollower(('a', 'b'), (0.0,), (1.0, 1.0))
    with pytest.raises(ValueError, match='> 0'):
        JointFollower(('a',), (0.0,), (0.0,))


def test_default_parameters_describe_the_arm_and_finger():
    defaults = {p.name: p.default for p in SIM_JOINT_CONTROLLER_PARAMS}
    assert tuple(split_list(defaults['joints'])) == ALL_JOINTS
    assert [float(v) for v in split_list(defaults['initial_positions'])] == list(HOME_POSE) + [
        0.04]
    assert split_list(defaults['trajectory_topics']) == [
        'joint_trajectory_controller/joint_trajectory', 'gripper_controller/joint_trajectory']
    assert [p.name for p in SIM_JOINT_CONTROLLER_PARAMS if p.dynamic] == ['stalled_joints']


# ------------------------------------------------------------------------------------- over DDS


class Rig:
    """A simulated controller plus a probe node that commands it and records its joint states."""

    def __init__(self, executor, context, **params):
        self.executor = executor
        namespace = f'/sim_{uuid.uuid4().hex[:8]}'
        self.node = SimJointControllerNode(
            context=context, namespace=namespace,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        self.probe = rclpy.create_node('probe', context=context, namespace=namespace)
        executor.add_node(self.node)
        executor.add_node(self.probe)
        self.states: list[JointState] = []
        self.logs: list[str] = []
        self.arm_pub = self.probe.create_publisher(
            JointTrajectory, 'joint_trajectory_controller/joint_trajectory', COMMAND_QOS)
        self.forward_pub = self.probe.create_publisher(
            Float64MultiArray, 'gripper_forward_controller/commands', COMMAND_QOS)
        self.probe.create_subscription(JointState, 'joint_states', self.states.append, SENSOR_QOS)
        logger = self.node.get_logger().name
        rosout = self.probe.create_subscription(
            Log, '/rosout', lambda m: self.logs.append(m.msg) if m.name == logger else None,
            ROSOUT_QOS)
        assert spin_until(executor, lambda: (
            rosout.get_publisher_count() >= 2
            and self.arm_pub.get_subscription_count() >= 1
            and self.forward_pub.get_subscription_count() >= 1
            and len(self.states) >= 2), TIMEOUT), 'the simulated controller did not come up'

    def now(self) -> float:
        return self.probe.get_clock().now().nanoseconds * 1e-9

    def send(self, names, points) -> float:
        """Publish a trajectory of (seconds, positions) points; return the clock when sent."""
        msg = JointTrajectory()
        msg.joint_names = list(names)
        for seconds, positions in points:
            msg.points.append(JointTrajectoryPoint(
                positions=[float(p) for p in positions],
                time_from_start=Duration(sec=int(seconds),
                                         nanosec=int(round(seconds % 1 * 1e9)))))
        sent = self.now()
        self.arm_pub.publish(msg)
        return sent

    def position(self, msg: JointState, joint: str) -> float:
        return msg.position[list(msg.name).index(joint)]

    def latest(self, joint: str) -> float:
        return self.position(self.states[-1], joint)

    def first_at(self, joint: str, target: float, tol: float = 1e-3) -> JointState | None:
        return next((m for m in self.states if abs(self.position(m, joint) - target) <= tol),
                    None)

    def reaches(self, targets: dict, tol: float = 1e-3) -> bool:
        return spin_until(self.executor, lambda: all(
            abs(self.latest(j) - t) <= tol for j, t in targets.items()), TIMEOUT)

    def spin(self, seconds: float) -> None:
        spin_until(self.executor, lambda: False, seconds)


def stamp(msg: JointState) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_joint_states_start_at_the_initial_positions(executor, ros_context):
    rig = Rig(executor, ros_context)
    msg = rig.states[-1]
    assert tuple(msg.name) == ALL_JOINTS
    assert list(msg.position) == pytest.approx(list(HOME_POSE) + [0.04])
    assert list(msg.velocity) == pytest.approx([0.0] * 7)
    assert stamp(msg) == pytest.approx(rig.now(), abs=TIMEOUT)


def test_a_trajectory_is_followed_in_about_its_time(executor, ros_context):
    rig = Rig(executor, ros_context)
    goal = {'shoulder_pan_joint': 0.3, 'elbow_joint': 1.27}
    sent = rig.send(goal, [(0.25, [0.15, 1.42]), (0.5, list(goal.values()))])
    assert rig.reaches(goal)
    arrived = rig.first_at('shoulder_pan_joint', 0.3, tol=1e-6)
    assert arrived is not None
    assert stamp(arrived) >= sent + 0.5 - 0.02, 'arrived before the trajectory ended'
    assert stamp(arrived) <= sent + 0.5 + 5.0
    assert rig.latest('shoulder_lift_joint') == pytest.approx(HOME_POSE[1])  # not named
    pans = [rig.position(m, 'shoulder_pan_joint') for m in rig.states]
    assert pans == sorted(pans), 'the arm moved back and forth'
    assert all(abs(v) <= 1.0 + 1e-9 for m in rig.states for v in m.velocity)


def test_a_trajectory_with_an_unknown_joint_is_rejected(executor, ros_context):
    rig = Rig(executor, ros_context)
    rig.send(['shoulder_pan_joint', 'tail_joint'], [(0.2, [0.5, 0.5])])
    assert spin_until(executor, lambda: any(
        'unknown joints tail_joint' in line for line in rig.logs), TIMEOUT), rig.logs
    rig.spin(0.5)
    assert rig.latest('shoulder_pan_joint') == pytest.approx(HOME_POSE[0])


def test_a_forward_command_moves_the_finger(executor, ros_context):
    rig = Rig(executor, ros_context, max_velocities='1, 1, 1, 1, 1, 1, 0.1')
    rig.forward_pub.publish(Float64MultiArray(data=[0.0]))
    assert rig.reaches({'finger_joint': 0.0}, tol=1e-6)
    moving = [m for m in rig.states if 1e-6 < rig.position(m, 'finger_joint') < 0.04 - 1e-6]
    assert all(m.velocity[-1] == pytest.approx(-0.1) for m in moving)


def test_stalling_a_joint_at_run_time_stops_it_while_the_others_arrive(executor, ros_context):
    rig = Rig(executor, ros_context)
    client = AsyncParameterClient(rig.probe, rig.node.get_fully_qualified_name())
    assert client.wait_for_services(TIMEOUT)
    goal = {'shoulder_pan_joint': 0.5, 'elbow_joint': 2.57}
    rig.send(goal, [(4.0, list(goal.values()))])
    assert spin_until(executor, lambda: rig.latest('elbow_joint') > 1.62, TIMEOUT)
    future = client.set_parameters([Parameter('stalled_joints', value='elbow_joint')])
    assert spin_until(executor, future.done, TIMEOUT)
    assert [r.successful for r in future.result().results] == [True]
    stalled = rig.now()  # joint states stamped from now on were published after the stall
    assert rig.reaches({'shoulder_pan_joint': 0.5})
    after = [m for m in rig.states if stamp(m) >= stalled]
    elbows = [rig.position(m, 'elbow_joint') for m in after]
    assert len(elbows) >= 2
    assert elbows == pytest.approx([elbows[0]] * len(elbows))
    assert elbows[0] < 2.57 - 0.1
    assert all(m.velocity[2] == 0.0 for m in after)

    future = client.set_parameters([Parameter('stalled_joints', value='')])
    assert spin_until(executor, future.done, TIMEOUT)
    assert rig.reaches({'elbow_joint': 2.57})


def test_stalling_an_unknown_joint_is_refused(executor, ros_context):
    rig = Rig(executor, ros_context)
    [result] = rig.node.set_parameters([Parameter('stalled_joints', value='elbow_joint, knee')])
    assert not result.successful
    assert 'unknown joints knee' in result.reason
    assert rig.node.follower.stalled == frozenset()
    [result] = rig.node.set_parameters([Parameter('rate', value=5.0)])
    assert not result.successful


@pytest.mark.parametrize('params, message', [
    ({'initial_positions': '0.0, 1.0'}, 'initial_positions has 2 values for 7 joints'),
    ({'initial_positions': '0, 0, zero, 0, 0, 0, 0'}, "initial_positions must be comma-separated"),
    ({'joints': 'a, b', 'initial_positions': ''}, 'forward_command_joints: unknown joints '
     'finger_joint'),
    ({'joints': 'a, a', 'initial_positions': ''}, 'named more than once: a'),
    ({'joints': ' , '}, 'names no joints'),
    ({'max_velocities': '1, 2'}, 'max_velocities has 2 values for 7 joints'),
    ({'max_velocities': '1, 1, 1, 1, 1, 1, 0'}, 'max_velocities must hold values > 0'),
    ({'max_velocity': 0.0}, 'max_velocity'),
    ({'rate': -5.0}, 'rate'),
    ({'stalled_joints': 'knee'}, 'stalled_joints: unknown joints knee'),
    ({'trajectory_topics': 'not a topic'}, 'valid topic names'),
])
def test_bad_parameters_are_rejected_at_construction(ros_context, params, message):
    with pytest.raises(ConfigError, match=message):
        SimJointControllerNode(context=ros_context, parameter_overrides=[
            Parameter(k, value=v) for k, v in params.items()])
