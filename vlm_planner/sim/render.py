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

"""Draw the tabletop world as a camera image.

The picture is a side view: the table along the bottom with its slots from left to right, the bin
at the right end of the table, piles of blocks standing on the slots, and the gripper hanging from
the top, closed around the held block when it holds one. Blocks in the bin sit side by side, each
colour at its own place. The same state always gives the same image, and different states give
different images.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from vlm_planner.sim.world import COLOURS, TabletopWorld

#: RGB colour of each block.
BLOCK_RGB: dict[str, tuple[int, int, int]] = {
    'red': (214, 39, 40),
    'green': (44, 160, 44),
    'blue': (31, 90, 200),
}
_WALL = (232, 230, 222)
_TABLE = (166, 118, 76)
_SLOT_MARK = (196, 156, 116)
_BIN_INSIDE = (70, 70, 74)
_BIN_WALL = (128, 128, 136)
_GRIPPER = (55, 58, 66)
_TEXT = (255, 255, 255)

#: Smallest image size the layout can be drawn in.
MIN_WIDTH = 64
MIN_HEIGHT = 48


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Pixel geometry for one image size and number of slots."""

    width: int
    height: int
    n_slots: int

    @property
    def column(self) -> float:
        margin = self.width * 0.04
        return (self.width - 2 * margin) / (self.n_slots + 1)

    def column_x(self, index: int) -> int:
        return int(round(self.width * 0.04 + self.column * (index + 0.5)))

    @property
    def table_top(self) -> int:
        return int(round(self.height * 0.8))

    @property
    def block(self) -> int:
        return max(4, int(min(self.column * 0.62, self.height * 0.16)))

    @property
    def bin_box(self) -> tuple[int, int, int, int]:
        half = int(self.column * 0.45)
        x = self.column_x(self.n_slots)
        return x - half, self.table_top - int(self.block * 1.2), x + half, self.table_top

    @property
    def bin_block(self) -> int:
        x0, _, x1, _ = self.bin_box
        return max(3, min(self.block, (x1 - x0 - 8) // len(COLOURS)))


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    r, g, b = rgb
    return int(r * factor), int(g * factor), int(b * factor)


def _draw_block(image: np.ndarray, colour: str, x0: int, y0: int, size: int) -> None:
    """Draw a filled, outlined square with its top-left corner at (x0, y0)."""
    rgb = BLOCK_RGB[colour]
    cv2.rectangle(image, (x0, y0), (x0 + size - 1, y0 + size - 1), rgb, thickness=-1)
    cv2.rectangle(image, (x0, y0), (x0 + size - 1, y0 + size - 1), _shade(rgb, 0.55), 1)


def _draw_table(image: np.ndarray, layout: _Layout) -> None:
    cv2.rectangle(image, (0, layout.table_top), (layout.width - 1, layout.height - 1), _TABLE, -1)
    half = layout.block // 2 + 2
    for slot in range(layout.n_slots):
        x = layout.column_x(slot)
        cv2.line(image, (x - half, layout.table_top + 2), (x + half, layout.table_top + 2),
                 _SLOT_MARK, 2)


def _draw_piles(image: np.ndarray, world: TabletopWorld, layout: _Layout) -> None:
    size = layout.block
    for colour in COLOURS:
        slot = world.slot_of(colour)
        if slot is None:
            continue
        level = world.height(colour)
        x0 = layout.column_x(slot) - size // 2
        _draw_block(image, colour, x0, layout.table_top - (level + 1) * size, size)


def _draw_bin(image: np.ndarray, world: TabletopWorld, layout: _Layout) -> None:
    x0, y0, x1, y1 = layout.bin_box
    cv2.rectangle(image, (x0, y0), (x1, y1), _BIN_INSIDE, -1)
    size = layout.bin_block
    inside = world.in_bin()
    for i, colour in enumerate(COLOURS):
        if colour in inside:
            _draw_block(image, colour, x0 + 4 + i * size, y1 - size - 2, size)
    cv2.polylines(image, [np.array([(x0, y0), (x0, y1), (x1, y1), (x1, y0)], np.int32)],
                  False, _BIN_WALL, 2)


def _draw_gripper(image: np.ndarray, world: TabletopWorld, layout: _Layout) -> None:
    size = layout.block
    x = layout.width // 2
    palm_y = int(layout.height * 0.06)
    palm_h = max(2, int(layout.height * 0.02))
    held = world.held
    gap = size // 2 + (1 if held else max(3, size // 4))
    finger_w = max(2, size // 8)
    cv2.rectangle(image, (x - 1, 0), (x + 1, palm_y), _GRIPPER, -1)
    cv2.rectangle(image, (x - gap - finger_w, palm_y), (x + gap + finger_w, palm_y + palm_h),
                  _GRIPPER, -1)
    bottom = palm_y + palm_h + size + 2
    for side in (-1, 1):
        inner = x + side * gap
        outer = inner + side * finger_w
        cv2.rectangle(image, (min(inner, outer), palm_y), (max(inner, outer), bottom),
                      _GRIPPER, -1)
    if held is not None:
        _draw_block(image, held, x - size // 2, palm_y + palm_h + 1, size)


def render(world: TabletopWorld, width: int = 320, height: int = 240, *,
           step_text: str | None = None) -> np.ndarray:
    """Draw ``world`` as an RGB image.

    Args:
        world: the state to draw.
        width: image width in pixels (at least :data:`MIN_WIDTH`).
        height: image height in pixels (at least :data:`MIN_HEIGHT`).
        step_text: optional caption written in the bottom-left corner, e.g. ``'step 3'``.

    Returns:
        A ``height x width x 3`` uint8 array in RGB order.

    Raises:
        ValueError: if the size is too small to draw the scene.
    """
    if not isinstance(width, int) or not isinstance(height, int) or width < MIN_WIDTH \
            or height < MIN_HEIGHT:
        raise ValueError(
            f'cannot render a {width}x{height} image; '
            f'use at least {MIN_WIDTH}x{MIN_HEIGHT} pixels')
    layout = _Layout(width, height, world.n_slots)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = _WALL
    _draw_table(image, layout)
    _draw_bin(image, world, layout)
    _draw_piles(image, world, layout)
    _draw_gripper(image, world, layout)
    if step_text:
        scale = 0.4 * height / 240
        cv2.putText(image, step_text, (4, height - max(4, height // 40)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, 1, cv2.LINE_AA)
    return image
