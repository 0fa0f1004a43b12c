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

"""Decode ``sensor_msgs`` Image and CompressedImage messages into RGB arrays, without ROS.

The live node (rclpy messages) and the bag reader (``rosbags`` messages) share these decoders, so
a replayed frame is pixel for pixel what the node would have seen. Nothing here imports a ROS
package: a message is anything with the fields of ``sensor_msgs/msg/Image``
(``height``, ``width``, ``encoding``, ``is_bigendian``, ``step``, ``data``) or of
``sensor_msgs/msg/CompressedImage`` (``format``, ``data``).

Everything here runs in image callbacks at camera rate, so the work is vectorised: the message
buffer is viewed in place with numpy (row padding skipped through strides, never copied row by
row) and the colour conversion is a single OpenCV call or numpy shift. Every array returned is a
fresh, C-contiguous H x W x 3 uint8 RGB array that shares no memory with the message.

The decoded size is bounded (``max_pixels``, :data:`DEFAULT_MAX_PIXELS` by default) and checked
*before* any pixel is decoded: from ``height * width`` of a raw image, and from the header of a
compressed one (read with Pillow, which parses only the header), so a small PNG that would
decode to 8000 x 8000 pixels costs nothing.

Every bad input raises :class:`~vlm_planner.errors.ImageConversionError` with a message that says
what was wrong and what to do about it.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any, Optional, Protocol

import cv2
import numpy as np
from PIL import Image as PilImage, UnidentifiedImageError

from vlm_planner.errors import ImageConversionError

#: Default bound on a decoded image, in pixels: 4096 x 4096 (16.8 megapixels). Every usual
#: camera fits (4K UHD 3840 x 2160 is 8.3 MP, a 12 MP 4000 x 3000 sensor 12 MP), and decoding one
#: at the bound takes 48 MiB as RGB (about 100 MB at the peak with OpenCV's BGR copy), whereas
#: an 8000 x 8000 image (64 MP) would take about 1 GB on the way.
DEFAULT_MAX_PIXELS = 4096 * 4096

_NANOS_PER_SECOND = 1_000_000_000


class ImageMessage(Protocol):
    """The fields of ``sensor_msgs/msg/Image`` the decoder reads (rclpy or ``rosbags``)."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: Any  # a buffer of bytes: array.array, bytes, numpy array


class CompressedImageMessage(Protocol):
    """The fields of ``sensor_msgs/msg/CompressedImage`` the decoder reads."""

    format: str
    data: Any


class Stamp(Protocol):
    """The fields of ``builtin_interfaces/msg/Time``."""

    sec: int
    nanosec: int


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


def image_msg_to_rgb(msg: ImageMessage, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` (rclpy or ``rosbags``) into an RGB array.

    Row padding (``step`` larger than a row) is skipped, ``is_bigendian`` is honoured for 16-bit
    encodings, and 16-bit values are scaled to 8 bit by keeping their high byte.

    Args:
        msg: the image message. Its encoding must be one of :data:`SUPPORTED_ENCODINGS`.
        max_pixels: the largest ``height * width`` accepted; 0 (or less) accepts any size.

    Returns:
        A fresh, C-contiguous ``height x width x 3`` uint8 array in RGB order.

    Raises:
        ImageConversionError: the encoding is not supported, the image is empty or has more
            than ``max_pixels`` pixels, ``step`` is shorter than a row, ``data`` is shorter than
            ``height * step``, or a packed YUV 4:2:2 image has an odd width.
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
    check_pixel_count(width, height, max_pixels, f'{encoding!r} image')
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

    pixels: np.ndarray
    if layout.depth == 1:
        rows = np.frombuffer(buffer, dtype=np.uint8, count=needed).reshape(height, step)
        pixels = rows[:, :row_bytes].reshape(height, width, layout.channels)
    else:
        dtype = np.dtype('>u2' if msg.is_bigendian else '<u2')
        values: np.ndarray = np.ndarray((height, width * layout.channels), dtype=dtype,
                                        buffer=buffer, strides=(step, dtype.itemsize))
        pixels = (values >> 8).astype(np.uint8).reshape(height, width, layout.channels)

    if layout.to_rgb is None:
        return np.array(pixels, dtype=np.uint8, order='C', copy=True)
    if layout.channels == 1:
        pixels = pixels[:, :, 0]
    return np.ascontiguousarray(cv2.cvtColor(pixels, layout.to_rgb))


def compressed_msg_to_rgb(msg: CompressedImageMessage,
                          max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG, ...) into RGB.

    The image's size is read from its header first; nothing is decoded when it is too large.

    Args:
        msg: the compressed image message (rclpy or ``rosbags``).
        max_pixels: the largest ``height * width`` accepted; 0 (or less) accepts any size up
            to Pillow's own bound against decompression bombs (about 179 megapixels).

    Returns:
        A fresh, C-contiguous ``H x W x 3`` uint8 array in RGB order.

    Raises:
        ImageConversionError: the data is empty, its header names no size (not an image
            format that can be checked before decoding), the image has more than ``max_pixels``
            pixels, or OpenCV cannot decode it.
    """
    buffer = np.frombuffer(memoryview(msg.data).cast('B'), dtype=np.uint8)
    if buffer.size == 0:
        raise ImageConversionError(
            f'compressed image (format {msg.format!r}) has no data; check the publisher.')
    width, height = compressed_size(buffer, msg.format)
    check_pixel_count(width, height, max_pixels, f'compressed image (format {msg.format!r})')
    try:
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None:
        raise _undecodable(buffer.size, msg.format)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def compressed_size(data: np.ndarray, fmt: str = '') -> tuple[int, int]:
    """Return ``(width, height)`` of a compressed image from its header, decoding no pixel.

    Args:
        data: the compressed bytes, as a uint8 array.
        fmt: the message's ``format`` field, named in the error message.

    Raises:
        ImageConversionError: the header is not one of an image format Pillow knows.
    """
    try:
        with PilImage.open(io.BytesIO(data.data)) as image:
            return image.size
    except PilImage.DecompressionBombError as exc:
        # Pillow's own bound (about 179 megapixels) is far above any sensible max_pixels.
        raise ImageConversionError(
            f'compressed image (format {fmt!r}) is far too large to decode ({exc}); publish a '
            'smaller image.') from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _undecodable(data.nbytes, fmt) from None


def check_pixel_count(width: int, height: int, max_pixels: int, what: str = 'image') -> None:
    """Raise unless a ``width x height`` image is within ``max_pixels`` (0 or less: no bound).

    Raises:
        ImageConversionError: the image has more than ``max_pixels`` pixels.
    """
    if 0 < max_pixels < width * height:
        raise ImageConversionError(
            f'{what} is {width} x {height} = {width * height} pixels, more than the limit of '
            f'{max_pixels}; publish a smaller image (lower the camera resolution) or raise the '
            'limit (the planner parameter max_image_pixels).')


def stamp_to_seconds(stamp: Stamp) -> float:
    """Return a ``builtin_interfaces/Time`` as seconds.

    Args:
        stamp: the time (anything with integer ``sec`` and ``nanosec`` fields).

    Returns:
        ``sec + nanosec / 1e9``.
    """
    return stamp.sec + stamp.nanosec / _NANOS_PER_SECOND


def _undecodable(size: int, fmt: str) -> ImageConversionError:
    return ImageConversionError(
        f'cannot decode compressed image of {size} bytes with format {fmt!r}; '
        'only images OpenCV can decode (jpeg, png) are supported. Subscribe to the raw '
        'topic or set the publisher to jpeg or png (compressedDepth is not supported).')
