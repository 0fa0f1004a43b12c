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

"""Record the planner's decisions (or any topics) into a rosbag2 folder while it runs.

:class:`DecisionRecorder` subscribes to its topics in serialized form and hands every message,
stamped with its receive time (on the node's clock, or on the clock it is given: a replay's
recording time, see :func:`vlm_planner.ros.player.play_bag`), to one writer thread that owns a
:class:`~vlm_planner.data.bag_writer.BagWriter`. Storage handles stay in that one thread, the
callbacks never wait on the disk, and :meth:`DecisionRecorder.close` (or destroying the node)
writes the rest and closes the bag so that ``rosbags`` reads it afterwards.
"""

from __future__ import annotations

import functools
from pathlib import Path
import queue
import threading
from typing import Callable, Iterable, Mapping

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from vlm_planner.data.bag_io import IMAGE_TYPES, STORAGES
from vlm_planner.errors import BagError, ConfigError, VlmPlannerError
from vlm_planner.ros.message_types import message_class
from vlm_planner.ros.qos import SENSOR_QOS

#: Type of a recorded topic given without one.
DEFAULT_TYPE = 'std_msgs/msg/String'
#: What the planner publishes: its JSON decision records and the chosen action labels.
DEFAULT_TOPICS = {'decision': DEFAULT_TYPE, 'action': DEFAULT_TYPE}
#: Reliable, volatile, and deep enough that a burst of decisions is not dropped while recording.
RECORD_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)


def parse_record_topics(specs: Iterable[str]) -> dict[str, str]:
    """Topics to record from ``NAME`` or ``NAME:TYPE`` strings; none given: the defaults.

    Args:
        specs: e.g. ``['decision', 'debug_image:sensor_msgs/msg/Image']``; a name without a type
            is recorded as ``std_msgs/msg/String``.

    Returns:
        Topic name -> message type name.

    Raises:
        ConfigError: A name is empty.
    """
    topics: dict[str, str] = {}
    for spec in specs:
        name, _, msgtype = spec.partition(':')
        if not name:
            raise ConfigError(f'cannot record {spec!r}: expected TOPIC or TOPIC:TYPE, e.g. '
                              'decision or debug_image:sensor_msgs/msg/Image.')
        topics[name] = msgtype or DEFAULT_TYPE
    return topics or dict(DEFAULT_TOPICS)


class DecisionRecorder(Node):
    """Writes every message of its topics, with its receive time, into a rosbag2 folder."""

    def __init__(self, path: str | Path, *, topics: Mapping[str, str] | None = None,
                 storage: str = 'sqlite3', clock: Callable[[], int] | None = None,
                 **kwargs) -> None:
        """Open the bag and subscribe.

        Args:
            path: Bag folder to create; it must not exist yet.
            topics: Topic name -> message type name (default: ``decision`` and ``action``).
                Relative names resolve in the node's namespace; the bag stores the full names.
            storage: ``sqlite3`` or ``mcap``.
            clock: Returns the receive time to stamp a message with, in ns (default: the node's
                clock, which follows ``/clock`` under ``use_sim_time``).
            **kwargs: Passed to :class:`rclpy.node.Node` (``context``, ``namespace``...).

        Raises:
            ConfigError: ``storage`` is unknown.
            BagError: ``path`` exists already or the bag cannot be created.
            MessageTypeError: A topic's message type cannot be loaded.
        """
        if storage not in STORAGES:
            raise ConfigError(f'unknown bag storage {storage!r}; choose one of '
                              f'{", ".join(STORAGES)}.')
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f'{self.path} exists already; record into a new folder (a bag is '
                           'never overwritten).')
        topics = dict(topics or DEFAULT_TOPICS)
        classes = [message_class(msgtype, name) for name, msgtype in topics.items()]
        super().__init__('decision_recorder', **kwargs)  # only now: nothing above leaves a node
        #: Full topic name -> message type name, as the bag stores them.
        self.topics = {self.resolve_topic_name(name): msgtype for name, msgtype in topics.items()}
        #: Messages written so far.
        self.count = 0
        self._stamp = clock or (lambda: self.get_clock().now().nanoseconds)
        #: Why writing failed, until :meth:`close` raises it.
        self.error: VlmPlannerError | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._write_all, args=(storage,),
                                        name='decision_recorder', daemon=True)
        self._thread.start()
        self._ready.wait()
        if self.error is not None:
            self._thread.join()
            super().destroy_node()
            raise self.error
        for name, cls in zip(self.topics, classes):
            qos = SENSOR_QOS if self.topics[name] in IMAGE_TYPES else RECORD_QOS
            self.create_subscription(cls, name, functools.partial(self._on_message, name), qos,
                                     raw=True)
        self.get_logger().info(f'recording {", ".join(self.topics)} into {self.path}')

    def _on_message(self, topic: str, data: bytes) -> None:
        stamp = self._stamp()
        with self._lock:
            if not self._closed:
                self._queue.put((topic, stamp, data))

    def _write_all(self, storage: str) -> None:
        from vlm_planner.data.bag_writer import BagWriter
        try:
            with BagWriter(self.path, storage=storage) as writer:
                for name, msgtype in self.topics.items():
                    writer.add_topic(name, msgtype)
                self._ready.set()
                while (item := self._queue.get()) is not None:
                    writer.write(*item)
                    self.count += 1
        except Exception as exc:  # reported to the caller through self.error
            with self._lock:
                self._closed = True
            self.error = exc if isinstance(exc, VlmPlannerError) else BagError(
                f'recording into {self.path} failed: {exc}')
        finally:
            self._ready.set()

    def close(self) -> None:
        """Write what was received, close the bag, and stop recording (idempotent).

        Raises:
            VlmPlannerError: Writing the bag failed.
        """
        with self._lock:
            closing, self._closed = not self._closed, True
        if closing:
            self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def destroy_node(self) -> None:
        """Close the bag (logging a failure), then destroy the node."""
        try:
            self.close()
        except VlmPlannerError as exc:
            self.get_logger().error(str(exc))
        super().destroy_node()
