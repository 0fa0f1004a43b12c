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
import functools
from typing import NamedTuple

import numpy as np

#: Pixels a thumbnail cell of a large image reads along each side (36 in all; with fewer, the
#: thumbnail of a finely textured scene changes noticeably when the camera moves a pixel or two).
SAMPLES_PER_CELL = 6


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
    neighbour). This runs in the image callback, so along a side longer than
    ``SAMPLES_PER_CELL * size`` pixels a block is read at ``SAMPLES_PER_CELL`` evenly spaced
    pixels inside it: a cell of a large image is the mean of ``SAMPLES_PER_CELL ** 2`` of its
    block's pixels, and the cost stops growing with the image. No OpenCV is needed in ``core``.

    Args:
        image: ``H x W x C`` or ``H x W`` array.
        size: the thumbnail's side, at least 1.

    Returns:
        A ``size x size`` float32 array of grey values in the image's range (0..255 for uint8).
    """
    channels = image.shape[2] if image.ndim == 3 else 1
    sampling = _sampling(image.shape, size)
    if image.flags.c_contiguous:  # the camera's case: one gather, no copy of whole rows
        pixels = image.reshape(-1).take(sampling.flat)
    else:
        rows = image[sampling.rows].reshape(len(sampling.rows), -1)
        pixels = rows.take(sampling.values, axis=1)
    pixels = pixels.reshape(len(sampling.rows), -1)
    row_cells = _cells(len(sampling.rows), size)
    col_starts, col_counts = _cells(len(sampling.values) // channels, size)
    sums = _block_sums(pixels, row_cells, col_starts * channels)
    return (sums / (np.outer(row_cells[1], col_counts) * channels)).astype(np.float32)


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


def _block_sums(values: np.ndarray, row_cells: tuple[np.ndarray, np.ndarray],
                col_starts: np.ndarray) -> np.ndarray:
    """Sums of 2-D ``values`` over the blocks of rows and columns that start as given.

    A block holds at most ``SAMPLES_PER_CELL ** 2`` pixels, so the float32 sums are exact for
    integer images of up to 16 bits and 4 channels. Summing rows with reduceat costs a loop per
    column, so rows in equal blocks (a large, sampled image) are summed by a reshape first;
    otherwise the columns are summed first.
    """
    row_starts, row_counts = row_cells
    if row_counts.min() == row_counts.max():
        rows = values.reshape(len(row_counts), -1, values.shape[1]).sum(axis=1, dtype=np.float32)
        return np.add.reduceat(rows, col_starts, axis=1)
    columns = np.add.reduceat(values, col_starts, axis=1, dtype=np.float32)
    return np.add.reduceat(columns, row_starts, axis=0)


@functools.lru_cache(maxsize=64)
def _cells(length: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Start index and pixel count of each of ``size`` cells along a side of ``length`` pixels.

    A side of at least ``size`` pixels is split into ``size`` blocks of nearly equal length; a
    shorter side gives each cell its nearest pixel (count 1), repeating pixels. Cached (read-only
    arrays): a camera keeps its image size.
    """
    if length >= size:
        edges = (np.arange(size + 1, dtype=np.intp) * length) // size  # strictly increasing
        starts, counts = edges[:-1], np.diff(edges)
    else:
        starts, counts = (np.arange(size, dtype=np.intp) * length) // size, np.ones(size, np.intp)
    starts.setflags(write=False)  # cached: shared by every caller
    counts.setflags(write=False)
    return starts, counts


def _sampled_pixels(length: int, size: int) -> np.ndarray:
    """Indices of the pixels a thumbnail of ``size`` reads along a side of ``length`` pixels.

    A side shorter than ``size`` reads each cell's nearest pixel (repeating pixels), one up to
    ``SAMPLES_PER_CELL * size`` pixels reads every pixel, a longer one ``SAMPLES_PER_CELL``
    evenly spaced pixels inside each of the ``size`` blocks of :func:`_cells`. Either way at
    least ``size`` pixels are read and :func:`_cells` of their count groups them into the cells.
    """
    if length < size:
        return _cells(length, size)[0]
    if length <= SAMPLES_PER_CELL * size:
        return np.arange(length, dtype=np.intp)
    starts, counts = _cells(length, size)  # every count is at least SAMPLES_PER_CELL
    steps = 2 * np.arange(SAMPLES_PER_CELL) + 1
    return (starts[:, None] + steps * counts[:, None] // (2 * SAMPLES_PER_CELL)).ravel()


class _Sampling(NamedTuple):
    """The values a thumbnail reads from an image of one shape (read-only index arrays)."""

    rows: np.ndarray  # the rows read
    values: np.ndarray  # in each, the values read (channels interleaved: all of each pixel)
    flat: np.ndarray  # the same values as indices into the flattened image, row by row


@functools.lru_cache(maxsize=8)
def _sampling(shape: tuple[int, ...], size: int) -> _Sampling:
    """What a thumbnail of ``size`` reads from an image of ``shape``.

    Cached (up to 1 MB a full-HD shape): a camera keeps its image size.
    """
    channels = shape[2] if len(shape) == 3 else 1
    rows = _sampled_pixels(shape[0], size)
    values = (_sampled_pixels(shape[1], size)[:, None] * channels + np.arange(channels)).ravel()
    flat = (rows[:, None] * (shape[1] * channels) + values).ravel()
    for indices in (rows, values, flat):
        indices.setflags(write=False)
    return _Sampling(rows, values, flat)
