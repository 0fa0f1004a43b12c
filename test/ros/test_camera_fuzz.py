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

"""Random camera messages over real DDS into a live planner node: no crash, planning goes on.

A scripted model answers instantly, so the test targets the node's image path (decoding, size
bound, keyframe buffer, stamps), not a model. Each example sends a few random messages from
:mod:`benchmarks.camera_messages` on the node's camera topic, waits until the node has handled
each one, then sends a good frame and calls ``~/plan``; the node must answer with a library
action and count no callback error. About 250 messages in all; benchmarks/fuzz_camera.py sends
10,000 to a node running the real tiny model.
"""

from __future__ import annotations

import random

from hypothesis import given, HealthCheck, settings, strategies as st
import pytest

rclpy = pytest.importorskip('rclpy')

from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from benchmarks.camera_messages import (describe, good_frame, random_compressed,  # noqa: E402
                                        random_raw, to_ros)
from test.conftest import spin_until  # noqa: E402
from test.core.scripted_backend import ScriptedBackend  # noqa: E402
from test.ros.planner_harness import GOAL, LABELS  # noqa: E402
from vlm_planner.config_paths import default_actions_file  # noqa: E402
from vlm_planner.core.actions import ActionLibrary  # noqa: E402
from vlm_planner.core.planner import Planner  # noqa: E402
from vlm_planner.core.strategies import make_strategy, StrategyConfig  # noqa: E402
from vlm_planner.ros.qos import SENSOR_QOS  # noqa: E402

FUZZ = settings(derandomize=True, max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


class FuzzedPlanner:
    """A planner node on one camera transport and a publisher that waits for each frame."""

    def __init__(self, planner, harness, transport: str) -> None:
        self.compressed = transport == 'compressed'
        self.harness = harness
        self.node = planner(planner=Planner(ScriptedBackend(probs=[0.1, 0.7, 0.2]),
                                            ActionLibrary.from_yaml(default_actions_file()),
                                            make_strategy(StrategyConfig())),
                            goal=GOAL, image_transport=transport,
                            # Every frame is compared with the last keyframe, none skipped.
                            **{'trigger.mode': 'service', 'keyframes.min_interval': 0.0})
        self.publisher = harness.node.create_publisher(
            CompressedImage if self.compressed else Image,
            'image/compressed' if self.compressed else 'image', SENSOR_QOS)
        assert spin_until(harness.executor,
                          lambda: self.publisher.get_subscription_count() >= 1, 10)

    def handled(self) -> int:
        stats = self.node.stats
        return stats['frames_received'] + stats['callback_errors']

    def send(self, msg) -> None:
        """Publish ``msg`` and wait until the node has handled it (decoded, dropped, or failed)."""
        before = self.handled()
        now = self.harness.node.get_clock().now().nanoseconds * 1e-9
        self.publisher.publish(to_ros(msg, now))
        assert spin_until(self.harness.executor, lambda: self.handled() > before, 10), (
            f'the planner never handled {describe(msg)}')

    def plan(self):
        return self.harness.call(Trigger, '/vlm_planner/plan')


@pytest.fixture(params=['raw', 'compressed'])
def fuzzed(request, planner, harness) -> FuzzedPlanner:
    return FuzzedPlanner(planner, harness, request.param)


@FUZZ
@given(rng=st.randoms(use_true_random=False), count=st.integers(1, 8))
def test_random_camera_messages_never_crash_the_node_and_planning_goes_on(
        fuzzed: FuzzedPlanner, rng: random.Random, count: int):
    make = random_compressed if fuzzed.compressed else random_raw
    errors = fuzzed.node.stats['callback_errors']  # the node lives on from example to example
    sent = []
    for _ in range(count):
        sent.append(make(rng))
        fuzzed.send(sent[-1])
    assert fuzzed.node.stats['callback_errors'] == errors, [describe(m) for m in sent]
    fuzzed.send(good_frame(rng, compressed=fuzzed.compressed))
    response = fuzzed.plan()
    assert response.success and response.message in LABELS, response.message
    assert fuzzed.node.stats['callback_errors'] == errors
