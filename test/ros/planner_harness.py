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

"""A test node that plays camera, task giver and manipulator around a planner node."""

from __future__ import annotations

import json

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, String

from test.conftest import spin_until
from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.ros.conversions import rgb_to_image_msg
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS

LABELS = ActionLibrary.from_yaml(default_actions_file()).labels
GOAL = 'put the red block in the bin'
GOAL = 'put the red block in the bin'


class Harness:
    """A test node that plays camera, task giver and manipulator, and records the outputs."""

    def __init__(self, executor, context):
        """Create the harness node on ``executor`` in ``context``."""
        self.executor = executor
        self.node = rclpy.create_node('harness', context=context)
        executor.add_node(self.node)
        self.image_pub = self.node.create_publisher(Image, 'image', SENSOR_QOS)
        self.goal_pub = self.node.create_publisher(String, 'goal', LATCHED_QOS)
        self.status_pub = self.node.create_publisher(String, 'manipulator/status', LATCHED_QOS)
        self.estop_pub = self.node.create_publisher(Bool, 'estop', COMMAND_QOS)
        self.actions, self.decisions, self.diagnostics = [], [], []
        self.node.create_subscription(String, 'action', lambda m: self.actions.append(m.data),
                                      COMMAND_QOS)
        self.node.create_subscription(
            String, 'decision', lambda m: self.decisions.append(json.loads(m.data)), COMMAND_QOS)
        self.node.create_subscription(DiagnosticArray, '/diagnostics',
                                      lambda m: self.diagnostics.append(m), 10)
        self.rng = np.random.default_rng(0)
        self.planner = None  # the node under test, once started

    def frame(self, encoding='rgb8', wait=True, shape=(60, 80), stamp=None, **overrides):
        """Publish a random frame; with ``wait``, return once the planner has handled it.

        Waiting makes the tests independent of discovery and callback delays on a busy machine:
        a best-effort frame sent before the planner's subscription matched would be lost.
        """
        rgb = self.rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        msg = rgb_to_image_msg(rgb, 'rgb8', stamp or self.node.get_clock().now().to_msg())
        for key, value in overrides.items():
            setattr(msg, key, value)
        msg.encoding = encoding
        self.publish_and_wait(self.image_pub, msg, wait)

    def publish_and_wait(self, publisher, msg, wait=True):
        if not wait:
            publisher.publish(msg)
            return
        assert spin_until(self.executor, lambda: publisher.get_subscription_count() >= 1, 10), (
            f'nobody subscribes to {publisher.topic_name}')
        handled = self.planner.stats['frames_received']
        publisher.publish(msg)
        assert spin_until(self.executor,
                          lambda: self.planner.stats['frames_received'] > handled, 10), (
            'the planner did not receive the frame')

    def set_goal(self, goal):
        """Publish the goal and wait until the planner has it."""
        self.goal_pub.publish(String(data=goal))
        assert spin_until(self.executor, lambda: self.planner.goal == goal, 10), 'no goal came'

    def spin(self, seconds):
        spin_until(self.executor, lambda: False, timeout=seconds)

    def call(self, service_type, name, request=None, timeout=30.0):
        client = self.node.create_client(service_type, name)
        assert client.wait_for_service(timeout_sec=10.0), f'{name} not offered'
        future = client.call_async(request or service_type.Request())
        assert spin_until(self.executor, future.done, timeout), f'{name} did not answer'
        return future.result()

    def diagnostic_values(self) -> dict:
        """The key-value pairs of the newest planner diagnostics message."""
        assert spin_until(self.executor, lambda: self.diagnostics, 10), 'no diagnostics'
        return {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values}
