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

"""Thumbnails and frame differences for any image size (issue 8, defect 1: tiny frames crashed).

A frame smaller than the thumbnail (16 x 16, 8 x 8, 20 x 240, 1 x 1) gave a thumbnail of another
shape, and comparing it with the last keyframe's raised in the image callback.
"""

from __future__ import annotations

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest

from vlm_planner.core.frames import Frame, frame_difference, thumbnail
from vlm_planner.core.keyframes import KeyframeBuffer, KeyframeConfig

ODD_SHAPES = [(16, 16), (8, 8), (20, 240), (240, 20), (1, 1), (1, 640), (480, 1), (31, 33),
              (32, 32), (48, 64), (480, 640)]
CHANGE = KeyframeConfig(policy='change', min_interval=0.0, change_threshold=0.05, max_count=4)


def noise(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


@pytest.mark.parametrize('shape', ODD_SHAPES)
def test_thumbnails_have_one_shape_whatever_the_image(shape):
    thumb = thumbnail(noise(shape))
    assert thumb.shape == (32, 32) and thumb.dtype == np.float32
    assert thumbnail(noise(shape), size=8).shape == (8, 8)


def test_thumbnail_cells_are_block_means_or_repeated_pixels():
    image = np.zeros((2, 64, 3), np.uint8)
    image[1] = 90  # top row black, bottom row grey
    image[:, 32:] += 30  # right half brighter
    thumb = thumbnail(image)
    # 2 rows repeated to 32: the top 16 cells come from row 0, the bottom 16 from row 1; the
    # 64 columns are averaged in pairs.
    assert np.all(thumb[:16, :16] == 0) and np.all(thumb[16:, :16] == 90)
    assert np.all(thumb[:16, 16:] == 30) and np.all(thumb[16:, 16:] == 120)
    grey = np.arange(64 * 64, dtype=np.float64).reshape(64, 64) % 251
    rgb = np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)
    np.testing.assert_allclose(thumbnail(rgb), grey.reshape(32, 2, 32, 2).mean(axis=(1, 3)),
                               rtol=1e-6)


@pytest.mark.parametrize('shape', [(1080, 1920), (480, 640), (193, 4000), (1001, 333)])
def test_a_large_image_reads_each_cell_inside_its_own_block(shape):
    # Pixels constant over each cell's block: the sampled pixels of a cell all lie in its block,
    # so the thumbnail is exact although a large image is only sampled.
    rows, cols = (np.repeat(np.arange(32), np.diff(np.arange(33) * side // 32)) for side in shape)
    grey = (rows[:, None] * 7 + cols[None, :] * 3) % 256
    rgb = np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)
    expected = (np.arange(32)[:, None] * 7 + np.arange(32)[None, :] * 3) % 256
    np.testing.assert_array_equal(thumbnail(rgb), expected)
    np.testing.assert_array_equal(thumbnail(grey.astype(np.uint8)), expected)


def smooth_scene(shape: tuple[int, int]) -> np.ndarray:
    """The same smooth colour scene at any resolution."""
    y, x = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing='ij')
    channels = (128 + 100 * np.sin(6 * x + 3 * y), 128 + 90 * np.cos(5 * y), 255 * x * y)
    return np.stack(channels, axis=2).astype(np.uint8)


def test_thumbnails_of_one_scene_at_any_resolution_are_alike():
    full_hd = thumbnail(smooth_scene((1080, 1920)))
    for shape in [(480, 640), (720, 1280), (2160, 3840), (120, 160)]:
        assert frame_difference(thumbnail(smooth_scene(shape)), full_hd) < 0.005, shape
    # A large image is sampled, yet each cell stays close to its block's mean.
    grey = smooth_scene((1080, 1920)).astype(np.float64).mean(axis=2)
    rows, cols = np.arange(33) * 1080 // 32, np.arange(33) * 1920 // 32
    exact = np.array([[grey[rows[i]:rows[i + 1], cols[j]:cols[j + 1]].mean() for j in range(32)]
                      for i in range(32)])
    assert np.abs(full_hd - exact).max() < 2.0  # grey levels


def test_views_of_an_image_give_the_thumbnail_of_its_copy():
    image = noise((1080, 1920))
    for view in (image[:, :, ::-1], image[::-1], image[100:900, 50:1800], image[:, ::2]):
        np.testing.assert_allclose(thumbnail(view), thumbnail(np.ascontiguousarray(view)),
                                   rtol=1e-6)


def test_a_one_pixel_frame_is_a_uniform_thumbnail_of_its_grey():
    thumb = thumbnail(np.array([[[30, 60, 90]]], np.uint8))
    assert np.all(thumb == 60.0)


def test_difference_of_any_two_thumbnails_is_a_fraction():
    black = thumbnail(np.zeros((1, 1, 3), np.uint8))
    white = thumbnail(np.full((480, 640, 3), 255, np.uint8))
    assert frame_difference(black, white) == pytest.approx(1.0)
    assert frame_difference(white, white) == 0.0
    # Thumbnails of other sizes are compared at the smaller size instead of raising.
    assert frame_difference(thumbnail(noise((48, 64)), size=8),
                            thumbnail(np.zeros((48, 64, 3), np.uint8))) > 0.3
    assert frame_difference(np.full((5, 7), 255.0), np.zeros((32, 32))) == pytest.approx(1.0)


@pytest.mark.parametrize('policy', ['change', 'interval'])
def test_tiny_frames_then_normal_ones_go_through_the_buffer(policy):
    buffer = KeyframeBuffer(KeyframeConfig(policy=policy, min_interval=0.0,
                                           change_threshold=0.05, max_count=4))
    stamps = iter(range(1000))
    for shape in ODD_SHAPES + ODD_SHAPES[::-1]:
        buffer.add(Frame(noise(shape, seed=len(shape) + shape[0]), float(next(stamps))))
    assert buffer.add(Frame(noise((480, 640), seed=99), float(next(stamps))))  # a new scene
    snapshot = buffer.snapshot()
    assert 2 <= len(snapshot) <= 5 and snapshot[-1].image.shape == (480, 640, 3)


def test_a_tiny_frame_that_changes_is_kept_and_a_still_one_is_not():
    buffer = KeyframeBuffer(CHANGE)
    assert buffer.add(Frame(np.zeros((480, 640, 3), np.uint8), 0.0))
    assert not buffer.add(Frame(np.zeros((8, 8, 3), np.uint8), 1.0))  # same (black) scene
    assert buffer.add(Frame(np.full((8, 8, 3), 200, np.uint8), 2.0))  # a change
    assert not buffer.add(Frame(np.full((480, 640, 3), 200, np.uint8), 3.0))


SIDES = st.one_of(st.integers(1, 64), st.sampled_from([127, 128, 129, 720, 1080, 2000]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes=st.lists(st.tuples(SIDES, SIDES), min_size=1, max_size=8),
       policy=st.sampled_from(['change', 'interval']), seed=st.integers(0, 2 ** 16))
def test_any_sequence_of_frame_sizes_goes_through_the_buffer(shapes, policy, seed):
    rng = np.random.default_rng(seed)
    buffer = KeyframeBuffer(KeyframeConfig(policy=policy, min_interval=0.0,
                                           change_threshold=0.05, max_count=3))
    for i, (height, width) in enumerate(shapes):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        buffer.add(Frame(image, float(i)))
        thumb = thumbnail(image)
        assert thumb.shape == (32, 32) and 0.0 <= thumb.min() <= thumb.max() <= 255.0
    snapshot = buffer.snapshot()
    assert snapshot[-1].stamp == float(len(shapes) - 1) and len(snapshot) <= 4
    buffer.reset(keep_latest=True)
    assert buffer.add(Frame(rng.integers(0, 256, (7, 5, 3), dtype=np.uint8), float(len(shapes))))


@settings(max_examples=200, deadline=None)
@given(a=st.tuples(st.integers(1, 64), st.integers(1, 64)),
       b=st.tuples(st.integers(1, 64), st.integers(1, 64)),
       sizes=st.tuples(st.integers(1, 40), st.integers(1, 40)))
def test_frame_difference_never_raises_and_stays_in_range(a, b, sizes):
    first = thumbnail(noise(a, 1), size=sizes[0])
    second = thumbnail(noise(b, 2), size=sizes[1])
    assert first.shape == (sizes[0],) * 2 and second.shape == (sizes[1],) * 2
    assert 0.0 <= frame_difference(first, second) <= 1.0
    assert frame_difference(first, first) == 0.0
