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

"""A probe of an arm node over DDS: commands it and records its status, joint states and log.

Shared by the tests of the mock manipulator and of the skill bridge, which keep one status
contract (``action`` and ``estop`` in, ``manipulator/status`` and ``joint_states`` out).
"""

from __future__ import annotations

import time

import rclpy
from rcl_interfaces.msg import Log
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String

from test.conftest import rosout_qos, spin_until
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS


class ArmProbe:
    """Probe node ``probe`` in ``namespace``, watching the arm node ``node``.

    Subclasses build their nodes, then call :meth:`attach` and wait on :meth:`probe_ready`.
    """

    #: Seconds the waits allow by default.
    timeout = 10.0

    def attach(self, executor, context, namespace: str, node) -> None:
        """Create the probe next to ``node`` (added to ``executor`` here)."""
        self.executor = executor
        self.node = node
        self.probe = rclpy.create_node('probe', context=context, namespace=namespace)
        executor.add_node(node)
        executor.add_node(self.probe)
        self.statuses: list[tuple[float, str]] = []
        self.joint_states: list[JointState] = []
        self.logs: list[str] = []
        self.action_pub = self.probe.create_publisher(String, 'action', COMMAND_QOS)
        self.estop_pub = self.probe.create_publisher(Bool, 'estop', COMMAND_QOS)
        self.probe.create_subscription(
            String, 'manipulator/status',
            lambda m: self.statuses.append((time.monotonic(), m.data)), LATCHED_QOS)
        self.probe.create_subscription(JointState, 'joint_states', self.joint_states.append,
                                       SENSOR_QOS)
        logger = node.get_logger().name
        self._rosout = self.probe.create_subscription(
            Log, '/rosout', lambda m: self.logs.append(m.msg) if m.name == logger else None,
            rosout_qos())

    def probe_ready(self) -> bool:
        """Whether the probe hears the arm's log and status and the arm hears the probe."""
        return (self._rosout.get_publisher_count() >= 2  # the probe's own and the arm's
                and self.action_pub.get_subscription_count() >= 1
                and self.estop_pub.get_subscription_count() >= 1
                and self.seen('idle'))

    def seen(self, status: str) -> bool:
        return any(s == status for _, s in self.statuses)

    def changes(self, since: float = 0.0) -> list[str]:
        """Status changes received since ``since``; heartbeat repeats are not changes."""
        out: list[str] = []
        previous = None
        for t, s in self.statuses:
            if t >= since and s != previous:
                out.append(s)
            previous = s
        return out

    def send(self, label: str) -> float:
        start = time.monotonic()
        self.action_pub.publish(String(data=label))
        return start

    def wait_for(self, status: str, since: float, timeout: float | None = None) -> bool:
        """Spin until the status changes to ``status`` after ``since``."""
        return spin_until(self.executor, lambda: status in self.changes(since),
                          timeout or self.timeout)

    def wait_log(self, text: str) -> bool:
        """Spin until the arm logged a line containing ``text``."""
        return spin_until(self.executor, lambda: any(text in line for line in self.logs),
                          self.timeout)

    def spin(self, seconds: float) -> None:
        spin_until(self.executor, lambda: False, seconds)
