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

"""A live planner node and a probe node around it, in one process, for the reliability scripts.

The probe plays camera, task giver, e-stop button and manipulator status, records every action
and decision record the planner publishes, and calls its services. Both nodes spin on one
multi-threaded executor in a background thread (:class:`~vlm_planner.ros.spinning.ExecutorThread`)
in their own rclpy context, torn down in the order the package's own processes use.

Importing this module isolates the process's DDS traffic: ``ROS_DOMAIN_ID`` defaults to one of
101..200 drawn from the process id (the test suite uses 1..100), discovery stays on this host,
and the Hugging Face libraries stay offline.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from typing import Any, Callable

os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(101, 200)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Bool, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from vlm_planner.ros.planner_node import PlannerNode  # noqa: E402
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from vlm_planner.ros.spinning import ExecutorThread  # noqa: E402

GOAL = 'put the red block in the bin'


class Probe:
    """The planner's surroundings as one node: publishers for its inputs, recorders of outputs."""

    def __init__(self, context: rclpy.Context) -> None:
        self.node = rclpy.create_node('reliability_probe', context=context)
        node = self.node
        self.image_pub = node.create_publisher(Image, 'image', SENSOR_QOS)
        self.compressed_pub = node.create_publisher(CompressedImage, 'image/compressed',
                                                    SENSOR_QOS)
        self.goal_pub = node.create_publisher(String, 'goal', LATCHED_QOS)
        self.status_pub = node.create_publisher(String, 'manipulator/status', LATCHED_QOS)
        self.estop_pub = node.create_publisher(Bool, 'estop', COMMAND_QOS)
        self._lock = threading.Lock()
        #: (monotonic receive time, label) of every action heard.
        self.actions: list[tuple[float, str]] = []
        #: (monotonic receive time, record) of every decision record heard.
        self.decisions: list[tuple[float, dict[str, Any]]] = []
        node.create_subscription(String, 'action', self._on_action, COMMAND_QOS)
        node.create_subscription(String, 'decision', self._on_decision, COMMAND_QOS)
        #: (monotonic receive time, status) of every manipulator status heard.
        self.statuses: list[tuple[float, str]] = []
        node.create_subscription(String, 'manipulator/status', self._on_status, LATCHED_QOS)
        #: Distinct failures the planner reported on /diagnostics ('<what> failed: ...').
        self.failures: set[str] = set()
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self._clients: dict[str, Any] = {}

    def _on_action(self, msg: String) -> None:
        with self._lock:
            self.actions.append((time.monotonic(), msg.data))

    def _on_decision(self, msg: String) -> None:
        with self._lock:
            self.decisions.append((time.monotonic(), json.loads(msg.data)))

    def _on_status(self, msg: String) -> None:
        with self._lock:
            self.statuses.append((time.monotonic(), msg.data))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            for problem in status.message.split('; '):
                if ' failed: ' in problem:
                    with self._lock:
                        self.failures.add(problem[:300])

    def actions_since(self, start: float) -> list[str]:
        """Labels of the actions heard at or after monotonic time ``start``."""
        with self._lock:
            return [label for t, label in self.actions if t >= start]

    def decisions_since(self, start: float) -> list[dict[str, Any]]:
        """Decision records heard at or after monotonic time ``start``."""
        with self._lock:
            return [record for t, record in self.decisions if t >= start]

    def statuses_since(self, start: float) -> list[str]:
        """Manipulator statuses heard at or after monotonic time ``start``."""
        with self._lock:
            return [status for t, status in self.statuses if t >= start]

    def now(self) -> float:
        """The probe's ROS clock, in seconds."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def call(self, name: str, timeout: float = 120.0) -> Trigger.Response:
        """Call the Trigger service ``name`` and return its response.

        Raises:
            TimeoutError: the service is not offered or did not answer within ``timeout``.
        """
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self.node.create_client(Trigger, name)
        if not client.wait_for_service(timeout_sec=10.0):
            raise TimeoutError(f'{name} is not offered')
        future = client.call_async(Trigger.Request())
        if not wait_until(future.done, timeout):
            raise TimeoutError(f'{name} did not answer within {timeout} s')
        return future.result()


class PlannerRig:
    """A :class:`PlannerNode` with ``params`` and a :class:`Probe`, spinning until closed.

    Use as a context manager; ``nodes`` adds more nodes (built as ``make(context)``) to the same
    executor, e.g. a mock manipulator. With ``params`` None no planner is started here (one in
    another process is probed).
    """

    def __init__(self, params: dict[str, Any] | None,
                 nodes: tuple[Callable[[rclpy.Context], Node], ...] = (),
                 threads: int = 4) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=threads, context=self.context)
        self.probe = Probe(self.context)
        self.nodes: list[Node] = [self.probe.node, *(make(self.context) for make in nodes)]
        if params is not None:
            # The real tiny model unless told otherwise: these are checks of the node, and its
            # random choices reach every branch (held, needs help) a trained model rarely does.
            params = {'model.backend': 'tiny', **params}
            self._planner: PlannerNode | None = PlannerNode(
                context=self.context,
                parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
            self.nodes.insert(0, self._planner)
        else:
            self._planner = None
        for node in self.nodes:
            self.executor.add_node(node)
        self.spinner = ExecutorThread(self.executor).start()

    def __enter__(self) -> PlannerRig:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop spinning, destroy the nodes and shut the context down."""
        try:
            self.spinner.stop(destroy=self.nodes)
        finally:
            rclpy.try_shutdown(context=self.context)

    @property
    def planner(self) -> PlannerNode:
        """The planner node started here."""
        assert self._planner is not None, 'this rig probes a planner in another process'
        return self._planner

    @property
    def stats(self) -> dict[str, int]:
        """The planner's counters (as on /diagnostics)."""
        return self.planner.stats

    def alive(self) -> bool:
        """Whether the context is up and the executor still spins."""
        return self.context.ok() and self.spinner.is_alive() and self.spinner.error is None

    def wait_for_subscriber(self, publisher: Any, timeout: float = 10.0) -> None:
        """Wait until the planner subscribes to ``publisher``'s topic.

        Raises:
            TimeoutError: nobody subscribed within ``timeout`` s.
        """
        if not wait_until(lambda: publisher.get_subscription_count() >= 1, timeout):
            raise TimeoutError(f'nobody subscribes to {publisher.topic_name}')

    def set_goal(self, goal: str = GOAL, timeout: float = 10.0) -> None:
        """Publish ``goal`` (latched) and wait until the planner has it."""
        self.probe.goal_pub.publish(String(data=goal))
        if not wait_until(lambda: self.planner.goal == goal, timeout):
            raise TimeoutError('the planner did not take the goal')


class Repeater:
    """Calls ``step`` every ``period`` s on a background thread until stopped."""

    def __init__(self, step: Callable[[], None], period: float) -> None:
        self._step, self._period = step, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._step()

    def stop(self) -> None:
        """Stop and join the thread."""
        self._stop.set()
        self._thread.join()


def wait_until(predicate: Callable[[], Any], timeout: float, poll: float = 0.002) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` s pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


def rss_bytes() -> int:
    """Resident memory of this process, in bytes (from /proc/self/statm)."""
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """``rows`` under ``header`` as a Markdown table."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def write_json(path: str, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path``, creating its folder."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as out:
        json.dump(data, out, indent=2)
        out.write('\n')
