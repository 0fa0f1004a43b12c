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

"""Integration tests of the planner node over real DDS, with a real tiny transformers model."""

from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from test.conftest import spin_until  # noqa: E402
from test.ros.planner_harness import GOAL, LABELS  # noqa: E402
from vlm_planner.ros.qos import SENSOR_QOS  # noqa: E402


def test_plan_service_publishes_one_library_action_and_a_full_decision_record(planner, harness):
    planner(**{'trigger.mode': 'service'})
    harness.set_goal(GOAL)
    for _ in range(3):
        harness.frame()
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert response.success, response.message
    assert response.message in LABELS
    assert spin_until(harness.executor, lambda: harness.actions and harness.decisions, 10)
    assert harness.actions == [response.message]
    record = harness.decisions[0]
    assert record['action'] == response.message and record['goal'] == GOAL
    assert record['candidates'] == LABELS
    assert len(record['scores']) == len(LABELS)
    assert sum(record['scores']) == pytest.approx(1.0, abs=1e-4)
    assert record['strategy'] == 'base' and record['untrained'] is True
    assert record['trigger'] == 'service' and record['published'] is True
    assert record['latency_s'] > 0 and len(record['keyframe_stamps']) >= 1


def test_idle_manipulator_triggers_decisions_and_waits_for_the_outcome(planner, harness):
    planner(**{'trigger.settle_time': 0.0})
    harness.set_goal(GOAL)
    harness.frame()
    harness.status_pub.publish(String(data='idle'))
    assert spin_until(harness.executor, lambda: (harness.frame() or len(harness.actions)) >= 1,
                      20)
    harness.spin(1.0)  # still executing as far as the planner knows: no second decision
    harness.frame()
    assert len(harness.actions) == 1
    harness.status_pub.publish(String(data='executing'))
    harness.spin(0.2)
    harness.status_pub.publish(String(data='succeeded'))
    assert spin_until(harness.executor, lambda: (harness.frame() or len(harness.actions)) >= 2,
                      20)
    assert all(a in LABELS for a in harness.actions)


def test_bad_frames_are_reported_and_the_node_keeps_planning(planner, harness):
    planner(**{'trigger.mode': 'service', 'diagnostics_period': 0.2})
    harness.set_goal(GOAL)
    harness.frame(encoding='32FC1')
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert not response.success and 'no camera frame' in response.message
    assert spin_until(harness.executor, lambda: any(
        '32FC1' in s.message for d in harness.diagnostics for s in d.status), 5)
    harness.frame(step=10)  # step shorter than a row
    harness.frame()
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert response.success and response.message in LABELS
    assert spin_until(harness.executor, lambda: any(
        kv.key == 'last_stages' for kv in harness.diagnostics[-1].status[0].values), 5)
    values = {kv.key: kv.value for kv in harness.diagnostics[-1].status[0].values}
    assert int(values['frames_rejected']) >= 1
    # Where the last decision's time went, and what the model keeps between decisions.
    assert values['last_stages'].startswith('prepare ') and 'prefilled' in values['last_stages']
    assert values['model_caching'] == 'prepared keyframes, vision features, prompt prefix'


def test_plan_is_refused_without_goal_or_with_stale_frames(planner, harness):
    planner(**{'trigger.mode': 'service', 'max_frame_age': 0.5})
    harness.frame()
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert not response.success and 'no goal' in response.message
    harness.set_goal(GOAL)
    harness.spin(1.0)
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert not response.success and 'old' in response.message and 'max_frame_age' in (
        response.message)
    assert harness.actions == []


def test_strategy_switches_at_run_time_and_bad_values_are_refused(planner, harness):
    planner(**{'trigger.mode': 'service'})
    result = harness.call(SetParameters, '/vlm_planner/set_parameters', SetParameters.Request(
        parameters=[Parameter('strategy.name', value='nope').to_parameter_msg()]))
    assert not result.results[0].successful and 'choose one of' in result.results[0].reason
    result = harness.call(SetParameters, '/vlm_planner/set_parameters', SetParameters.Request(
        parameters=[Parameter('model.path', value='/x').to_parameter_msg()]))
    assert not result.results[0].successful
    result = harness.call(SetParameters, '/vlm_planner/set_parameters', SetParameters.Request(
        parameters=[Parameter('strategy.name', value='reflect').to_parameter_msg(),
                    Parameter('goal', value=GOAL).to_parameter_msg()]))
    assert result.results[0].successful
    harness.frame()
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert response.success
    assert spin_until(harness.executor, lambda: harness.decisions, 10)
    assert harness.decisions[-1]['strategy'] == 'reflect'
    assert harness.decisions[-1]['goal'] == GOAL


def test_low_confidence_decision_is_recorded_but_no_action_goes_out(planner, harness):
    planner(**{'trigger.mode': 'service', 'min_confidence': 0.99, 'goal': GOAL})
    harness.frame()
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert not response.success and 'below min_confidence' in response.message
    assert spin_until(harness.executor, lambda: harness.decisions, 10)
    assert harness.decisions[0]['published'] is False
    harness.spin(0.3)
    assert harness.actions == []


def test_reset_forgets_keyframes(planner, harness):
    node = planner(**{'trigger.mode': 'service'})
    for _ in range(3):
        harness.frame()
    assert node.session.buffer.latest is not None
    assert harness.call(Trigger, '/vlm_planner/reset').success
    assert node.session.buffer.latest is None and len(node.session.buffer) == 0


def test_compressed_transport_and_annotated_debug_image(planner, harness):
    from sensor_msgs.msg import CompressedImage
    from vlm_planner.ros.conversions import rgb_to_compressed_msg
    planner(**{'trigger.mode': 'service', 'image_transport': 'compressed', 'goal': GOAL})
    compressed = harness.node.create_publisher(CompressedImage, 'image/compressed', SENSOR_QOS)
    debug = []
    harness.node.create_subscription(Image, 'debug_image', debug.append, 1)
    rgb = np.full((60, 80, 3), (200, 30, 30), np.uint8)
    stamp = harness.node.get_clock().now().to_msg()
    harness.publish_and_wait(compressed, rgb_to_compressed_msg(rgb, 'png', stamp=stamp))
    harness.frame(wait=False)  # raw frames are not listened to in this mode
    harness.spin(0.3)
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert response.success and response.message in LABELS
    assert spin_until(harness.executor, lambda: debug, 10), 'no debug image'
    assert debug[0].width >= 480 and debug[0].encoding == 'rgb8'
    # The debug image shows the compressed (red) frame, not the raw random one.
    image = debug[0]
    pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(image.height, image.width, 3)
    assert pixels[-5, image.width // 2, 0] > 150


def test_the_model_card_recommendations_reach_the_node(planner, harness, tmp_path):
    from vlm_planner.models.model_card import read_model_card, write_model_card
    from vlm_planner.models.tiny import build_tiny_model
    import dataclasses
    folder = build_tiny_model(tmp_path / 'model')
    card = read_model_card(folder)
    write_model_card(folder, dataclasses.replace(
        card, recommended={'strategy.scoring': 'likelihood', 'model.max_frames': 2}))
    node = planner(**{'model.backend': 'transformers', 'model.path': str(folder),
                      'trigger.mode': 'service', 'goal': GOAL})
    assert node.ports.values['strategy.scoring'] == 'likelihood'
    assert node.ports.planner.strategy.config.scoring == 'likelihood'
    assert node.ports.planner.backend.max_frames == 2
    harness.frame()
    assert harness.call(Trigger, '/vlm_planner/plan').success
