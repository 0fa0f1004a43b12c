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

"""Tests of the scene camera node over real DDS, alone and in a closed loop with the mock arm.

The probe waits until the scene has taken in each message before sending the next one, so the
order of action and status messages is the order the test means, however late callbacks run.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from test.conftest import rosout_qos, spin_until  # noqa: E402

ROSOUT_QOS = rosout_qos()
from vlm_planner.config_paths import default_actions_file  # noqa: E402
from vlm_planner.core.actions import ActionLibrary  # noqa: E402
from vlm_planner.data.image_decoding import compressed_msg_to_rgb, image_msg_to_rgb  # noqa: E402
from vlm_planner.errors import ConfigError  # noqa: E402
from vlm_planner.ros.mock_manipulator_node import MockManipulatorNode  # noqa: E402
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from vlm_planner.ros.scene_camera_node import SceneCameraNode  # noqa: E402
from vlm_planner.sim.render import render  # noqa: E402
from vlm_planner.sim.tasks import parse_goal  # noqa: E402
from vlm_planner.sim.world import TabletopWorld  # noqa: E402

TIMEOUT = 10.0
LIBRARY = ActionLibrary.from_yaml(default_actions_file())


def _overrides(params):
    return [Parameter(k, value=v) for k, v in params.items()]


class Scene:
    """A scene camera plus a probe node that plays planner and manipulator and records outputs."""

    def __init__(self, executor, context, *, probe_first=True, **params):
        self.executor = executor
        self.context = context
        self.namespace = f'/scene_{uuid.uuid4().hex[:8]}'
        params.setdefault('rate', 20.0)
        self.images: list[Image] = []
        self.compressed: list[CompressedImage] = []
        self.goals: list[str] = []
        self.scene: list[dict] = []
        self.logs: list[Log] = []
        self.probe = rclpy.create_node('probe', context=context, namespace=self.namespace)
        executor.add_node(self.probe)
        self.action_pub = self.probe.create_publisher(String, 'action', COMMAND_QOS)
        self.status_pub = self.probe.create_publisher(String, 'manipulator/status', LATCHED_QOS)
        self.probe.create_subscription(Image, 'image', self.images.append, SENSOR_QOS)
        self.probe.create_subscription(CompressedImage, 'image/compressed', self.compressed.append,
                                       SENSOR_QOS)
        self.probe.create_subscription(
            String, 'scene/status', lambda m: self.scene.append(json.loads(m.data)), LATCHED_QOS)
        rosout = self.probe.create_subscription(Log, '/rosout', self.logs.append, ROSOUT_QOS)
        if probe_first:
            self.subscribe_goal()
        self.node = SceneCameraNode(context=context, namespace=self.namespace,
                                    parameter_overrides=_overrides(params))
        executor.add_node(self.node)
        assert spin_until(executor, lambda: (
            rosout.get_publisher_count() >= 2  # the probe's own and the camera's
            and self.action_pub.get_subscription_count() >= 1
            and self.status_pub.get_subscription_count() >= 1
            and self.scene and self.images), TIMEOUT), 'the scene camera did not come up'

    def subscribe_goal(self) -> None:
        self.probe.create_subscription(String, 'goal', lambda m: self.goals.append(m.data),
                                       LATCHED_QOS)

    def wait_log(self, text: str) -> None:
        """Spin until the scene camera logged a line containing ``text``."""
        logger = self.node.get_logger().name
        assert spin_until(self.executor, lambda: any(
            m.name == logger and text in m.msg for m in self.logs), TIMEOUT), \
            f'the scene never logged {text!r}'

    def spin(self, seconds: float) -> None:
        spin_until(self.executor, lambda: False, seconds)

    def manipulator(self, status: str) -> None:
        """Publish a manipulator status and wait until the scene has received it."""
        self.status_pub.publish(String(data=status))
        assert spin_until(self.executor, lambda: self.node.manipulator_status == status,
                          TIMEOUT), f'the scene did not receive status {status!r}'

    def act(self, label: str) -> None:
        """Publish an action and wait until the scene holds it as pending."""
        self.action_pub.publish(String(data=label))
        assert spin_until(self.executor, lambda: self.node.pending_action == label,
                          TIMEOUT), f'the scene did not take {label!r} as pending'

    def wait_scene(self, predicate) -> dict:
        assert spin_until(self.executor, lambda: self.scene and predicate(self.scene[-1]),
                          TIMEOUT), f'scene/status never matched; last: {self.scene[-1:]}'
        return self.scene[-1]

    def next_image(self) -> np.ndarray:
        count = len(self.images)
        assert spin_until(self.executor, lambda: len(self.images) > count, TIMEOUT)
        return image_msg_to_rgb(self.images[-1])


def test_publishes_frames_of_the_configured_size_and_encoding(executor, ros_context):
    scene = Scene(executor, ros_context, width=160, height=120, frame_id='overhead')
    msg = scene.images[-1]
    assert (msg.width, msg.height, msg.encoding, msg.step) == (160, 120, 'rgb8', 480)
    assert len(msg.data) == 160 * 120 * 3
    assert msg.header.frame_id == 'overhead'
    assert msg.header.stamp.sec > 0
    expected = render(TabletopWorld.default(), 160, 120)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), expected)
    assert not scene.compressed, 'image/compressed is off by default'


def test_bgr8_encoding_and_compressed_frames(executor, ros_context):
    scene = Scene(executor, ros_context, encoding='bgr8', publish_compressed=True, seed=4)
    msg = scene.images[-1]
    assert msg.encoding == 'bgr8'
    expected = render(TabletopWorld.random_initial(4))
    raw = np.frombuffer(bytes(msg.data), np.uint8).reshape(240, 320, 3)
    np.testing.assert_array_equal(raw[:, :, ::-1], expected)
    assert spin_until(executor, lambda: scene.compressed, TIMEOUT)
    assert scene.compressed[-1].format == 'jpeg'
    decoded = compressed_msg_to_rgb(scene.compressed[-1])
    assert decoded.shape == expected.shape
    assert np.abs(decoded.astype(int) - expected).mean() < 6.0


def test_frame_rate_follows_the_rate_parameter(executor, ros_context):
    scene = Scene(executor, ros_context, rate=4.0)
    count = len(scene.images)
    scene.spin(1.5)
    assert len(scene.images) - count <= 8, 'more frames than rate=4 Hz allows'
    assert spin_until(executor, lambda: len(scene.images) - count >= 3, TIMEOUT)


def test_goal_is_latched_for_late_subscribers(executor, ros_context):
    scene = Scene(executor, ros_context, probe_first=False,
                  goal='Stack the blue block onto the green block.')
    scene.spin(0.3)
    scene.subscribe_goal()
    assert spin_until(executor, lambda: scene.goals, TIMEOUT)
    assert scene.goals == ['stack the blue block on the green block']
    assert scene.scene[-1]['goal'] == 'stack the blue block on the green block'


def test_goal_not_published_when_disabled(executor, ros_context):
    scene = Scene(executor, ros_context, publish_goal=False)
    scene.spin(0.5)
    assert scene.goals == []
    assert scene.probe.count_publishers(f'{scene.namespace}/goal') == 0


def test_initial_status_reports_the_world(executor, ros_context):
    scene = Scene(executor, ros_context)
    status = scene.scene[-1]
    assert status == {
        'goal': 'put the red block in the bin', 'satisfied': False, 'steps_applied': 0,
        'slots': 4, 'held': None,
        'blocks': {'red': 'table:0', 'green': 'table:1', 'blue': 'table:2'},
        'last_action': None, 'last_result': None, 'last_applied': None,
        'expert_next': 'pick up the red block',
    }


def test_succeeded_action_changes_world_and_image(executor, ros_context):
    scene = Scene(executor, ros_context)
    scene.manipulator('idle')
    before = scene.next_image()
    scene.act('pick up the red block')
    scene.manipulator('executing')
    assert scene.scene[-1]['steps_applied'] == 0, 'applied before the manipulator finished'
    scene.manipulator('succeeded')
    status = scene.wait_scene(lambda s: s['steps_applied'] == 1)
    assert status['held'] == 'red'
    assert status['blocks']['red'] == 'gripper'
    assert status['last_action'] == 'pick up the red block'
    assert status['last_applied'] is True
    assert not status['satisfied']
    after = scene.next_image()
    assert not np.array_equal(before, after)
    world = TabletopWorld.default()
    world.apply(LIBRARY.get('pick up the red block'))
    np.testing.assert_array_equal(after, render(world))

    scene.act('put the held block in the bin')
    scene.manipulator('executing')
    scene.manipulator('succeeded')
    status = scene.wait_scene(lambda s: s['steps_applied'] == 2)
    assert status['satisfied'] is True
    assert status['blocks']['red'] == 'bin'


def test_failed_and_estopped_discard_the_action(executor, ros_context):
    scene = Scene(executor, ros_context)
    scene.manipulator('idle')
    scene.act('pick up the red block')
    scene.manipulator('executing')
    scene.manipulator('failed')
    status = scene.wait_scene(lambda s: s['last_action'] == 'pick up the red block')
    assert status['steps_applied'] == 0
    assert status['held'] is None
    assert 'failed' in status['last_result']
    assert scene.node.pending_action is None
    scene.manipulator('succeeded')  # a later success does not revive the discarded action
    scene.act('pick up the green block')
    scene.manipulator('executing')
    scene.manipulator('estopped')
    status = scene.wait_scene(lambda s: s['last_action'] == 'pick up the green block')
    assert 'estopped' in status['last_result']
    assert scene.node.pending_action is None
    scene.manipulator('idle')
    assert scene.scene[-1]['steps_applied'] == 0
    assert scene.node.world == TabletopWorld.default()


def test_heartbeat_of_previous_outcome_does_not_apply(executor, ros_context):
    scene = Scene(executor, ros_context)
    scene.manipulator('succeeded')  # left over from an earlier action
    scene.act('pick up the red block')
    scene.manipulator('succeeded')  # heartbeat, before the manipulator started executing
    scene.manipulator('executing')  # delivered after the heartbeat: that one was handled
    assert scene.node.world == TabletopWorld.default()
    assert scene.node.pending_action == 'pick up the red block'
    scene.manipulator('succeeded')
    scene.wait_scene(lambda s: s['held'] == 'red')


def test_actions_while_executing_are_ignored(executor, ros_context):
    scene = Scene(executor, ros_context)
    scene.manipulator('idle')
    scene.act('pick up the red block')
    scene.manipulator('executing')
    scene.action_pub.publish(String(data='pick up the blue block'))  # the arm rejects this one
    scene.wait_log("ignored 'pick up the blue block'")
    assert scene.node.pending_action == 'pick up the red block'
    scene.manipulator('succeeded')
    status = scene.wait_scene(lambda s: s['steps_applied'] == 1)
    assert status['held'] == 'red'


def test_infeasible_action_is_counted_but_changes_nothing(executor, ros_context):
    scene = Scene(executor, ros_context)
    scene.manipulator('idle')
    scene.act('put the held block in the bin')
    scene.manipulator('executing')
    scene.manipulator('succeeded')
    status = scene.wait_scene(lambda s: s['steps_applied'] == 1)
    assert status['last_applied'] is False
    assert 'gripper is empty' in status['last_result']
    assert scene.node.world == TabletopWorld.default()


def test_reset_restores_the_initial_world(executor, ros_context):
    scene = Scene(executor, ros_context, seed=11)
    initial = TabletopWorld.random_initial(11)
    assert scene.node.world == initial
    top = next(c for c in ('red', 'green', 'blue') if initial.is_clear(c))
    scene.manipulator('idle')
    scene.act(f'pick up the {top} block')
    scene.manipulator('executing')
    scene.manipulator('succeeded')
    scene.wait_scene(lambda s: s['held'] == top)

    client = scene.probe.create_client(Trigger, f'{scene.namespace}/scene_camera/reset')
    assert client.wait_for_service(timeout_sec=TIMEOUT)
    future = client.call_async(Trigger.Request())
    assert spin_until(executor, future.done, TIMEOUT)
    assert future.result().success
    status = scene.wait_scene(lambda s: s['steps_applied'] == 0)
    assert status['held'] is None
    assert status['blocks'] == initial.to_dict()['blocks']
    np.testing.assert_array_equal(scene.next_image(), render(initial))


def test_closed_loop_with_mock_manipulator(executor, ros_context):
    goal = 'stack the red block on the blue block'
    scene = Scene(executor, ros_context, goal=goal, seed=0)  # blue starts on red
    arm = MockManipulatorNode(context=ros_context, namespace=scene.namespace,
                              parameter_overrides=_overrides({'execution_time': 0.2}))
    executor.add_node(arm)
    arm_status: list[str] = []
    scene.probe.create_subscription(String, 'manipulator/status',
                                    lambda m: arm_status.append(m.data), LATCHED_QOS)
    assert spin_until(executor, lambda: 'idle' in arm_status, TIMEOUT)
    plan = parse_goal(goal).expert_plan(TabletopWorld.random_initial(0))
    assert len(plan) == 4
    for step, label in enumerate(plan, start=1):
        scene.action_pub.publish(String(data=label))
        scene.wait_scene(lambda s: s['steps_applied'] == step)
        assert scene.scene[-1]['last_applied'] is True, scene.scene[-1]
        assert spin_until(executor, lambda: arm.status == 'succeeded', TIMEOUT)
    assert scene.scene[-1]['satisfied'] is True
    assert scene.node.world.below('red') == 'blue'


@pytest.mark.parametrize('name, value', [
    ('goal', 'make me a sandwich'),
    ('rate', 0.0),
    ('width', 10),
    ('encoding', 'mono16'),
    ('seed', 'abc'),
])
def test_invalid_parameters_are_rejected(ros_context, name, value):
    with pytest.raises(ConfigError, match=name):
        SceneCameraNode(context=ros_context, parameter_overrides=_overrides({name: value}))
