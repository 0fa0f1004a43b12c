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

"""Tests of the annotated debug image."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vlm_planner.errors import ImageConversionError
from vlm_planner.ros.debug_image import annotate_decision, MIN_WIDTH

DECISION = dict(label='pick_red_block', confidence=0.87, strategy='constrained', latency_s=0.123,
                goal='stack the red block on the blue one')


@pytest.fixture
def frame() -> np.ndarray:
    """A 160 x 120 gradient frame, so upscaling and darkening are easy to see."""
    yy, xx = np.mgrid[0:120, 0:160]
    image = np.stack([xx * 255 // 159, yy * 255 // 119, np.full_like(xx, 180)], axis=-1)
    return image.astype(np.uint8)


def test_output_is_larger_and_readable(frame):
    out = annotate_decision(frame, **DECISION)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert out.shape[1] >= MIN_WIDTH >= 480
    assert out.shape[0] > frame.shape[0] and out.shape[1] > frame.shape[1]
    # Aspect ratio kept: 160 x 120 -> 480 x 360.
    assert out.shape[:2] == (360, 480)


def test_wide_frame_keeps_its_size():
    wide = np.full((300, 800, 3), 100, dtype=np.uint8)
    out = annotate_decision(wide, **DECISION)
    assert out.shape == wide.shape
    assert out is not wide and not np.shares_memory(out, wide)


def test_input_untouched(frame):
    before = frame.copy()
    out = annotate_decision(frame, **DECISION, untrained=True)
    np.testing.assert_array_equal(frame, before)
    assert not np.shares_memory(out, frame)
    wide = np.full((400, 640, 3), 90, dtype=np.uint8)
    wide_before = wide.copy()
    annotate_decision(wide, **DECISION, untrained=True)
    np.testing.assert_array_equal(wide, wide_before)


def test_banner_differs_from_original_and_bottom_does_not():
    plain = np.full((360, 480, 3), 200, dtype=np.uint8)
    out = annotate_decision(plain, **DECISION)
    top = out[:40].astype(int)
    # Darkened by the banner, with bright text drawn on it.
    assert (top != 200).mean() > 0.9
    assert top.mean() < 150
    assert (out[:90] > 230).any()
    # Away from the banner (and with no untrained tag) the frame is as it was.
    np.testing.assert_array_equal(out[200:], plain[200:])


def test_banner_text_changes_with_decision(frame):
    a = annotate_decision(frame, **DECISION)
    b = annotate_decision(frame, **{**DECISION, 'label': 'place_on_blue'})
    c = annotate_decision(frame, **{**DECISION, 'confidence': None})
    d = annotate_decision(frame, **{**DECISION, 'goal': ''})
    assert (a != b).any() and (a != c).any() and (a != d).any()


def test_untrained_tag_changes_pixels(frame):
    trained = annotate_decision(frame, **DECISION, untrained=False)
    untrained = annotate_decision(frame, **DECISION, untrained=True)
    assert trained.shape == untrained.shape
    changed = (trained != untrained).any(axis=2)
    assert changed.sum() > 500
    # The tag is a red box, drawn where the banner is not.
    rows = np.nonzero(changed.any(axis=1))[0]
    assert rows.min() > trained.shape[0] // 2
    tag = untrained[changed]
    assert ((tag[:, 0] > 180) & (tag[:, 1] < 80) & (tag[:, 2] < 80)).mean() > 0.5


def test_short_frame_is_padded_to_fit_banner_and_tag():
    strip = np.full((8, 600, 3), 50, dtype=np.uint8)
    out = annotate_decision(strip, **DECISION, untrained=True)
    assert out.shape[1] == 600 and out.shape[0] > 8
    tiny = np.zeros((1, 1, 3), dtype=np.uint8)
    assert annotate_decision(tiny, **DECISION, untrained=True).shape[1] == MIN_WIDTH


def test_long_and_non_ascii_text_does_not_fail(frame):
    out = annotate_decision(frame, label='x' * 300, confidence=0.1, strategy='generate',
                            latency_s=12.5, goal='r\u00e9cup\u00e8re le cube \u2192 ' * 20,
                            untrained=True)
    assert out.shape[1] == MIN_WIDTH


def test_bad_input_raises(frame):
    with pytest.raises(ImageConversionError, match='H x W x 3 uint8'):
        annotate_decision(frame[:, :, 0], **DECISION)
    with pytest.raises(ImageConversionError, match='float32'):
        annotate_decision(frame.astype(np.float32), **DECISION)
    with pytest.raises(ImageConversionError, match='non-empty'):
        annotate_decision(np.zeros((0, 10, 3), dtype=np.uint8), **DECISION)


def test_does_not_import_rclpy():
    import importlib
    import subprocess
    code = ('import sys, vlm_planner.ros.debug_image; '
            'sys.exit(1 if "rclpy" in sys.modules else 0)')
    assert importlib.util.find_spec('vlm_planner.ros.debug_image') is not None
    assert subprocess.run([sys.executable, '-c', code], check=False).returncode == 0
