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

"""Read camera frames from rosbag2 recordings, in both storage formats (sqlite3 and mcap).

Bags are read with ``rosbags`` (no ROS installation needed). Messages are deserialised into
``rosbags`` message objects, which have the same fields as the rclpy ones, and turned into RGB by
the live node's own :func:`~vlm_planner.data.image_decoding.image_msg_to_rgb` and
:func:`~vlm_planner.data.image_decoding.compressed_msg_to_rgb`, so a replayed frame is pixel for
pixel what the node would have seen (and an image too large to decode is refused alike).

A frame's stamp is its header stamp, or the time the bag received it when the header stamp is
zero (the live node uses its clock then). Frames come in recording order: the order the bag
received them.

Every failure raises a :class:`~vlm_planner.errors.BagError` naming the bag: a missing path
(:class:`~vlm_planner.errors.BagNotFoundError`), a folder without ``metadata.yaml`` or a
truncated or corrupt bag (:class:`~vlm_planner.errors.BagFormatError`), a missing or ambiguous
camera topic (the message lists the topics there are), and an image the converters reject (with
the topic, message index and stamp).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from vlm_planner.core.frames import Frame
from vlm_planner.data.bag_io import (COMPRESSED_IMAGE, IMAGE, IMAGE_TYPES, open_bag,
                                     reporting_damage, typestore)
from vlm_planner.data.image_decoding import (compressed_msg_to_rgb, DEFAULT_MAX_PIXELS,
                                             image_msg_to_rgb, stamp_to_seconds)
from vlm_planner.errors import BagError, ImageConversionError

# The decoder of each camera message type (the keys are bag_io.IMAGE_TYPES).
_DECODERS: dict[str, Callable[..., np.ndarray]] = {
    IMAGE: image_msg_to_rgb, COMPRESSED_IMAGE: compressed_msg_to_rgb}


@dataclasses.dataclass(frozen=True)
class TopicInfo:
    """One topic of a bag."""

    name: str
    msgtype: str
    count: int


@dataclasses.dataclass(frozen=True)
class BagInfo:
    """What a bag holds, from its metadata (no message is read).

    Attributes:
        path: the bag folder (or storage file).
        topics: the topics, sorted by name.
        message_count: messages on all topics.
        start: receive time of the first message in seconds (0.0 for an empty bag).
        end: receive time of the last message in seconds (0.0 for an empty bag).
    """

    path: Path
    topics: tuple[TopicInfo, ...]
    message_count: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Seconds from the first to the last message."""
        return self.end - self.start

    @property
    def image_topics(self) -> list[str]:
        """Names of the Image and CompressedImage topics."""
        return [t.name for t in self.topics if t.msgtype in IMAGE_TYPES]

    def camera_topic(self, topic: str | None = None) -> str:
        """Return ``topic`` after checking it is an image topic, or the only image topic.

        Raises:
            BagError: ``topic`` is not in the bag or is not an image topic, or ``topic`` is None
                and the bag has no image topic or several.
        """
        if topic is None:
            images = self.image_topics
            if len(images) == 1:
                return images[0]
            if not images:
                raise BagError(
                    f'bag {self.path} has no sensor_msgs Image or CompressedImage topic; '
                    f'its topics are: {self._listing()}.')
            raise BagError(
                f'bag {self.path} has {len(images)} image topics ({", ".join(images)}); '
                'choose one with the topic option.')
        info = {t.name: t for t in self.topics}.get(topic)
        if info is None:
            raise BagError(
                f'topic {topic} is not in bag {self.path}; its topics are: {self._listing()}.')
        if info.msgtype not in IMAGE_TYPES:
            raise BagError(
                f'topic {topic} of bag {self.path} has type {info.msgtype}; choose a topic of '
                f'type {" or ".join(IMAGE_TYPES)}.')
        return topic

    def _listing(self) -> str:
        return ', '.join(f'{t.name} ({t.msgtype})' for t in self.topics) or 'none'


def bag_info(path: str | Path) -> BagInfo:
    """Return the topics, types, message counts and time span of the bag at ``path``.

    Args:
        path: a rosbag2 folder (the one holding ``metadata.yaml``), or a single ``.db3`` or
            ``.mcap`` file.

    Raises:
        BagError: the path does not exist, is not a rosbag2 folder, or the bag is damaged.
    """
    path = Path(path)
    with open_bag(path) as reader, reporting_damage(path, 'reading its metadata'):
        topics = tuple(TopicInfo(name, info.msgtype or '(several types)', info.msgcount)
                       for name, info in sorted(reader.topics.items()))
        count = reader.message_count
        start = reader.start_time / 1e9 if count else 0.0
        end = (reader.end_time - 1) / 1e9 if count else 0.0
    return BagInfo(path, topics, count, start, end)


def read_camera(bag_path: str | Path, topic: str | None = None, *,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Frame]:
    """Return the frames of a camera topic in recording order, read as they are consumed.

    Args:
        bag_path: a rosbag2 folder or a single ``.db3`` / ``.mcap`` file.
        topic: a ``sensor_msgs/msg/Image`` or ``CompressedImage`` topic; None picks the bag's only
            image topic.
        max_pixels: the largest image (``height * width``) decoded; 0 (or less): no bound.

    Returns:
        An iterator of frames with RGB images, stamped as the module docstring says.

    Raises:
        BagError: at once for a bad path or topic; while iterating for a message that cannot be
            read or converted.
    """
    path = Path(bag_path)
    return _frames(path, bag_info(path).camera_topic(topic), max_pixels)


def stamp_range(bag_path: str | Path, topic: str | None = None) -> tuple[float, float]:
    """Return the earliest and latest frame stamps of a camera topic, decoding no image.

    Raises:
        BagError: as :func:`read_camera`, or the topic has no messages.
    """
    path = Path(bag_path)
    name = bag_info(path).camera_topic(topic)
    stamps = [stamp for _, _, _, stamp in _camera_messages(path, name)]
    if not stamps:
        raise BagError(f'topic {name} of bag {path} has no messages.')
    return min(stamps), max(stamps)


def _frames(path: Path, topic: str, max_pixels: int) -> Iterator[Frame]:
    for index, msgtype, message, stamp in _camera_messages(path, topic):
        try:
            rgb = _DECODERS[msgtype](message, max_pixels)
        except ImageConversionError as exc:
            raise BagError(
                f'bag {path}: message {index} of topic {topic} (stamp {stamp:.3f} s) cannot be '
                f'read: {exc}') from None
        yield Frame(rgb, stamp)


def _camera_messages(path: Path, topic: str) -> Iterator[tuple[int, str, object, float]]:
    """Yield (index, type, deserialised message, stamp) of ``topic`` in recording order."""
    with open_bag(path) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        raw = reader.messages(connections)
        index = 0
        while True:
            with reporting_damage(path, f'reading message {index} of topic {topic}'):
                try:
                    connection, received_ns, data = next(raw)
                except StopIteration:
                    return
                message = typestore().deserialize_cdr(data, connection.msgtype)
            stamp = stamp_to_seconds(message.header.stamp) or received_ns / 1e9
            yield index, connection.msgtype, message, stamp
            index += 1
