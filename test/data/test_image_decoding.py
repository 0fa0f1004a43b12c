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

"""Tests of decoding image messages without ROS: ``rosbags`` messages, the size bound, fuzzing.

The messages here are ``rosbags``' own (what a bag gives); test/ros/test_conversions.py checks the
same decoders on rclpy messages, bit by bit.
"""

from __future__ import annotations

import struct
import time
import zlib

import cv2
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest

from vlm_planner.data import image_decoding
from vlm_planner.data.bag_io import typestore
from vlm_planner.data.image_decoding import (compressed_msg_to_rgb, compressed_size,
                                             DEFAULT_MAX_PIXELS, image_msg_to_rgb,
                                             stamp_to_seconds, SUPPORTED_ENCODINGS)
from vlm_planner.errors import ImageConversionError

TYPES = typestore().types
Header = TYPES['std_msgs/msg/Header']
Time = TYPES['builtin_interfaces/msg/Time']
Image = TYPES['sensor_msgs/msg/Image']
CompressedImage = TYPES['sensor_msgs/msg/CompressedImage']


def raw(rgb: np.ndarray, encoding: str = 'rgb8', stamp: tuple[int, int] = (0, 0)):
    """A ``rosbags`` Image of ``rgb`` (rgb8 or bgr8, unpadded rows)."""
    pixels = rgb if encoding == 'rgb8' else rgb[:, :, ::-1]
    return Image(header=Header(stamp=Time(sec=stamp[0], nanosec=stamp[1]), frame_id='cam'),
                 height=rgb.shape[0], width=rgb.shape[1], encoding=encoding, is_bigendian=0,
                 step=rgb.shape[1] * 3, data=np.ascontiguousarray(pixels).reshape(-1))


def compressed(data: bytes, fmt: str = 'png'):
    """A ``rosbags`` CompressedImage holding ``data``."""
    return CompressedImage(header=Header(stamp=Time(sec=0, nanosec=0), frame_id='cam'),
                           format=fmt, data=np.frombuffer(data, dtype=np.uint8))


def encoded(rgb: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def png_bomb(width: int, height: int, rows: int | None = None) -> bytes:
    """A valid 1-bit grey PNG of ``width x height`` black pixels: kilobytes that decode to GBs.

    With ``rows``, only that many rows of pixel data follow the header (a truncated image).
    """
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack('>I', len(body)) + kind + body
                + struct.pack('>I', zlib.crc32(kind + body)))
    packer = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    body = b''.join(packer.compress(row) for _ in range(height if rows is None else rows))
    body += packer.flush()
    header = struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0)  # 1 bit, grey
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', body)
            + chunk(b'IEND', b''))


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)


@pytest.fixture
def decodes(monkeypatch) -> list[int]:
    """Counts cv2.imdecode calls (the decoding this bound exists to avoid)."""
    calls: list[int] = []
    real = cv2.imdecode

    def counting(buffer, flags):
        calls.append(len(buffer))
        return real(buffer, flags)

    monkeypatch.setattr(image_decoding.cv2, 'imdecode', counting)
    return calls


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_rosbags_raw_messages_decode_like_rclpy_ones(rgb, encoding):
    msg = raw(rgb, encoding, stamp=(7, 250_000_000))
    out = image_msg_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert out.flags['C_CONTIGUOUS'] and not np.shares_memory(out, msg.data)
    assert stamp_to_seconds(msg.header.stamp) == 7.25


@pytest.mark.parametrize('ext', ['.png', '.jpg', '.webp', '.bmp'])
def test_rosbags_compressed_messages_decode(rgb, ext):
    out = compressed_msg_to_rgb(compressed(encoded(rgb, ext), ext[1:]))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    if ext in ('.png', '.bmp'):
        np.testing.assert_array_equal(out, rgb)
    assert compressed_size(np.frombuffer(encoded(rgb, ext), np.uint8)) == (64, 48)


def test_the_default_bound_takes_4k_cameras_and_refuses_64_megapixels():
    assert DEFAULT_MAX_PIXELS == 4096 * 4096 >= 3840 * 2160
    huge = Image(header=Header(stamp=Time(sec=0, nanosec=0), frame_id=''), height=8000,
                 width=8000, encoding='rgb8', is_bigendian=0, step=24000,
                 data=np.zeros(0, np.uint8))
    with pytest.raises(ImageConversionError, match=r"'rgb8' image is 8000 x 8000 = 64000000 "
                                                   r'pixels, more than the limit of 16777216'):
        image_msg_to_rgb(huge)  # refused for its size, before its missing data is looked at


def test_raw_bound_is_inclusive_and_zero_turns_it_off(rgb):
    msg = raw(rgb)
    np.testing.assert_array_equal(image_msg_to_rgb(msg, max_pixels=64 * 48), rgb)
    np.testing.assert_array_equal(image_msg_to_rgb(msg, max_pixels=0), rgb)
    with pytest.raises(ImageConversionError, match='64 x 48 = 3072 pixels, more than the limit '
                                                   'of 3071; publish a smaller image'):
        image_msg_to_rgb(msg, max_pixels=64 * 48 - 1)


def test_png_bomb_is_refused_from_its_header_without_decoding(decodes):
    bomb = png_bomb(8000, 8000)
    assert len(bomb) < 20_000  # 192 MB as RGB once decoded
    started = time.monotonic()
    with pytest.raises(ImageConversionError, match=r"compressed image \(format 'png'\) is "
                                                   r'8000 x 8000 = 64000000 pixels'):
        compressed_msg_to_rgb(compressed(bomb))
    assert time.monotonic() - started < 0.5
    assert decodes == []
    # The same file within the bound is a real image that decodes.
    small = compressed_msg_to_rgb(compressed(png_bomb(40, 30)))
    assert small.shape == (30, 40, 3) and not small.any()
    assert decodes == [len(png_bomb(40, 30))]


def test_compressed_bound_is_inclusive_and_zero_turns_it_off(rgb, decodes):
    msg = compressed(encoded(rgb, '.jpg'), 'jpeg')
    assert compressed_msg_to_rgb(msg, max_pixels=3072).shape == (48, 64, 3)
    assert compressed_msg_to_rgb(msg, max_pixels=0).shape == (48, 64, 3)
    with pytest.raises(ImageConversionError, match=r"format 'jpeg'\) is 64 x 48 = 3072"):
        compressed_msg_to_rgb(msg, max_pixels=3071)
    assert len(decodes) == 2


def test_a_header_beyond_any_bound_is_refused(decodes):
    with pytest.raises(ImageConversionError, match='far too large to decode'):
        compressed_msg_to_rgb(compressed(png_bomb(20000, 20000, rows=1)), max_pixels=0)
    assert decodes == []


def test_undecodable_data_is_named_whatever_fails(rgb):
    with pytest.raises(ImageConversionError, match="cannot decode compressed image of 12 bytes "
                                                   "with format 'jpeg'"):
        compressed_msg_to_rgb(compressed(b'not an image', 'jpeg'))
    header_only = encoded(rgb, '.png')[:60]  # a size to check, but no pixels behind it
    with pytest.raises(ImageConversionError, match='cannot decode compressed image of 60 bytes'):
        compressed_msg_to_rgb(compressed(header_only))


# --- fuzzing: any message either decodes to H x W x 3 uint8 or raises ImageConversionError ---

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(encoding=st.sampled_from(SUPPORTED_ENCODINGS + ('32FC1', '', 'RGB8 ', 'bayer_rggb8')),
       height=st.one_of(st.integers(0, 40), st.integers(0, 2 ** 32 - 1)),
       width=st.one_of(st.integers(0, 40), st.integers(0, 2 ** 32 - 1)),
       step=st.one_of(st.integers(0, 200), st.integers(0, 2 ** 32 - 1)),
       bigendian=st.integers(0, 1), data=st.binary(max_size=4000),
       max_pixels=st.sampled_from([0, 1, 100, DEFAULT_MAX_PIXELS]))
def test_fuzzed_raw_images_decode_or_raise_a_conversion_error(
        encoding, height, width, step, bigendian, data, max_pixels):
    msg = Image(header=Header(stamp=Time(sec=0, nanosec=0), frame_id=''), height=height,
                width=width, encoding=encoding, is_bigendian=bigendian, step=step,
                data=np.frombuffer(data, dtype=np.uint8))
    try:
        out = image_msg_to_rgb(msg, max_pixels=max_pixels)
    except ImageConversionError:
        return
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    assert 0 < height * width and (max_pixels <= 0 or height * width <= max_pixels)


def _valid_images() -> list[bytes]:
    rng = np.random.default_rng(5)
    images = [encoded(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), ext)
              for h, w in ((1, 1), (7, 3), (16, 24)) for ext in ('.png', '.jpg', '.webp')]
    return images + [png_bomb(9000, 9000)]


VALID = _valid_images()


def _mutated(case: tuple[bytes, int, bytes, int]) -> bytes:
    """``image`` with ``patch`` written at ``offset``, cut to ``keep`` bytes (0: not cut)."""
    image, offset, patch, keep = case
    data = image[:offset] + patch + image[offset + len(patch):]
    return data[:keep] if keep else data


@FUZZ
@given(data=st.one_of(st.binary(max_size=300),
                      st.tuples(st.sampled_from(VALID), st.integers(0, 400),
                                st.binary(min_size=1, max_size=8),
                                st.integers(0, 2000)).map(_mutated)),
       max_pixels=st.sampled_from([100, DEFAULT_MAX_PIXELS]))
def test_fuzzed_compressed_images_decode_or_raise_a_conversion_error(data, max_pixels):
    try:
        out = compressed_msg_to_rgb(compressed(data, 'png'), max_pixels=max_pixels)
    except ImageConversionError:
        return
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8
    assert out.shape[0] * out.shape[1] <= max_pixels
