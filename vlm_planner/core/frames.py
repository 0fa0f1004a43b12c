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

"""Camera frames as the planner sees them: an RGB array and the time it was taken."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Frame:
    """One camera image.

    Attributes:
        image: H x W x 3 uint8 array in RGB order.
        stamp: capture time in seconds (ROS time for live data, bag time for recordings).
    """

    image: np.ndarray
    stamp: float

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                'a frame must be an H x W x 3 RGB array, '
                f'got shape {getattr(image, "shape", None)}')
        if image.dtype != np.uint8:
            raise ValueError(f'a frame must be uint8, got {image.dtype}')
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError('a frame must not be empty')


def thumbnail(image: np.ndarray, size: int = 32) -> np.ndarray:
    """Return a small grey float version of ``image`` for cheap change detection.

    Block-averages rather than resizes, so no OpenCV import is needed in ``core``. Large images
    are first subsampled to about four pixels per thumbnail cell: this runs in the image callback.
    """
    step = max(1, min(image.shape[:2]) // (4 * size))
    grey = image[::step, ::step].astype(np.float32).mean(axis=2)
    h, w = grey.shape
    rows = np.linspace(0, h, min(size, h) + 1).astype(int)
    cols = np.linspace(0, w, min(size, w) + 1).astype(int)
    # Sum over blocks with reduceat, then divide by block areas.
    sums = np.add.reduceat(np.add.reduceat(grey, rows[:-1], axis=0), cols[:-1], axis=1)
    areas = np.outer(np.diff(rows), np.diff(cols))
    return sums / areas


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, scaled to 0..1."""
    return float(np.abs(a - b).mean() / 255.0)
