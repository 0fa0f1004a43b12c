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

"""Tests of the mock manipulator node over real DDS.

Every positive check waits on a condition with a bounded timeout instead of a fixed time window, so
the tests stay correct when the shared executor delivers callbacks late on a busy machine.
"""

from __future__ import annotations

import time
import uuid

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.parameter import Parameter  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402

from test.conftest import spin_until  # noqa: E402
from test.ros.arm_probe import ArmProbe  # noqa: E402

from vlm_planner.core.actions import Action  # noqa: E402
from vlm_planner.errors import ConfigError  # noqa: E402
from vlm_planner.ros.mock_manipulator_node import (HOME_POSE, JOINT_NAMES,  # noqa: E402
                                                   JointMotion, MockManipulatorNode,
                                                   target_pose)

PICK_RED = 'pick up the red block'
PICK_GREEN = 'pick up the green block'
TIMEOUT = 10.0


class Arm(ArmProbe):
    """A mock manipulator plus a probe node that commands it and records what it publishes."""

    def __init__(self, executor, context, **params):
        namespace = f'/arm_{uuid.uuid4().hex[:8]}'
        params.setdefault('execution_time', 0.2)
        self.attach(executor, context, namespace, MockManipulatorNode(
            context=context, namespace=namespace,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]))
        assert spin_until(executor, self.probe_ready, TIMEOUT), 'the manipulator did not come up'


def test_action_executes_then_succeeds(executor, ros_context):
    arm = Arm(executor, ros_context)
    assert arm.node.status == 'idle'
    start = arm.send(PICK_RED)
    assert arm.wait_for('succeeded', start)
    done = next(t for t, s in arm.statuses if s == 'succeeded')
    assert done - start >= 0.15, 'succeeded before execution_time passed'
    assert arm.changes(start) == ['executing', 'succeeded']
    assert arm.node.current_action is None


def test_heartbeat_repeats_status(executor, ros_context):
    arm = Arm(executor, ros_context, status_rate=10.0)
    since = time.monotonic()
    assert spin_until(executor, lambda: sum(
        1 for t, s in arm.statuses if s == 'idle' and t >= since) >= 3, TIMEOUT)
    assert arm.changes(since) == []


def test_failure_rate_one_fails(executor, ros_context):
    arm = Arm(executor, ros_context, failure_rate=1.0)
    start = arm.send(PICK_RED)
    assert arm.wait_for('failed', start)
    assert arm.changes(start) == ['executing', 'failed']


def test_seeded_failures_are_reproducible(executor, ros_context):
    outcomes = []
    for _ in range(2):
        arm = Arm(executor, ros_context, failure_rate=0.5, seed=7, execution_time=0.05)
        runs = []
        for _ in range(4):
            start = arm.send(PICK_RED)
            assert spin_until(executor, lambda: len(arm.changes(start)) >= 2, TIMEOUT)
            assert arm.changes(start)[0] == 'executing'
            runs.append(arm.changes(start)[1])
        outcomes.append(runs)
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {'succeeded', 'failed'}


def test_unknown_action_fails_without_executing(executor, ros_context):
    arm = Arm(executor, ros_context)
    start = arm.send('juggle the blocks')
    assert arm.wait_for('failed', start)
    arm.spin(0.3)
    assert arm.changes(start) == ['failed']
    # The arm still works afterwards.
    start = arm.send(PICK_RED)
    assert arm.wait_for('succeeded', start)
    assert arm.changes(start) == ['executing', 'succeeded']


def test_action_while_executing_is_rejected(executor, ros_context):
    arm = Arm(executor, ros_context, execution_time=1.0)
    start = arm.send(PICK_RED)
    assert arm.wait_for('executing', start)
    arm.send(PICK_GREEN)
    assert arm.wait_log(f'rejected {PICK_GREEN!r}: still executing {PICK_RED!r}')
    # Judged from what the arm reported, not from its state at some instant: on a loaded machine
    # the log line can arrive after the red pick has already finished.
    assert arm.wait_log(f'{PICK_RED!r} succeeded')
    assert arm.wait_for('succeeded', start)
    done = time.monotonic()
    arm.spin(0.8)  # a queued action would start (and finish) in this time
    assert arm.changes(start) == ['executing', 'succeeded']
    assert arm.changes(done) == []
    assert not any(PICK_GREEN in line for line in arm.logs if 'rejected' not in line)


def test_estop_aborts_and_blocks_until_released(executor, ros_context):
    # Long enough that the estop arrives before the pick would finish, even on a loaded machine.
    arm = Arm(executor, ros_context, execution_time=3.0)
    start = arm.send(PICK_RED)
    assert arm.wait_for('executing', start)
    arm.estop_pub.publish(Bool(data=True))
    assert arm.wait_for('estopped', start)
    assert arm.wait_log(f'aborted {PICK_RED!r}')
    assert arm.node.current_action is None
    arm.send(PICK_GREEN)
    assert arm.wait_log(f'rejected {PICK_GREEN!r}: emergency stop')
    arm.spin(max(0.0, start + 3.3 - time.monotonic()))  # past the original execution_time
    assert arm.changes(start) == ['executing', 'estopped']
    assert arm.node.status == 'estopped'

    released = time.monotonic()
    arm.estop_pub.publish(Bool(data=False))
    assert arm.wait_for('idle', released)
    start = arm.send(PICK_GREEN)
    assert arm.wait_for('succeeded', start)
    assert arm.changes(released) == ['idle', 'executing', 'succeeded']


def test_joint_states_move_toward_the_action_pose(executor, ros_context):
    arm = Arm(executor, ros_context, execution_time=1.0, joint_state_rate=50.0)
    assert spin_until(executor, lambda: len(arm.joint_states) >= 2, TIMEOUT)
    first = arm.joint_states[-1]
    assert list(first.name) == list(JOINT_NAMES)
    assert list(first.position) == pytest.approx(HOME_POSE)
    assert list(first.velocity) == pytest.approx([0.0] * 6)
    assert first.header.stamp.sec > 0

    start = arm.send(PICK_RED)
    assert arm.wait_for('succeeded', start)
    goal = target_pose(Action(PICK_RED, 'pick', 'red block'))
    assert spin_until(executor, lambda: list(arm.joint_states[-1].position)
                      == pytest.approx(goal, abs=1e-6), TIMEOUT)
    pans = [m.position[0] for m in arm.joint_states]
    assert pans == sorted(pans, reverse=goal[0] < HOME_POSE[0]), 'the arm moved back and forth'
    # How many samples arrive mid-move depends on how busy the machine is; the profile itself is
    # checked in test_joint_motion_is_smooth.
    moving = [m for m in arm.joint_states if abs(m.position[0] - goal[0]) > 1e-6
              and abs(m.position[0] - HOME_POSE[0]) > 1e-6]
    for msg in moving:
        assert any(abs(v) > 1e-6 for v in msg.velocity)


def test_joint_motion_is_smooth():
    goal = target_pose(Action(PICK_RED, 'pick', 'red block'))
    motion = JointMotion(HOME_POSE)
    assert motion.position(5.0) == pytest.approx(HOME_POSE)
    motion.move_to(goal, now=10.0, duration=1.0)
    assert motion.position(10.0) == pytest.approx(HOME_POSE)
    assert motion.velocity(10.0) == pytest.approx([0.0] * 6)
    assert motion.position(11.0) == pytest.approx(goal)
    assert motion.position(12.0) == pytest.approx(goal)
    assert motion.velocity(11.5) == pytest.approx([0.0] * 6)
    pans = [motion.position(10.0 + k / 20)[0] for k in range(21)]
    span = abs(goal[0] - HOME_POSE[0])
    assert pans == sorted(pans, reverse=goal[0] < HOME_POSE[0])
    assert max(abs(a - b) for a, b in zip(pans, pans[1:])) < 0.1 * span
    middle = motion.position(10.5)
    assert all(min(h, g) < m < max(h, g) for h, g, m in zip(HOME_POSE, goal, middle) if h != g)
    assert abs(motion.velocity(10.5)[0]) == pytest.approx(1.5 * span)

    motion.stop(10.5)  # an estop freezes the joints mid-move
    assert motion.position(13.0) == pytest.approx(middle)
    assert motion.velocity(13.0) == pytest.approx([0.0] * 6)


def test_target_poses_differ_per_action():
    labels = [('pick up the red block', 'pick', 'red block'),
              ('pick up the blue block', 'pick', 'blue block'),
              ('put the held block in the bin', 'put', 'bin'),
              ('stack the held block on the red block', 'stack', 'red block')]
    poses = {target_pose(Action(*entry)) for entry in labels}
    assert len(poses) == len(labels)
    assert all(len(p) == 6 for p in poses)


@pytest.mark.parametrize('name, value', [
    ('execution_time', -0.5),
    ('failure_rate', 1.5),
    ('failure_rate', -0.1),
    ('status_rate', 0.0),
    ('joint_state_rate', -1.0),
    ('execution_time', 'slow'),
])
def test_invalid_parameters_are_rejected(ros_context, name, value):
    with pytest.raises(ConfigError, match=name):
        MockManipulatorNode(context=ros_context,
                            parameter_overrides=[Parameter(name, value=value)])


def test_missing_actions_file_is_rejected(ros_context, tmp_path):
    with pytest.raises(ConfigError, match='does not exist'):
        MockManipulatorNode(context=ros_context, parameter_overrides=[
            Parameter('actions_file', value=str(tmp_path / 'none.yaml'))])


def test_actions_file_parameter_selects_the_library(executor, ros_context, tmp_path):
    path = tmp_path / 'kitchen.yaml'
    path.write_text('name: kitchen\nactions:\n  - {label: open the fridge, verb: open}\n',
                    encoding='utf-8')
    arm = Arm(executor, ros_context, actions_file=str(path))
    assert arm.node.library.labels == ['open the fridge']
    start = arm.send(PICK_RED)
    assert arm.wait_for('failed', start)
    start = arm.send('open the fridge')
    assert arm.wait_for('succeeded', start)


@pytest.mark.parametrize('feedback', [True, False])
def test_an_action_the_simulated_scene_cannot_do_fails(executor, ros_context, feedback):
    import json

    from std_msgs.msg import String

    from vlm_planner.ros.qos import LATCHED_QOS

    arm = Arm(executor, ros_context, scene_feedback=feedback)
    scene = arm.probe.create_publisher(String, 'scene/status', LATCHED_QOS)
    # Green stands on red: red cannot be picked up, green can.
    scene.publish(String(data=json.dumps({'slots': 4, 'held': None, 'blocks': {
        'red': 'table:0', 'green': 'on:red', 'blue': 'table:2'}})))
    if feedback:
        assert spin_until(executor, lambda: arm.node._scene is not None, TIMEOUT)
    else:
        arm.spin(0.3)
    start = arm.send(PICK_RED)
    outcome = 'failed' if feedback else 'succeeded'
    assert arm.wait_for(outcome, start)
    assert arm.changes(start) == ['executing', outcome]
    if feedback:
        assert arm.wait_log('the green block is on top of it')
    start = arm.send(PICK_GREEN)
    assert arm.wait_for('succeeded', start)
    assert arm.changes(start) == ['executing', 'succeeded']
