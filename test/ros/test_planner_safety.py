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

"""The live planner under faults, over real DDS: it never crashes, never acts blind, always stops.

A scripted model answers instantly, so these tests target the node and its session, not a model.
"""

from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage  # noqa: E402
from std_msgs.msg import Bool, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from test.conftest import spin_until  # noqa: E402
from test.core.scripted_backend import ScriptedBackend  # noqa: E402
from test.ros.planner_harness import GOAL, LABELS  # noqa: E402
from vlm_planner.config_paths import default_actions_file  # noqa: E402
from vlm_planner.core.actions import ActionLibrary  # noqa: E402
from vlm_planner.core.planner import Planner  # noqa: E402
from vlm_planner.core.strategies import make_strategy, StrategyConfig  # noqa: E402
from vlm_planner.ros.conversions import rgb_to_compressed_msg  # noqa: E402
from vlm_planner.ros.qos import SENSOR_QOS  # noqa: E402


def scripted_planner(probs=(0.1, 0.7, 0.2)):
    return Planner(ScriptedBackend(probs=list(probs)),
                   ActionLibrary.from_yaml(default_actions_file()),
                   make_strategy(StrategyConfig()))


@pytest.fixture
def start(planner):
    """A planner node over the scripted model, on the service trigger unless told otherwise."""
    def start_node(**params):
        params.setdefault('trigger.mode', 'service')
        params.setdefault('diagnostics_period', 0.2)
        return planner(planner=scripted_planner(), **params)
    return start_node


def plan(harness):
    return harness.call(Trigger, '/vlm_planner/plan')


@pytest.mark.parametrize('transport', ['raw', 'compressed'])
@pytest.mark.parametrize('shape', [(8, 8), (16, 16), (20, 240), (1, 1), (240, 3)])
def test_frames_smaller_than_a_thumbnail_neither_kill_nor_stop_the_planner(start, harness,
                                                                           shape, transport):
    node = start(goal=GOAL, image_transport=transport)
    if transport == 'raw':
        harness.frame(shape=shape)
        harness.frame()  # a normal frame after the small one crashed the old node
    else:
        compressed = harness.node.create_publisher(CompressedImage, 'image/compressed',
                                                   SENSOR_QOS)
        for image in (np.zeros((*shape, 3), np.uint8), np.zeros((60, 80, 3), np.uint8)):
            stamp = harness.node.get_clock().now().to_msg()
            harness.publish_and_wait(compressed, rgb_to_compressed_msg(image, 'png',
                                                                       stamp=stamp))
    assert node.stats['frames_received'] == 2 and node.stats['frames_rejected'] == 0
    response = plan(harness)
    assert response.success and response.message in LABELS, response.message
    assert node.stats['callback_errors'] == 0


def test_an_exception_in_a_callback_is_contained_counted_and_reported(start, harness):
    node = start(goal=GOAL)
    harness.frame()  # matched and handled
    original = node.session.add_frame
    calls = []

    def add_frame_failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError('unexpected fault in a callback')
        return original(*args, **kwargs)
    node.session.add_frame = add_frame_failing_once
    harness.frame(wait=False)
    assert spin_until(harness.executor, lambda: node.stats['callback_errors'] == 1, 5)
    harness.frame()
    assert plan(harness).success  # still planning
    assert spin_until(harness.executor, lambda: any(
        'unexpected fault' in s.message for d in harness.diagnostics for s in d.status), 5)


def test_a_frame_stamped_in_the_future_does_not_blind_the_planner(start, harness):
    node = start(goal=GOAL)
    now = harness.node.get_clock().now().nanoseconds
    future = Time(sec=now // 10 ** 9 + 3600, nanosec=0)
    harness.frame(stamp=future)
    assert node.stats['frames_from_future'] == 1
    response = plan(harness)
    assert not response.success and 'no camera frame' in response.message
    harness.frame()
    response = plan(harness)
    assert response.success, response.message
    assert max(harness.decisions[-1]['keyframe_stamps']) < now * 1e-9 + 60


@pytest.mark.parametrize('source', ['estop topic', 'manipulator status'])
@pytest.mark.parametrize('mode', ['timer', 'idle', 'service'])
def test_no_action_while_estopped_by_any_path_and_none_after_release_until_resumed(
        start, harness, source, mode):
    start(goal=GOAL, **{'trigger.mode': mode, 'trigger.period': 0.2,
                        'trigger.settle_time': 0.0})
    harness.frame()
    if source == 'estop topic':
        assert spin_until(harness.executor,
                          lambda: harness.estop_pub.get_subscription_count() >= 1, 10)
        harness.estop_pub.publish(Bool(data=True))
    else:
        harness.status_pub.publish(String(data='estopped'))
    assert spin_until(harness.executor, lambda: harness.planner.session.estopped, 10)
    harness.actions.clear()
    for _ in range(8):  # about 1.6 s of timer ticks, idle reports and service calls
        harness.frame()
        harness.status_pub.publish(String(data='idle' if source == 'estop topic'
                                          else 'estopped'))
        response = plan(harness)
        assert not response.success and 'estop' in response.message
    assert harness.actions == []
    if source == 'estop topic':
        harness.estop_pub.publish(Bool(data=False))
    harness.status_pub.publish(String(data='idle'))
    assert spin_until(harness.executor, lambda: not harness.planner.session.estopped, 10)
    for _ in range(5):  # released, but nobody said to resume: nothing by itself
        harness.frame()
        harness.spin(0.2)
    assert harness.actions == [] and not plan(harness).success
    assert harness.call(Trigger, '/vlm_planner/resume').success
    harness.frame()
    if mode == 'service':
        assert plan(harness).success
    assert spin_until(harness.executor, lambda: harness.frame() or harness.actions, 10)
    assert all(a in LABELS for a in harness.actions)


def test_dry_run_publishes_decisions_but_never_an_action(start, harness):
    start(goal=GOAL, dry_run=True, **{'trigger.mode': 'timer', 'trigger.period': 0.1})
    for _ in range(5):
        harness.frame()
        harness.spin(0.1)
    assert spin_until(harness.executor, lambda: len(harness.decisions) >= 2, 10)
    assert harness.actions == []
    assert all(d['published'] is False and d['dry_run'] for d in harness.decisions)


def test_max_decision_rate_bounds_the_timer(start, harness):
    start(goal=GOAL, max_decision_rate=2.0, **{'trigger.mode': 'timer',
                                               'trigger.period': 0.05})
    for _ in range(10):
        harness.frame()
        harness.spin(0.1)
    stamps = [d['stamp'] for d in harness.decisions]
    assert 1 <= len(stamps) <= 4  # about 1 s at 2/s; 20 at the timer's own period


def test_a_huge_goal_is_rejected_and_the_node_stays_responsive(start, harness):
    node = start(goal=GOAL, max_goal_chars=1000)
    harness.goal_pub.publish(String(data='put ' * 250_000))  # 1 MB
    assert spin_until(harness.executor, lambda: node.stats['goals_rejected'] == 1, 10)
    assert node.goal == GOAL
    harness.frame()
    assert plan(harness).success
    values = harness.diagnostic_values()
    assert len(values['goal']) <= 200


def test_a_decoded_frame_larger_than_max_image_pixels_is_dropped(start, harness):
    node = start(goal=GOAL, max_image_pixels=60 * 80 - 1)
    harness.frame()  # 60 x 80
    assert node.stats['frames_rejected'] == 1 and node.session.buffer.latest is None


def test_goal_from_a_volatile_publisher_works_with_a_qos_override(start, harness):
    node = start(**{'qos_overrides./goal.subscription.durability': 'volatile'})
    volatile = harness.node.create_publisher(String, 'goal', QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE))
    assert spin_until(harness.executor, lambda: volatile.get_subscription_count() >= 1, 10)
    volatile.publish(String(data=GOAL))
    assert spin_until(harness.executor, lambda: node.goal == GOAL, 10)


def test_an_incompatible_goal_publisher_is_reported_on_diagnostics(start, harness):
    start()
    harness.node.create_publisher(String, 'goal', QoSProfile(
        depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    assert spin_until(harness.executor, lambda: any(
        'incompatible QoS' in s.message and 'qos_overrides./goal' in s.message
        for d in harness.diagnostics for s in d.status), 15)


def test_a_qos_override_changes_only_that_subscription(start, harness):
    from vlm_planner.ros.qos import LATCHED_QOS
    start(**{'qos_overrides./goal.subscription.durability': 'volatile'})
    assert LATCHED_QOS.durability == DurabilityPolicy.TRANSIENT_LOCAL


def test_an_action_the_arm_reports_failed_is_not_chosen_again_until_one_succeeds(
        start, harness):
    node = start(goal=GOAL)
    harness.frame()
    first = plan(harness)
    assert first.success and first.message == LABELS[1]  # the scripted model's favourite
    for status in ('executing', 'failed'):
        harness.status_pub.publish(String(data=status))
    assert spin_until(harness.executor, lambda: node.session.failed_actions == (LABELS[1],), 10)
    harness.frame()
    second = plan(harness)
    assert second.success and second.message == LABELS[2]
    assert spin_until(harness.executor, lambda: len(harness.decisions) == 2, 10)
    assert LABELS[1] not in harness.decisions[-1]['candidates']
    assert spin_until(harness.executor,
                      lambda: harness.diagnostic_values().get('avoided_actions') == LABELS[1], 10)
    for status in ('executing', 'succeeded'):
        harness.status_pub.publish(String(data=status))
    assert spin_until(harness.executor, lambda: node.session.failed_actions == (), 10)
    harness.frame()
    assert plan(harness).message == LABELS[1]
