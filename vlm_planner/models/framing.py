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

"""Frame selection and sizing shared by every backend: which frames go out, and how large.

Kept free of torch so that backends which talk to a server stay light to import.
"""

from __future__ import annotations

import cv2
import numpy as np


def subsample_indices(count: int, limit: int) -> list[int]:
    """Evenly spread indices of at most ``limit`` of ``count`` items, always keeping the last."""
    if count <= limit:
        return list(range(count))
    return sorted({int(i) for i in np.round(np.linspace(count - 1, 0, limit))})


def fit_size(height: int, width: int, max_pixels: int) -> tuple[int, int]:
    """Largest size with the aspect ratio of ``height`` x ``width`` within ``max_pixels``."""
    if height * width <= max_pixels:
        return height, width
    scale = (max_pixels / (height * width)) ** 0.5
    new_height, new_width = max(1, int(height * scale)), max(1, int(width * scale))
    while new_height * new_width > max_pixels:  # float rounding, or a 1-pixel side
        if new_height >= new_width:
            new_height -= 1
        else:
            new_width -= 1
    return new_height, new_width


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` at ``height`` x ``width`` (area interpolation); the same array if already so."""
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


#: Frames are padded (black) to at most this aspect ratio and at least this side, since vision
#: processors refuse extreme shapes (Qwen-VL: aspect ratio 200) or misread tiny ones (a side of
#: 1 or 3 pixels looks like the channel axis).
MAX_ASPECT = 8.0
MIN_SIDE = 16


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The size :func:`pad_shape` gives an image of ``height`` x ``width``."""
    new_height = max(height, MIN_SIDE, int(np.ceil(width / MAX_ASPECT)))
    return new_height, max(width, MIN_SIDE, int(np.ceil(new_height / MAX_ASPECT)))


def pad_shape(image: np.ndarray) -> np.ndarray:
    """``image`` centred on black to an aspect ratio <= MAX_ASPECT and sides >= MIN_SIDE."""
    height, width = image.shape[:2]
    new_height, new_width = padded_size(height, width)
    if (new_height, new_width) == (height, width):
        return image
    top, left = (new_height - height) // 2, (new_width - width) // 2
    return cv2.copyMakeBorder(image, top, new_height - height - top, left,
                              new_width - width - left, cv2.BORDER_CONSTANT, value=0)


def fit_pixels(image: np.ndarray, max_pixels: int) -> np.ndarray:
    """``image`` padded to a safe shape (:func:`pad_shape`), then shrunk to ``max_pixels``.

    The aspect ratio is kept; normal camera frames are only shrunk.
    """
    image = pad_shape(image)
    height, width = image.shape[:2]
    return resize(image, *fit_size(height, width, max_pixels))
