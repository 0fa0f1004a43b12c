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

    The thumbnail is always ``size x size``, whatever the image's shape (any H, W >= 1, colour or
    grey), so any two thumbnails can be compared. Along a side of at least ``size`` pixels, each
    cell is the mean of its block of pixels; along a shorter side, pixels are repeated (nearest
    neighbour). Large images are first subsampled to about four pixels per thumbnail cell: this
    runs in the image callback. No OpenCV is needed in ``core``.

    Args:
        image: ``H x W x C`` or ``H x W`` array.
        size: the thumbnail's side, at least 1.

    Returns:
        A ``size x size`` float32 array of grey values in the image's range (0..255 for uint8).
    """
    step = max(1, min(image.shape[:2]) // (4 * size))
    sampled = image[::step, ::step].astype(np.float32)
    grey = sampled.mean(axis=2) if sampled.ndim == 3 else sampled
    return _resized(grey, size).astype(np.float32)


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, scaled to 0..1.

    Thumbnails of different shapes (made with different ``size``) are compared at the smaller
    one's size; this never raises for two non-empty 2-D thumbnails.
    """
    if a.shape != b.shape:
        side = min(min(a.shape), min(b.shape))
        a, b = _resized(a, side), _resized(b, side)
    return float(np.abs(a - b).mean() / 255.0)


def _resized(grey: np.ndarray, size: int) -> np.ndarray:
    """``grey`` (2-D) block-averaged or repeated to ``size x size`` (see :func:`_cells`)."""
    row_starts, row_counts = _cells(grey.shape[0], size)
    col_starts, col_counts = _cells(grey.shape[1], size)
    # Sum over blocks with reduceat (a repeated start sums one pixel), then divide by areas.
    sums = np.add.reduceat(np.add.reduceat(grey, row_starts, axis=0), col_starts, axis=1)
    return sums / np.outer(row_counts, col_counts)


def _cells(length: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Start index and pixel count of each of ``size`` cells along a side of ``length`` pixels.

    A side of at least ``size`` pixels is split into ``size`` blocks of nearly equal length; a
    shorter side gives each cell its nearest pixel (count 1), repeating pixels.
    """
    if length >= size:
        edges = (np.arange(size + 1, dtype=np.intp) * length) // size  # strictly increasing
        return edges[:-1], np.diff(edges)
    return (np.arange(size, dtype=np.intp) * length) // size, np.ones(size, dtype=np.intp)
