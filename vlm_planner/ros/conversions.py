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

"""Build ROS image messages and time stamps from numpy RGB arrays and seconds, without cv_bridge.

The opposite direction, decoding Image and CompressedImage messages into RGB, needs no ROS
package and lives in :mod:`vlm_planner.data.image_decoding`.

Every bad input raises :class:`~vlm_planner.errors.ImageConversionError` (or ``ValueError`` for a
time that does not fit a stamp) with a message that says what was wrong and what to do about it.
"""

from __future__ import annotations

import array
import math
from typing import Optional

from builtin_interfaces.msg import Time
import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from vlm_planner.errors import ImageConversionError

#: Encodings :func:`rgb_to_image_msg` can produce.
OUTPUT_ENCODINGS = ('rgb8', 'bgr8', 'mono8')

#: Formats :func:`rgb_to_compressed_msg` can produce ('jpg' is accepted as a spelling of 'jpeg').
COMPRESSED_FORMATS = ('jpeg', 'png')

_FROM_RGB = {
    'rgb8': None,
    'bgr8': cv2.COLOR_RGB2BGR,
    'mono8': cv2.COLOR_RGB2GRAY,
}

_NANOS_PER_SECOND = 1_000_000_000
_INT32_MIN = -(2 ** 31)
_INT32_MAX = 2 ** 31 - 1


def rgb_to_image_msg(rgb: np.ndarray, encoding: str = 'rgb8', stamp: Optional[Time] = None,
                     frame_id: str = '') -> Image:
    """Build a ``sensor_msgs/Image`` from an RGB array.

    Args:
        rgb: ``H x W x 3`` uint8 array in RGB order.
        encoding: one of :data:`OUTPUT_ENCODINGS`.
        stamp: header stamp; ``None`` leaves it at zero.
        frame_id: header frame id.

    Returns:
        The message, with unpadded rows (``step`` = width * bytes per pixel).

    Raises:
        ImageConversionError: ``rgb`` is not an ``H x W x 3`` uint8 array, or the encoding is
            not one of :data:`OUTPUT_ENCODINGS`.
    """
    _check_rgb(rgb)
    if encoding not in _FROM_RGB:
        raise ImageConversionError(
            f'cannot publish images as {encoding!r}; choose one of {", ".join(OUTPUT_ENCODINGS)}.')
    code = _FROM_RGB[encoding]
    pixels = rgb if code is None else cv2.cvtColor(rgb, code)
    pixels = np.ascontiguousarray(pixels)
    msg = Image()
    _fill_header(msg, stamp, frame_id)
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(pixels.strides[0])
    # An array.array is stored as is; any other sequence would be checked value by value.
    msg.data = array.array('B', pixels.tobytes())
    return msg


def rgb_to_compressed_msg(rgb: np.ndarray, fmt: str = 'jpeg', quality: int = 90,
                          stamp: Optional[Time] = None, frame_id: str = '') -> CompressedImage:
    """Encode an RGB array as a ``sensor_msgs/CompressedImage``.

    Args:
        rgb: ``H x W x 3`` uint8 array in RGB order.
        fmt: ``'jpeg'`` (or ``'jpg'``) or ``'png'``; written to the message's ``format`` field.
        quality: JPEG quality, 0 to 100; ignored for PNG, which is lossless.
        stamp: header stamp; ``None`` leaves it at zero.
        frame_id: header frame id.

    Returns:
        The message.

    Raises:
        ImageConversionError: ``rgb`` is not an ``H x W x 3`` uint8 array, the format is not
            supported, the quality is out of range, or OpenCV fails to encode.
    """
    _check_rgb(rgb)
    name = fmt.strip().lower()
    if name == 'jpg':
        name = 'jpeg'
    if name not in COMPRESSED_FORMATS:
        raise ImageConversionError(
            f'cannot compress images as {fmt!r}; choose one of {", ".join(COMPRESSED_FORMATS)}.')
    if name == 'jpeg':
        if not 0 <= quality <= 100:
            raise ImageConversionError(
                f'jpeg quality is {quality}; choose a value from 0 to 100 (90 is a good default).')
        ext, params = '.jpg', [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    else:
        ext, params = '.png', [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageConversionError(
            f'OpenCV failed to encode a {rgb.shape[1]} x {rgb.shape[0]} image as {name}; '
            'check that the image is valid or try the other format.')
    msg = CompressedImage()
    _fill_header(msg, stamp, frame_id)
    msg.format = name
    msg.data = array.array('B', encoded.tobytes())
    return msg


def seconds_to_stamp(t: float) -> Time:
    """Return seconds as a ``builtin_interfaces/Time``, rounded to the nearest nanosecond.

    Args:
        t: time in seconds; negative times give a negative ``sec`` and ``nanosec`` in [0, 1e9).

    Returns:
        The stamp.

    Raises:
        ValueError: ``t`` is not finite or does not fit the 32-bit ``sec`` field.
    """
    t = float(t)
    if not math.isfinite(t):
        raise ValueError(f'cannot turn {t} seconds into a ROS time stamp; pass a finite number.')
    sec = math.floor(t)
    nanosec = round((t - sec) * _NANOS_PER_SECOND)
    if nanosec >= _NANOS_PER_SECOND:
        sec, nanosec = sec + 1, nanosec - _NANOS_PER_SECOND
    if not _INT32_MIN <= sec <= _INT32_MAX:
        raise ValueError(
            f'{t} seconds does not fit a ROS time stamp (32-bit seconds); pass a time in range.')
    return Time(sec=int(sec), nanosec=int(nanosec))


def _check_rgb(rgb: np.ndarray) -> None:
    """Raise ImageConversionError unless ``rgb`` is a non-empty H x W x 3 uint8 array."""
    if (not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3
            or rgb.dtype != np.uint8):
        raise ImageConversionError(
            f'expected an H x W x 3 uint8 RGB array, got {type(rgb).__name__} with shape '
            f'{getattr(rgb, "shape", None)} and dtype {getattr(rgb, "dtype", None)}; '
            'convert the image to 8-bit RGB first.')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageConversionError(
            f'cannot convert an empty image (shape {rgb.shape}); pass at least one pixel.')


def _fill_header(msg, stamp: Optional[Time], frame_id: str) -> None:
    """Set the stamp (when given) and frame id of ``msg.header``."""
    if stamp is not None:
        msg.header.stamp = Time(sec=int(stamp.sec), nanosec=int(stamp.nanosec))
    msg.header.frame_id = frame_id
