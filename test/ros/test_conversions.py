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

"""Tests of image message <-> numpy conversions with rclpy messages, as the live node has them.

Decoding is :mod:`vlm_planner.data.image_decoding` (no ROS import), encoding
:mod:`vlm_planner.ros.conversions`; each is checked against independently built bytes.
"""

from __future__ import annotations

import numpy as np
import pytest

from vlm_planner.errors import ImageConversionError

pytest.importorskip('sensor_msgs.msg')

from builtin_interfaces.msg import Time  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from vlm_planner.data import image_decoding  # noqa: E402
from vlm_planner.data.image_decoding import (  # noqa: E402
    compressed_msg_to_rgb, image_msg_to_rgb, stamp_to_seconds, SUPPORTED_ENCODINGS)
from vlm_planner.ros import conversions  # noqa: E402
from vlm_planner.ros.conversions import (  # noqa: E402
    rgb_to_compressed_msg, rgb_to_image_msg, seconds_to_stamp)

HEIGHT, WIDTH = 5, 6


@pytest.fixture
def rgb() -> np.ndarray:
    """A small random RGB image with distinct channel values."""
    return np.random.default_rng(7).integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)


def make_msg(pixels: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False,
             garbage: int = 0xAB) -> Image:
    """Build an Image from raw per-pixel bytes ``pixels`` (H x W x bytes per pixel, uint8)."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    padding = np.full((height, pad), garbage, dtype=np.uint8)
    data = np.concatenate([rows, padding], axis=1)
    msg = Image()
    msg.height, msg.width = height, width
    msg.encoding = encoding
    msg.is_bigendian = int(bigendian)
    msg.step = data.shape[1]
    msg.data = data.tobytes()
    return msg


def as_bytes16(values: np.ndarray, bigendian: bool) -> np.ndarray:
    """Lay out uint16 ``values`` (H x W x C) as H x W x 2C bytes, high byte first if big-endian."""
    high = (values >> 8).astype(np.uint8)
    low = (values & 0xFF).astype(np.uint8)
    first, second = (high, low) if bigendian else (low, high)
    return np.stack([first, second], axis=-1).reshape(values.shape[0], values.shape[1], -1)


def yuv_to_rgb_bt601(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Reference BT.601 limited-range YUV -> RGB, written out from the standard's coefficients."""
    c = y.astype(np.float64) - 16.0
    d = u.astype(np.float64) - 128.0
    e = v.astype(np.float64) - 128.0
    r = 1.164 * c + 1.596 * e
    g = 1.164 * c - 0.392 * d - 0.813 * e
    b = 1.164 * c + 2.017 * d
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255)


@pytest.fixture
def yuv_planes():
    """Y per pixel and U, V per pixel pair, in the legal video range, all different."""
    rng = np.random.default_rng(11)
    y = rng.integers(16, 236, size=(HEIGHT, WIDTH), dtype=np.uint8)
    u = rng.integers(16, 241, size=(HEIGHT, WIDTH // 2), dtype=np.uint8)
    v = rng.integers(16, 241, size=(HEIGHT, WIDTH // 2), dtype=np.uint8)
    return y, u, v


def pack_yuv(y, u, v, order: str) -> np.ndarray:
    """Pack planes into H x W x 2 bytes; ``order`` is 'uyvy' or 'yuyv'."""
    y0, y1 = y[:, 0::2], y[:, 1::2]
    quads = np.stack([u, y0, v, y1] if order == 'uyvy' else [y0, u, y1, v], axis=-1)
    return quads.reshape(y.shape[0], y.shape[1], 2)


def expected_yuv_rgb(y, u, v) -> np.ndarray:
    """The RGB image the planes describe (U and V shared by each pixel pair)."""
    return yuv_to_rgb_bt601(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))


def assert_fresh_rgb(out: np.ndarray, msg: Image) -> None:
    """Output is a writable, contiguous H x W x 3 uint8 array not sharing the message buffer."""
    assert out.dtype == np.uint8
    assert out.shape == (msg.height, msg.width, 3)
    assert out.flags['C_CONTIGUOUS']
    assert not np.shares_memory(out, np.frombuffer(msg.data, dtype=np.uint8))
    out[...] = 0  # must be writable


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize('pad', [0, 7])
def test_rgb8(rgb, pad):
    msg = make_msg(rgb, 'rgb8', pad=pad)
    out = image_msg_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert_fresh_rgb(out, msg)


@pytest.mark.parametrize('pad', [0, 7])
def test_bgr8(rgb, pad):
    msg = make_msg(rgb[:, :, ::-1], 'bgr8', pad=pad)
    out = image_msg_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert_fresh_rgb(out, msg)


@pytest.mark.parametrize('pad', [0, 7])
def test_rgba8_drops_alpha(rgb, pad):
    alpha = np.full((HEIGHT, WIDTH, 1), 17, dtype=np.uint8)
    msg = make_msg(np.concatenate([rgb, alpha], axis=2), 'rgba8', pad=pad)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


@pytest.mark.parametrize('pad', [0, 7])
def test_bgra8_drops_alpha(rgb, pad):
    alpha = np.full((HEIGHT, WIDTH, 1), 200, dtype=np.uint8)
    msg = make_msg(np.concatenate([rgb[:, :, ::-1], alpha], axis=2), 'bgra8', pad=pad)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


@pytest.mark.parametrize('pad', [0, 7])
def test_mono8(pad):
    grey = np.arange(HEIGHT * WIDTH, dtype=np.uint8).reshape(HEIGHT, WIDTH) * 8
    msg = make_msg(grey[:, :, None], 'mono8', pad=pad)
    out = image_msg_to_rgb(msg)
    expected = np.repeat(grey[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(out, expected)
    assert_fresh_rgb(out, msg)


@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('pad', [0, 7])
def test_mono16_keeps_high_byte(bigendian, pad):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 65536, size=(HEIGHT, WIDTH, 1), dtype=np.uint16)
    values[0, 0, 0], values[0, 1, 0] = 0x12FF, 0xFF00  # high and low bytes very different
    msg = make_msg(as_bytes16(values, bigendian), 'mono16', pad=pad, bigendian=bigendian)
    out = image_msg_to_rgb(msg)
    expected = np.repeat(values // 256, 3, axis=2).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0, 0] == 0x12 and out[0, 1, 0] == 0xFF
    assert_fresh_rgb(out, msg)


@pytest.mark.parametrize('bigendian', [False, True])
def test_mono16_endianness_matters(bigendian):
    values = np.full((2, 2, 1), 0x0180, dtype=np.uint16)
    # Same bytes, read with the other byte order, would give 0x80 rather than 0x01.
    msg = make_msg(as_bytes16(values, bigendian), 'mono16', bigendian=bigendian)
    assert (image_msg_to_rgb(msg) == 0x01).all()
    msg.is_bigendian = int(not bigendian)
    assert (image_msg_to_rgb(msg) == 0x80).all()


@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('pad', [0, 7])
def test_rgb16_and_bgr16(rgb, bigendian, pad):
    # Each 8-bit value v becomes v * 257 (v in both bytes) plus noise in the low byte only.
    low_noise = np.random.default_rng(5).integers(0, 256, size=rgb.shape, dtype=np.uint16)
    values = (rgb.astype(np.uint16) << 8) | low_noise
    msg = make_msg(as_bytes16(values, bigendian), 'rgb16', pad=pad, bigendian=bigendian)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)
    msg = make_msg(as_bytes16(values[:, :, ::-1], bigendian), 'bgr16', pad=pad,
                   bigendian=bigendian)
    out = image_msg_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert_fresh_rgb(out, msg)


@pytest.mark.parametrize('encoding,order', [
    ('yuv422', 'uyvy'), ('uyvy', 'uyvy'), ('yuv422_yuy2', 'yuyv'), ('yuyv', 'yuyv')])
@pytest.mark.parametrize('pad', [0, 7])
def test_yuv422(yuv_planes, encoding, order, pad):
    y, u, v = yuv_planes
    msg = make_msg(pack_yuv(y, u, v, order), encoding, pad=pad)
    out = image_msg_to_rgb(msg)
    expected = expected_yuv_rgb(y, u, v)
    assert np.abs(out.astype(np.float64) - expected).max() <= 3.0
    assert_fresh_rgb(out, msg)


@pytest.mark.parametrize('encoding,wrong_order', [('yuv422', 'yuyv'), ('yuv422_yuy2', 'uyvy')])
def test_yuv422_byte_order_is_not_interchangeable(yuv_planes, encoding, wrong_order):
    y, u, v = yuv_planes
    out = image_msg_to_rgb(make_msg(pack_yuv(y, u, v, wrong_order), encoding))
    assert np.abs(out.astype(np.float64) - expected_yuv_rgb(y, u, v)).max() > 20.0


def test_yuv422_known_colours():
    # Pure colours from the BT.601 tables: white, black, red, green, blue, mid grey (two pixels
    # each, so one U/V pair covers one colour).
    yuv = [(235, 128, 128), (16, 128, 128), (81, 90, 240), (145, 54, 34), (41, 240, 110),
           (126, 128, 128)]
    rgb = [(255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]
    y = np.array([[c[0]] * 2 for c in yuv], dtype=np.uint8).reshape(1, -1)
    u = np.array([[c[1] for c in yuv]], dtype=np.uint8)
    v = np.array([[c[2] for c in yuv]], dtype=np.uint8)
    expected = np.repeat(np.array([rgb], dtype=np.float64), 2, axis=1)
    for encoding, order in [('yuv422', 'uyvy'), ('yuv422_yuy2', 'yuyv')]:
        out = image_msg_to_rgb(make_msg(pack_yuv(y, u, v, order), encoding))
        assert np.abs(out - expected).max() <= 3.0, encoding


def test_padding_garbage_does_not_leak(rgb):
    clean = image_msg_to_rgb(make_msg(rgb, 'rgb8', pad=7, garbage=0x00))
    dirty = image_msg_to_rgb(make_msg(rgb, 'rgb8', pad=7, garbage=0xFF))
    np.testing.assert_array_equal(clean, dirty)


def test_extra_data_after_last_row_is_ignored(rgb):
    msg = make_msg(rgb, 'rgb8')
    msg.data = bytes(msg.data) + b'\xff' * 11
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_every_supported_encoding_is_tested():
    assert set(SUPPORTED_ENCODINGS) == {
        'rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16', 'rgb16', 'bgr16', 'yuv422', 'uyvy',
        'yuv422_yuy2', 'yuyv'}


def test_full_hd_padded_frame_converts_exactly():
    # Speed is measured in benchmarks/bench_image_callback.py, not here.
    frame = np.random.default_rng(1).integers(0, 256, size=(1080, 1920, 3), dtype=np.uint8)
    msg = make_msg(frame[:, :, ::-1], 'bgr8', pad=64)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), frame)


# --- errors ---------------------------------------------------------------------------------


def test_unsupported_encoding_lists_supported(rgb):
    with pytest.raises(ImageConversionError) as info:
        image_msg_to_rgb(make_msg(rgb, '32FC1'))
    message = str(info.value)
    assert "'32FC1'" in message and 'not supported' in message
    for encoding in SUPPORTED_ENCODINGS:
        assert encoding in message


@pytest.mark.parametrize('height,width', [(0, 4), (4, 0), (0, 0)])
def test_empty_image(height, width):
    msg = Image(height=height, width=width, encoding='rgb8', step=width * 3)
    with pytest.raises(ImageConversionError, match='empty') as info:
        image_msg_to_rgb(msg)
    assert f'{width} x {height}' in str(info.value)


def test_step_smaller_than_row(rgb):
    msg = make_msg(rgb, 'rgb8')
    msg.step = WIDTH * 3 - 1
    with pytest.raises(ImageConversionError) as info:
        image_msg_to_rgb(msg)
    message = str(info.value)
    assert f'step {WIDTH * 3 - 1}' in message and f'{WIDTH * 3} bytes' in message
    assert 'width * bytes per pixel' in message


def test_step_smaller_than_row_16_bit():
    msg = make_msg(np.zeros((2, 3, 2), dtype=np.uint8), 'mono16')
    msg.step = 3  # one byte per pixel: right for mono8, wrong for mono16
    with pytest.raises(ImageConversionError, match='step 3 is smaller'):
        image_msg_to_rgb(msg)


def test_data_shorter_than_height_times_step(rgb):
    msg = make_msg(rgb, 'rgb8', pad=7)
    msg.data = bytes(msg.data)[:-1]
    needed = HEIGHT * (WIDTH * 3 + 7)
    with pytest.raises(ImageConversionError) as info:
        image_msg_to_rgb(msg)
    message = str(info.value)
    assert f'{needed - 1} bytes' in message and f'{needed} bytes' in message
    assert 'truncated' in message


@pytest.mark.parametrize('encoding', ['yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv'])
def test_yuv422_odd_width(encoding):
    msg = make_msg(np.full((2, 5, 2), 128, dtype=np.uint8), encoding)
    with pytest.raises(ImageConversionError) as info:
        image_msg_to_rgb(msg)
    message = str(info.value)
    assert 'odd width 5' in message and 'even' in message


# --- compressed -----------------------------------------------------------------------------


def test_png_round_trip_is_exact(rgb):
    msg = rgb_to_compressed_msg(rgb, fmt='png')
    assert isinstance(msg, CompressedImage)
    assert msg.format == 'png'
    assert bytes(msg.data[:8]) == b'\x89PNG\r\n\x1a\n'
    out = compressed_msg_to_rgb(msg)
    np.testing.assert_array_equal(out, rgb)
    assert out.flags['C_CONTIGUOUS']


@pytest.mark.parametrize('fmt', ['jpeg', 'jpg'])
def test_jpeg_round_trip_within_tolerance(fmt):
    # Smooth gradients survive JPEG well; random noise would not.
    yy, xx = np.mgrid[0:64, 0:96]
    rgb = np.stack([xx * 255 // 95, yy * 255 // 63, np.full_like(xx, 90)], axis=-1)
    rgb = rgb.astype(np.uint8)
    msg = rgb_to_compressed_msg(rgb, fmt=fmt, quality=95)
    assert msg.format == 'jpeg'
    assert bytes(msg.data[:2]) == b'\xff\xd8'
    out = compressed_msg_to_rgb(msg)
    assert out.shape == rgb.shape
    diff = np.abs(out.astype(int) - rgb.astype(int))
    assert diff.mean() < 2.0 and diff.max() < 20


def test_jpeg_keeps_channel_order():
    red = np.zeros((16, 16, 3), dtype=np.uint8)
    red[..., 0] = 255
    out = compressed_msg_to_rgb(rgb_to_compressed_msg(red, fmt='jpeg'))
    assert out[..., 0].min() > 230 and out[..., 2].max() < 25


def test_jpeg_quality_changes_size():
    frame = np.random.default_rng(2).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    small = rgb_to_compressed_msg(frame, quality=10)
    large = rgb_to_compressed_msg(frame, quality=100)
    assert len(small.data) < len(large.data)


def test_undecodable_compressed_names_format():
    msg = CompressedImage(format='rgb8; jpeg compressed bgr8', data=b'not an image at all')
    with pytest.raises(ImageConversionError) as info:
        compressed_msg_to_rgb(msg)
    message = str(info.value)
    assert "format 'rgb8; jpeg compressed bgr8'" in message and 'cannot decode' in message


def test_empty_compressed_names_format():
    with pytest.raises(ImageConversionError, match="format 'png'.*no data"):
        compressed_msg_to_rgb(CompressedImage(format='png'))


def test_compressed_bad_format_and_quality(rgb):
    with pytest.raises(ImageConversionError, match="'webp'.*jpeg, png"):
        rgb_to_compressed_msg(rgb, fmt='webp')
    with pytest.raises(ImageConversionError, match='quality is 101'):
        rgb_to_compressed_msg(rgb, quality=101)


def test_compressed_header(rgb):
    msg = rgb_to_compressed_msg(rgb, stamp=Time(sec=3, nanosec=4), frame_id='cam')
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (3, 4)
    assert msg.header.frame_id == 'cam'


# --- rgb_to_image_msg -----------------------------------------------------------------------


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_rgb_to_image_msg_round_trip(rgb, encoding):
    msg = rgb_to_image_msg(rgb, encoding=encoding)
    assert (msg.height, msg.width, msg.step) == (HEIGHT, WIDTH, WIDTH * 3)
    assert msg.encoding == encoding and msg.is_bigendian == 0
    assert len(msg.data) == HEIGHT * WIDTH * 3
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_rgb_to_image_msg_bytes(rgb):
    assert bytes(rgb_to_image_msg(rgb, 'rgb8').data) == rgb.tobytes()
    assert bytes(rgb_to_image_msg(rgb, 'bgr8').data) == rgb[:, :, ::-1].tobytes()


def test_rgb_to_image_msg_mono8():
    grey = np.arange(HEIGHT * WIDTH, dtype=np.uint8).reshape(HEIGHT, WIDTH) * 8
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    msg = rgb_to_image_msg(rgb, encoding='mono8')
    assert (msg.step, msg.encoding) == (WIDTH, 'mono8')
    assert bytes(msg.data) == grey.tobytes()
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_rgb_to_image_msg_non_contiguous_input(rgb):
    wide = np.concatenate([rgb, rgb], axis=1)
    view = wide[:, ::2]
    msg = rgb_to_image_msg(view)
    np.testing.assert_array_equal(image_msg_to_rgb(msg), view)


def test_rgb_to_image_msg_header(rgb):
    msg = rgb_to_image_msg(rgb, stamp=Time(sec=12, nanosec=345), frame_id='camera_optical')
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 345)
    assert msg.header.frame_id == 'camera_optical'
    default = rgb_to_image_msg(rgb)
    assert (default.header.stamp.sec, default.header.stamp.nanosec) == (0, 0)


def test_rgb_to_image_msg_errors(rgb):
    with pytest.raises(ImageConversionError, match="'mono16'.*rgb8, bgr8, mono8"):
        rgb_to_image_msg(rgb, encoding='mono16')
    with pytest.raises(ImageConversionError, match=r'H x W x 3 uint8.*float64'):
        rgb_to_image_msg(rgb.astype(np.float64))
    with pytest.raises(ImageConversionError, match=r'shape \(5, 6\)'):
        rgb_to_image_msg(rgb[:, :, 0])
    with pytest.raises(ImageConversionError, match='empty'):
        rgb_to_image_msg(np.zeros((0, 4, 3), dtype=np.uint8))


# --- stamps ---------------------------------------------------------------------------------


def test_stamp_round_trip():
    stamp = seconds_to_stamp(1712345678.25)
    assert isinstance(stamp, Time)
    assert (stamp.sec, stamp.nanosec) == (1712345678, 250_000_000)
    assert stamp_to_seconds(stamp) == pytest.approx(1712345678.25)
    assert stamp_to_seconds(Time(sec=2, nanosec=500_000_001)) == pytest.approx(2.500000001)


def test_stamp_rounding_carries_into_seconds():
    stamp = seconds_to_stamp(4.9999999999)
    assert (stamp.sec, stamp.nanosec) == (5, 0)


def test_negative_stamp():
    stamp = seconds_to_stamp(-1.25)
    assert (stamp.sec, stamp.nanosec) == (-2, 750_000_000)
    assert stamp_to_seconds(stamp) == pytest.approx(-1.25)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), 2.0 ** 40])
def test_bad_seconds(bad):
    with pytest.raises(ValueError, match='ROS time stamp'):
        seconds_to_stamp(bad)


def test_module_exports():
    for name in ('rgb_to_image_msg', 'rgb_to_compressed_msg', 'seconds_to_stamp'):
        assert hasattr(conversions, name)
    for name in ('image_msg_to_rgb', 'compressed_msg_to_rgb', 'stamp_to_seconds',
                 'SUPPORTED_ENCODINGS', 'DEFAULT_MAX_PIXELS'):
        assert hasattr(image_decoding, name) and not hasattr(conversions, name)
    assert isinstance(SUPPORTED_ENCODINGS, tuple)
