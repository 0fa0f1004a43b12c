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

"""Write rosbag2 recordings (sqlite3 or mcap) for ``ros2 bag`` and :mod:`vlm_planner.data.bags`.

:class:`BagWriter` takes rclpy messages, ``rosbags`` messages or CDR bytes already serialised.
It writes into a hidden folder next to the target and renames it into place only when the bag is
closed without error, so a crash or an exception never leaves a half-written bag under the final
name::

    with BagWriter('run1', storage='mcap') as bag:
        bag.add_topic('/camera/image_raw', 'sensor_msgs/msg/Image')
        bag.write('/camera/image_raw', stamp_ns, image_msg)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import shutil
import tempfile
from typing import Iterable

from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

from vlm_planner.data.bag_io import STORAGES, typestore
from vlm_planner.errors import BagError, MessageTypeError

_PLUGINS = {'sqlite3': StoragePlugin.SQLITE3, 'mcap': StoragePlugin.MCAP}


def message_type(message: object) -> str | None:
    """Return the ``pkg/msg/Name`` type of an rclpy or ``rosbags`` message, or None for bytes.

    Raises:
        BagError: ``message`` is neither a ROS message nor bytes.
    """
    if isinstance(message, (bytes, bytearray, memoryview)):
        return None
    rosbags_type = getattr(message, '__msgtype__', None)
    if isinstance(rosbags_type, str):
        return rosbags_type
    cls = type(message)
    if hasattr(cls, '_TYPE_SUPPORT') and cls.__module__.count('.') >= 2:
        package, kind = cls.__module__.split('.')[:2]
        return f'{package}/{kind}/{cls.__name__}'
    raise BagError(
        f'cannot write a {cls.__name__} to a bag; pass an rclpy message, a rosbags message '
        'or serialised CDR bytes.')


class BagWriter:
    """Context manager that writes one rosbag2 folder (see module docstring).

    Args:
        path: the bag folder to create; it must not exist yet.
        storage: ``'sqlite3'`` (``.db3``, the ROS 2 Humble default) or ``'mcap'`` (Jazzy).

    Raises:
        BagError: the storage is unknown or ``path`` exists already.
    """

    def __init__(self, path: str | Path, storage: str = 'sqlite3') -> None:
        if storage not in _PLUGINS:
            raise BagError(
                f'cannot write bag {path} as {storage!r}; choose one of {", ".join(STORAGES)}.')
        self.path = Path(path)
        self.storage = storage
        self._staging: Path | None = None
        self._writer: Writer | None = None
        self._connections: dict[str, Connection] = {}

    def __enter__(self) -> BagWriter:
        self.open()
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Start writing into a hidden staging folder next to ``path``."""
        if self._writer is not None:
            raise BagError(f'bag {self.path} is open already.')
        if self.path.exists():
            raise BagError(
                f'{self.path} exists already; choose a new bag name or remove the old bag.')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f'.{self.path.name}.partial-',
                                              dir=self.path.parent))
        # The storage file is named after its folder, so stage under the final name.
        self._writer = Writer(self._staging / self.path.name, version=9,
                              storage_plugin=_PLUGINS[self.storage])
        self._writer.open()

    def add_topic(self, name: str, msgtype: str) -> None:
        """Register topic ``name`` with message type ``msgtype`` (e.g. ``sensor_msgs/msg/Image``).

        Raises:
            BagError: the bag is not open or the topic exists with another type.
            MessageTypeError: ``msgtype`` is not a ROS 2 Jazzy message type known to rosbags.
        """
        writer = self._open_writer()
        known = self._connections.get(name)
        if known is not None:
            if known.msgtype != msgtype:
                raise BagError(
                    f'topic {name} of bag {self.path} has type {known.msgtype}, not {msgtype}.')
            return
        if msgtype not in typestore().types:
            raise MessageTypeError(
                f'cannot add topic {name} to bag {self.path}: {msgtype!r} is not a ROS 2 message '
                'type known to rosbags; write it as pkg/msg/Name, e.g. sensor_msgs/msg/Image.')
        self._connections[name] = writer.add_connection(name, msgtype, typestore=typestore())

    def write(self, topic: str, stamp_ns: int, message: object) -> None:
        """Append ``message`` to ``topic`` with receive time ``stamp_ns`` (nanoseconds).

        An rclpy or ``rosbags`` message adds its topic on first use; raw CDR bytes need
        :meth:`add_topic` first.

        Raises:
            BagError: the bag is not open, the topic is unknown, the message type does not
                match the topic, or the message cannot be serialised.
        """
        writer = self._open_writer()
        msgtype = message_type(message)
        if topic not in self._connections:
            if msgtype is None:
                raise BagError(
                    f'topic {topic} is not in bag {self.path}; call add_topic({topic!r}, '
                    'msgtype) before writing raw CDR bytes.')
            self.add_topic(topic, msgtype)
        connection = self._connections[topic]
        if msgtype is not None and msgtype != connection.msgtype:
            raise BagError(
                f'cannot write a {msgtype} to topic {topic} of bag {self.path}: the topic has '
                f'type {connection.msgtype}.')
        writer.write(connection, int(stamp_ns), self._serialise(message, connection.msgtype))

    @staticmethod
    def _serialise(message: object, msgtype: str) -> bytes | memoryview:
        if isinstance(message, (bytes, bytearray, memoryview)):
            return bytes(message)
        if hasattr(message, '__msgtype__'):
            return typestore().serialize_cdr(message, msgtype)
        from rclpy.serialization import serialize_message
        return serialize_message(message)

    def close(self) -> None:
        """Finish the bag and move it to ``path``.

        Raises:
            BagError: writing the index or metadata fails, or ``path`` appeared meanwhile;
                the staging folder is removed either way.
        """
        writer = self._open_writer()
        self._writer = None
        assert self._staging is not None  # open() made it with the writer
        staged = self._staging / self.path.name
        try:
            writer.close()
            os.rename(staged, self.path)
        except (OSError, WriterError) as exc:
            raise BagError(f'could not finish bag {self.path}: {exc}') from exc
        finally:
            self._remove_staging()

    def abort(self) -> None:
        """Drop everything written so far; ``path`` is left untouched."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # the staging folder goes anyway
                writer.abort()
        self._remove_staging()

    def _open_writer(self) -> Writer:
        if self._writer is None:
            raise BagError(f'bag {self.path} is not open; use "with BagWriter(...)".')
        return self._writer

    def _remove_staging(self) -> None:
        staging, self._staging = self._staging, None
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def write_bag(path: str | Path, messages: Iterable[tuple[str, int, object]],
              storage: str = 'sqlite3') -> Path:
    """Write ``(topic, stamp_ns, message)`` tuples of rclpy or ``rosbags`` messages to a new bag.

    Returns:
        The bag folder.

    Raises:
        BagError: as :class:`BagWriter`.
    """
    with BagWriter(path, storage) as bag:
        for topic, stamp_ns, message in messages:
            bag.write(topic, stamp_ns, message)
    return bag.path
