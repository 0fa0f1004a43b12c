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

"""Conversions between ROS image messages and numpy RGB arrays, without cv_bridge.

Everything here runs in image callbacks at camera rate, so the work is vectorised: the message
buffer is viewed in place with numpy (row padding skipped through strides, never copied row by
row) and the colour conversion is a single OpenCV call or numpy shift. Every array returned is a
fresh, C-contiguous H x W x 3 uint8 RGB array that shares no memory with the message.

Every bad input raises :class:`~vlm_planner.errors.ImageConversionError` with a message that says
what was wrong and what to do about it.
"""

from __future__ import annotations

import array
import dataclasses
import math
from typing import Optional

from builtin_interfaces.msg import Time
import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from vlm_planner.errors import ImageConversionError


@dataclasses.dataclass(frozen=True)
class _Layout:
    """How one encoding stores a pixel: channel count, bytes per channel, conversion to RGB."""

    channels: int
    depth: int
    to_rgb: Optional[int]


# OpenCV conversion codes to RGB; None means the channels are RGB already (or handled apart).
_LAYOUTS = {
    'rgb8': _Layout(3, 1, None),
    'bgr8': _Layout(3, 1, cv2.COLOR_BGR2RGB),
    'rgba8': _Layout(4, 1, cv2.COLOR_RGBA2RGB),
    'bgra8': _Layout(4, 1, cv2.COLOR_BGRA2RGB),
    'mono8': _Layout(1, 1, cv2.COLOR_GRAY2RGB),
    'mono16': _Layout(1, 2, cv2.COLOR_GRAY2RGB),
    'rgb16': _Layout(3, 2, None),
    'bgr16': _Layout(3, 2, cv2.COLOR_BGR2RGB),
    # Packed YUV 4:2:2, two bytes per pixel. ROS calls U Y0 V Y1 'yuv422' (also 'uyvy') and
    # Y0 U Y1 V 'yuv422_yuy2' (also 'yuyv').
    'yuv422': _Layout(2, 1, cv2.COLOR_YUV2RGB_UYVY),
    'uyvy': _Layout(2, 1, cv2.COLOR_YUV2RGB_UYVY),
    'yuv422_yuy2': _Layout(2, 1, cv2.COLOR_YUV2RGB_YUY2),
    'yuyv': _Layout(2, 1, cv2.COLOR_YUV2RGB_YUY2),
}

#: Encodings :func:`image_msg_to_rgb` accepts (sensor_msgs/image_encodings names).
SUPPORTED_ENCODINGS = tuple(_LAYOUTS)

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


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` into an RGB array.

    Row padding (``step`` larger than a row) is skipped, ``is_bigendian`` is honoured for 16-bit
    encodings, and 16-bit values are scaled to 8 bit by keeping their high byte.

    Args:
        msg: the image message. Its encoding must be one of :data:`SUPPORTED_ENCODINGS`.

    Returns:
        A fresh, C-contiguous ``height x width x 3`` uint8 array in RGB order.

    Raises:
        ImageConversionError: the encoding is not supported, the image is empty, ``step`` is
            shorter than a row, ``data`` is shorter than ``height * step``, or a packed YUV 4:2:2
            image has an odd width.
    """
    encoding = msg.encoding
    layout = _LAYOUTS.get(encoding)
    if layout is None:
        layout = _LAYOUTS.get(encoding.strip().lower())
    if layout is None:
        raise ImageConversionError(
            f'image encoding {encoding!r} is not supported; publish one of '
            f'{", ".join(SUPPORTED_ENCODINGS)} (for example, set the camera driver to rgb8).')
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ImageConversionError(
            f'image is empty ({width} x {height} pixels, encoding {encoding!r}); '
            'check that the camera driver fills in width and height.')
    if layout.channels == 2 and width % 2:
        raise ImageConversionError(
            f'packed YUV 4:2:2 image ({encoding!r}) has odd width {width}; each U/V pair covers '
            'two pixels, so the width must be even. Check the camera resolution or width field.')
    row_bytes = width * layout.channels * layout.depth
    if step < row_bytes:
        raise ImageConversionError(
            f'image step {step} is smaller than one row of {width} {encoding!r} pixels '
            f'({row_bytes} bytes); step must be at least width * bytes per pixel. '
            'Check the step field set by the publisher.')
    buffer = memoryview(msg.data).cast('B')
    needed = height * step
    if buffer.nbytes < needed:
        raise ImageConversionError(
            f'image data has {buffer.nbytes} bytes but height * step = {height} * {step} = '
            f'{needed} bytes are needed; the message is truncated or its height/step are wrong.')

    if layout.depth == 1:
        rows = np.frombuffer(buffer, dtype=np.uint8, count=needed).reshape(height, step)
        pixels = rows[:, :row_bytes].reshape(height, width, layout.channels)
    else:
        dtype = np.dtype('>u2' if msg.is_bigendian else '<u2')
        values = np.ndarray((height, width * layout.channels), dtype=dtype, buffer=buffer,
                            strides=(step, dtype.itemsize))
        pixels = (values >> 8).astype(np.uint8).reshape(height, width, layout.channels)

    if layout.to_rgb is None:
        return np.array(pixels, dtype=np.uint8, order='C', copy=True)
    if layout.channels == 1:
        pixels = pixels[:, :, 0]
    return np.ascontiguousarray(cv2.cvtColor(pixels, layout.to_rgb))


def compressed_msg_to_rgb(msg: CompressedImage) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG or anything OpenCV reads) into RGB.

    Args:
        msg: the compressed image message.

    Returns:
        A fresh, C-contiguous ``H x W x 3`` uint8 array in RGB order.

    Raises:
        ImageConversionError: the data is empty or OpenCV cannot decode it.
    """
    buffer = np.frombuffer(memoryview(msg.data).cast('B'), dtype=np.uint8)
    if buffer.size == 0:
        raise ImageConversionError(
            f'compressed image (format {msg.format!r}) has no data; check the publisher.')
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageConversionError(
            f'cannot decode compressed image of {buffer.size} bytes with format {msg.format!r}; '
            'only images OpenCV can decode (jpeg, png) are supported. Subscribe to the raw '
            'topic or set the publisher to jpeg or png (compressedDepth is not supported).')
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


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


def stamp_to_seconds(stamp: Time) -> float:
    """Return a ``builtin_interfaces/Time`` as seconds.

    Args:
        stamp: the time (anything with integer ``sec`` and ``nanosec`` fields).

    Returns:
        ``sec + nanosec / 1e9``.
    """
    return stamp.sec + stamp.nanosec / _NANOS_PER_SECOND


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
