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

"""Random camera messages, valid and broken, for the camera fuzz tests and benchmarks.

One generator serves the property-based tests (``test/data/test_frame_fuzz.py``,
``test/ros/test_camera_fuzz.py``, which hand it a Hypothesis-controlled ``random.Random``) and the
long run (``benchmarks/fuzz_camera.py``, a seeded one). Every structural choice (encoding, sizes,
step, data length, stamp, what is wrong with a compressed image) goes through that ``Random``, so
Hypothesis can replay and shrink it; bulk bytes come from numpy, seeded from it.

Messages are plain dataclasses with the fields of ``sensor_msgs/Image`` and
``sensor_msgs/CompressedImage`` that the decoders read, plus a stamp offset and a note naming the
kind of input; :func:`to_ros` turns one into an rclpy message (rclpy is imported only there).
"""

from __future__ import annotations

import dataclasses
import random
import struct
from typing import Any, Union
import zlib

import cv2
import numpy as np

#: Bytes per pixel of the encodings the planner decodes.
BYTES_PER_PIXEL = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1, 'mono16': 2,
                   'rgb16': 6, 'bgr16': 6, 'yuv422': 2, 'uyvy': 2, 'yuv422_yuy2': 2, 'yuyv': 2}
#: Encodings a camera may send that the planner does not decode (and near misses of good ones).
UNSUPPORTED_ENCODINGS = ('32FC1', '16UC1', '8UC3', 'bayer_rggb8', 'nv12', 'jpeg', '', 'RGB8 ',
                         'rgb8 ', 'mono8\t', 'rgb9', 'rgbé8')
#: Image sides that catch edge cases: empty, one pixel, around the 32-pixel thumbnail, odd.
SIDES = (0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 64, 299, 300)
#: ``format`` fields a compressed camera may send.
FORMATS = ('png', 'jpeg', 'jpg', 'rgb8; jpeg compressed bgr8', 'bgr8; png compressed bgr8',
           'compressedDepth png', 'webp', '', 'tiff')
#: Header stamps relative to the receiver's clock (s); None: a zero stamp (unset by the camera).
#: Two in three are right; one a little ahead (within the planner's future_tolerance), which
#: makes the frames of the next 0.05 s late, so rare: messages come far faster than a camera's.
STAMP_OFFSETS = (0.0,) * 12 + (None, -0.2, -5.0, 0.05, 3600.0, -1.0e6)

_NANOS = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class RawImage:
    """The fields of a ``sensor_msgs/Image`` (what the decoder reads) and a stamp offset."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes
    stamp_offset: float | None = 0.0
    note: str = ''


@dataclasses.dataclass(frozen=True)
class CompressedImage:
    """The fields of a ``sensor_msgs/CompressedImage`` and a stamp offset."""

    format: str
    data: bytes
    stamp_offset: float | None = 0.0
    note: str = ''


CameraMessage = Union[RawImage, CompressedImage]


def random_message(rng: random.Random, max_side: int = 300) -> CameraMessage:
    """A raw or a compressed random camera message (even odds)."""
    return random_raw(rng, max_side) if rng.random() < 0.5 else random_compressed(rng)


def random_raw(rng: random.Random, max_side: int = 300) -> RawImage:
    """A random ``sensor_msgs/Image``: any encoding, size, step, data length and endianness.

    Sides are 0..``max_side`` (edge values more often), now and then absurdly large with little
    data behind them; step is right, padded, too short or arbitrary; data is complete, truncated,
    too long or empty.
    """
    supported = rng.random() < 0.75
    encoding = rng.choice(tuple(BYTES_PER_PIXEL) if supported else UNSUPPORTED_ENCODINGS)
    if rng.random() < 0.03:
        height, width = rng.choice(((70_000, 70_000), (2 ** 32 - 1, 1), (8000, 8000)))
        note = 'absurd size'
    else:
        height, width, note = _side(rng, max_side), _side(rng, max_side), 'random'
    pixel = BYTES_PER_PIXEL.get(encoding, rng.randint(1, 6))
    row = width * pixel
    step = rng.choice((row, row, row, row + rng.randint(1, 64), max(0, row - rng.randint(1, 8)),
                       rng.randint(0, 2000), 0))
    step = min(step, 2 ** 32 - 1)
    needed = min(height * step, 1 << 20)  # a message of at most about 1 MB
    length = rng.choice((needed, needed, needed, rng.randint(0, needed),
                         needed + rng.randint(1, 100), 0))
    return RawImage(height=height, width=width, encoding=encoding,
                    is_bigendian=rng.randint(0, 1), step=step, data=_bytes(rng, length),
                    stamp_offset=rng.choice(STAMP_OFFSETS), note=note)


def random_compressed(rng: random.Random) -> CompressedImage:
    """A random ``sensor_msgs/CompressedImage``: valid, truncated, corrupt, noise, or a bomb.

    Valid images are small PNG, JPEG or WebP files of odd sizes; the bombs are valid PNGs of a
    few kilobytes whose header claims 8000 x 8000 (or 20000 x 20000) pixels.
    """
    kind = rng.choice(('valid', 'valid', 'truncated', 'corrupt', 'noise', 'bomb',
                       'truncated bomb', 'giant header'))
    if kind == 'noise':
        data = _bytes(rng, rng.randint(0, 300))
    elif kind == 'bomb':
        data = png_claiming(8000, 8000)
    elif kind == 'truncated bomb':
        data = png_claiming(8000, 8000, rows=rng.randint(0, 3))
    elif kind == 'giant header':
        data = png_claiming(20000, 20000, rows=1)
    else:
        data = encoded_image(rng, (max(1, _side(rng, 64)), max(1, _side(rng, 64))),
                             rng.choice(('.png', '.jpg', '.webp')))
        if kind == 'truncated':
            data = data[:rng.randint(0, len(data) - 1)]
        elif kind == 'corrupt':
            offset = rng.randint(0, len(data) - 1)
            patch = _bytes(rng, rng.randint(1, 16))
            data = data[:offset] + patch + data[offset + len(patch):]
    return CompressedImage(format=rng.choice(FORMATS), data=data,
                           stamp_offset=rng.choice(STAMP_OFFSETS), note=kind)


def good_frame(rng: random.Random, shape: tuple[int, int] = (60, 80),
               compressed: bool = False) -> CameraMessage:
    """A valid rgb8 frame (or PNG when ``compressed``) stamped now, of random content."""
    rgb = np.random.default_rng(rng.getrandbits(64)).integers(0, 256, (*shape, 3), np.uint8)
    if compressed:
        return CompressedImage('png', encoded_rgb(rgb, '.png'), note='good')
    return RawImage(shape[0], shape[1], 'rgb8', 0, shape[1] * 3, rgb.tobytes(), note='good')


def encoded_image(rng: random.Random, shape: tuple[int, int], ext: str) -> bytes:
    """A ``shape`` image of random content encoded as ``ext`` ('.png', '.jpg', '.webp')."""
    rgb = np.random.default_rng(rng.getrandbits(64)).integers(0, 256, (*shape, 3), np.uint8)
    return encoded_rgb(rgb, ext)


def encoded_rgb(rgb: np.ndarray, ext: str) -> bytes:
    """``rgb`` (H x W x 3 uint8) encoded by OpenCV as ``ext``."""
    ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok, f'OpenCV could not encode {rgb.shape} as {ext}'
    return data.tobytes()


def png_claiming(width: int, height: int, rows: int | None = None) -> bytes:
    """A valid 1-bit grey PNG whose header says ``width x height``: kilobytes decoding to GBs.

    With ``rows``, only that many rows of pixel data follow the header (a truncated image).
    """
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack('>I', len(body)) + kind + body
                + struct.pack('>I', zlib.crc32(kind + body)))
    key = (width, height, rows)
    if key not in _PNG_CACHE:
        packer = zlib.compressobj(9)
        row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed bits
        body = b''.join(packer.compress(row) for _ in range(height if rows is None else rows))
        body += packer.flush()
        _PNG_CACHE[key] = (b'\x89PNG\r\n\x1a\n'
                           + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0))
                           + chunk(b'IDAT', body) + chunk(b'IEND', b''))
    return _PNG_CACHE[key]


_PNG_CACHE: dict[tuple[int, int, int | None], bytes] = {}


def stamp_of(msg: CameraMessage, now: float) -> tuple[int, int]:
    """``(sec, nanosec)`` of ``msg``'s header when the receiver's clock reads ``now``."""
    if msg.stamp_offset is None:
        return 0, 0
    nanos = int((now + msg.stamp_offset) * _NANOS)
    return nanos // _NANOS, nanos % _NANOS


def to_ros(msg: CameraMessage, now: float) -> Any:
    """The rclpy ``sensor_msgs`` message of ``msg``, stamped relative to ``now`` (seconds)."""
    import array

    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import CompressedImage as RosCompressedImage, Image as RosImage
    from std_msgs.msg import Header

    sec, nanosec = stamp_of(msg, now)
    header = Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id='fuzz')
    data = array.array('B', msg.data)
    if isinstance(msg, CompressedImage):
        return RosCompressedImage(header=header, format=msg.format, data=data)
    return RosImage(header=header, height=msg.height, width=msg.width, encoding=msg.encoding,
                    is_bigendian=msg.is_bigendian, step=msg.step, data=data)


def describe(msg: CameraMessage) -> str:
    """A one-line description of ``msg`` for failure messages and logs."""
    if isinstance(msg, CompressedImage):
        return (f'CompressedImage({msg.note}, format={msg.format!r}, {len(msg.data)} bytes, '
                f'stamp offset {msg.stamp_offset})')
    return (f'Image({msg.note}, {msg.width}x{msg.height} {msg.encoding!r}, step {msg.step}, '
            f'{len(msg.data)} bytes, bigendian {msg.is_bigendian}, stamp offset '
            f'{msg.stamp_offset})')


def _side(rng: random.Random, max_side: int) -> int:
    if rng.random() < 0.5:
        return min(rng.choice(SIDES), max_side)
    return rng.randint(0, max_side)


def _bytes(rng: random.Random, length: int) -> bytes:
    if length <= 0:
        return b''
    return np.random.default_rng(rng.getrandbits(64)).integers(
        0, 256, length, dtype=np.uint8).tobytes()
