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

"""The one place that knows rosbag2 files: storages, image topic types, message types, opening.

Everything reads and writes bags with ``rosbags`` (no ROS installation needed): the camera
reader (:mod:`~vlm_planner.data.bags`), the writer (:mod:`~vlm_planner.data.bag_writer`), and the
ROS player and recorder (:mod:`vlm_planner.ros.player`, :mod:`vlm_planner.ros.recorder`).
:func:`open_bag` turns every way opening a bag fails into a
:class:`~vlm_planner.errors.BagError` that names the bag and says what to do.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
import sqlite3
import struct
from typing import Iterator

import apsw
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError
from rosbags.typesys import get_typestore, Stores
from rosbags.typesys.store import Typestore

from vlm_planner.errors import BagFormatError, BagNotFoundError

#: Storage formats bags are written in (``ros2 bag`` names; sqlite3 was Humble's default).
STORAGES = ('sqlite3', 'mcap')

#: Single storage files ``rosbags`` reads without their folder.
STORAGE_SUFFIXES = ('.db3', '.mcap')

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'

#: Camera message types: read as frames, and played and recorded with the sensor-data QoS.
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)

# What reading a damaged bag raises, from rosbags, its sqlite (apsw) and mcap readers, and the
# CDR deserialiser.
_DAMAGE = (ReaderError, SerdeError, apsw.Error, sqlite3.Error, struct.error, EOFError, OSError,
           ValueError, IndexError, KeyError)


@functools.lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Return the ROS 2 Jazzy message types ``rosbags`` reads and writes messages with."""
    return get_typestore(Stores.ROS2_JAZZY)


@contextlib.contextmanager
def open_bag(path: str | Path) -> Iterator[Reader]:
    """Open the bag at ``path`` for reading; close it when the block ends.

    Args:
        path: a rosbag2 folder (the one holding ``metadata.yaml``), or a single ``.db3`` or
            ``.mcap`` file.

    Yields:
        The open ``rosbags`` reader.

    Raises:
        BagNotFoundError: ``path`` does not exist.
        BagFormatError: ``path`` is not a rosbag2 folder or storage file, or the bag is
            truncated or corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise BagNotFoundError(
            f'bag {path} does not exist; give a rosbag2 folder (the one holding metadata.yaml).')
    if path.is_dir() and not (path / 'metadata.yaml').is_file():
        raise BagFormatError(
            f'{path} is not a rosbag2 folder: it has no metadata.yaml. Give the folder '
            '"ros2 bag record" made; a recording that was cut off may need "ros2 bag reindex".')
    if path.is_file() and path.suffix not in STORAGE_SUFFIXES:
        raise BagFormatError(
            f'{path} is not a rosbag2 recording; give a bag folder, or a single '
            f'{" or ".join(STORAGE_SUFFIXES)} file.')
    with reporting_damage(path, 'opening it'):
        reader = Reader(path)
        reader.open()
    try:
        yield reader
    finally:
        with contextlib.suppress(Exception):
            reader.close()


@contextlib.contextmanager
def reporting_damage(path: Path, doing: str) -> Iterator[None]:
    """Turn the errors a damaged bag raises inside the block into a :class:`BagFormatError`.

    Args:
        path: the bag, named in the message with its storage files.
        doing: what the block does, e.g. ``'reading message 3 of topic /image'``.

    Raises:
        BagFormatError: the block raised one of the errors of a truncated or corrupt bag.
    """
    try:
        yield
    except _DAMAGE as exc:
        files = sorted(p.name for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES) \
            if path.is_dir() else []
        where = f' ({", ".join(files)})' if files else ''
        raise BagFormatError(
            f'bag {path}{where} is truncated or corrupt ({doing} failed: {type(exc).__name__}: '
            f'{exc}); record it again, or try "ros2 bag reindex" for a bag that was cut off.'
        ) from exc
