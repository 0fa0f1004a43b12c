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

"""Frames of any shape reach the model: extreme or tiny ones are padded to a safe shape."""

import numpy as np
import pytest

from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.models.framing import fit_pixels, MAX_ASPECT, MIN_SIDE, pad_shape


@pytest.mark.parametrize('shape', [(1, 299), (300, 1), (3, 3), (1, 1), (20, 240), (16, 2000)])
def test_odd_shapes_are_padded_to_a_safe_aspect_and_side(shape):
    padded = pad_shape(np.full((*shape, 3), 255, np.uint8))
    height, width = padded.shape[:2]
    assert min(height, width) >= MIN_SIDE and max(height, width) / min(height, width) <= MAX_ASPECT
    assert (padded == 255).sum() == shape[0] * shape[1] * 3  # the frame itself, whole, on black


def test_camera_frames_are_only_shrunk():
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert pad_shape(image) is image
    assert fit_pixels(image, 320 * 240) is image


@pytest.mark.parametrize('shape', [(1, 299), (300, 1), (3, 3)])
def test_the_model_answers_on_frames_of_extreme_shape(backend, shape):
    frames = [Frame(np.full((*shape, 3), 90, np.uint8), float(t)) for t in range(3)]
    messages = [Message('user', (VideoPart(tuple(frames[:-1])), ImagePart(frames[-1]),
                                 TextPart('Which option comes next?')))]
    scores = backend.score_letters(messages, 'ABCD')
    assert scores.shape == (4,) and np.isfinite(scores).all()
