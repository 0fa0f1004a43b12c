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

Everything else is optional and leaves that default picture unchanged when not given:

* ``appearance`` (:class:`~vlm_planner.sim.appearance.Appearance`) draws one episode's look for
  domain randomisation: lighting, camera shift and zoom, wall and table colours, a table texture,
  distractor objects, block shades and shapes, and sensor noise;
* ``gripper`` (:class:`GripperPose`) moves the gripper from its home toward a table slot or the
  bin and lowers it there, so an action's motion can be filmed.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from vlm_planner.sim.appearance import Appearance
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


@dataclasses.dataclass(frozen=True)
class GripperPose:
    """Where the gripper is while an action moves it.

    Attributes:
        column: where it is going: a table slot (0-based), ``n_slots`` for the bin, or None to
            stay at home above the middle of the image.
        progress: how far it has come, from 0 (home) to 1 (above that column, lowered to just
            over the top of its pile or the bin).
    """

    column: int | None = None
    progress: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.progress <= 1.0:
            raise ValueError(f'gripper progress must be within 0..1, got {self.progress!r}')


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    r, g, b = rgb
    return int(r * factor), int(g * factor), int(b * factor)


def _block_rgb(colour: str, appearance: Appearance | None) -> tuple[int, int, int]:
    rgb = BLOCK_RGB[colour]
    if appearance is None:
        return rgb
    factor = appearance.block_shade(colour)
    r, g, b = (min(255, int(round(c * factor))) for c in rgb)
    return r, g, b


def _draw_block(image: np.ndarray, colour: str, x0: int, y0: int, size: int,
                appearance: Appearance | None = None) -> None:
    """Draw a filled, outlined block with its bounding box's top-left corner at (x0, y0)."""
    rgb = _block_rgb(colour, appearance)
    edge = _shade(rgb, 0.55)
    x1, y1 = x0 + size - 1, y0 + size - 1
    shape = 'square' if appearance is None else appearance.block_shape
    if shape == 'circle':
        centre, radius = (x0 + size // 2, y0 + size // 2), max(1, size // 2)
        cv2.circle(image, centre, radius, rgb, thickness=-1)
        cv2.circle(image, centre, radius, edge, 1)
    elif shape == 'rounded':
        r = max(1, size // 4)
        cv2.rectangle(image, (x0 + r, y0), (x1 - r, y1), rgb, thickness=-1)
        cv2.rectangle(image, (x0, y0 + r), (x1, y1 - r), rgb, thickness=-1)
        for cx, cy, start in ((x0 + r, y0 + r, 180), (x1 - r, y0 + r, 270),
                              (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90)):
            cv2.ellipse(image, (cx, cy), (r, r), 0, start, start + 90, rgb, thickness=-1)
            cv2.ellipse(image, (cx, cy), (r, r), 0, start, start + 90, edge, 1)
        for p, q in (((x0 + r, y0), (x1 - r, y0)), ((x0 + r, y1), (x1 - r, y1)),
                     ((x0, y0 + r), (x0, y1 - r)), ((x1, y0 + r), (x1, y1 - r))):
            cv2.line(image, p, q, edge, 1)
    else:
        cv2.rectangle(image, (x0, y0), (x1, y1), rgb, thickness=-1)
        cv2.rectangle(image, (x0, y0), (x1, y1), edge, 1)


def _draw_table(image: np.ndarray, layout: _Layout, appearance: Appearance | None) -> None:
    if appearance is None:
        cv2.rectangle(image, (0, layout.table_top), (layout.width - 1, layout.height - 1),
                      _TABLE, -1)
        mark = _SLOT_MARK
    else:
        image[layout.table_top:] = _table_texture(
            appearance.texture, appearance.table_rgb, appearance.pattern_seed,
            layout.width, layout.height - layout.table_top)
        # Slot marks as much lighter than the table as the default ones.
        lift = zip(appearance.table_rgb, _SLOT_MARK, _TABLE)
        r, g, b = (min(255, c + m - t) for c, m, t in lift)
        mark = (r, g, b)
    half = layout.block // 2 + 2
    for slot in range(layout.n_slots):
        x = layout.column_x(slot)
        cv2.line(image, (x - half, layout.table_top + 2), (x + half, layout.table_top + 2),
                 mark, 2)


def _draw_piles(image: np.ndarray, world: TabletopWorld, layout: _Layout,
                appearance: Appearance | None) -> None:
    size = layout.block
    for colour in COLOURS:
        slot = world.slot_of(colour)
        if slot is None:
            continue
        level = world.height(colour)
        x0 = layout.column_x(slot) - size // 2
        _draw_block(image, colour, x0, layout.table_top - (level + 1) * size, size, appearance)


def _draw_bin(image: np.ndarray, world: TabletopWorld, layout: _Layout,
              appearance: Appearance | None) -> None:
    x0, y0, x1, y1 = layout.bin_box
    cv2.rectangle(image, (x0, y0), (x1, y1), _BIN_INSIDE, -1)
    size = layout.bin_block
    inside = world.in_bin()
    for i, colour in enumerate(COLOURS):
        if colour in inside:
            _draw_block(image, colour, x0 + 4 + i * size, y1 - size - 2, size, appearance)
    cv2.polylines(image, [np.array([(x0, y0), (x0, y1), (x1, y1), (x1, y0)], np.int32)],
                  False, _BIN_WALL, 2)


def _pile_top(world: TabletopWorld, layout: _Layout, column: int) -> int:
    """Return the image row of the top of ``column``'s pile (the bin's rim for the bin)."""
    if column >= layout.n_slots:
        return layout.bin_box[1]
    count = sum(1 for colour in COLOURS if world.slot_of(colour) == column)
    return layout.table_top - count * layout.block


def _draw_gripper(image: np.ndarray, world: TabletopWorld, layout: _Layout,
                  appearance: Appearance | None, pose: GripperPose | None) -> None:
    size = layout.block
    x = layout.width // 2
    palm_y = int(layout.height * 0.06)
    palm_h = max(2, int(layout.height * 0.02))
    if pose is not None and pose.column is not None and pose.progress > 0:
        target_x = layout.column_x(min(max(pose.column, 0), layout.n_slots))
        x = int(round(x + pose.progress * (target_x - x)))
        lowest = _pile_top(world, layout, pose.column) - (palm_h + size + 3)
        if lowest > palm_y:
            palm_y = int(round(palm_y + pose.progress * (lowest - palm_y)))
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
        _draw_block(image, held, x - size // 2, palm_y + palm_h + 1, size, appearance)


def _draw_distractors(image: np.ndarray, appearance: Appearance) -> None:
    height, width = image.shape[:2]
    for item in appearance.distractors:
        cx, cy = int(round(item.x * (width - 1))), int(round(item.y * (height - 1)))
        r = max(2, int(round(item.size * height / 2)))
        thick = max(1, r // 3)
        if item.shape == 'triangle':
            points = np.array([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], np.int32)
            cv2.fillPoly(image, [points], item.rgb)
        elif item.shape == 'ring':
            cv2.circle(image, (cx, cy), r, item.rgb, thick)
        elif item.shape == 'cross':
            cv2.line(image, (cx - r, cy), (cx + r, cy), item.rgb, thick)
            cv2.line(image, (cx, cy - r), (cx, cy + r), item.rgb, thick)
        else:  # bar
            cv2.rectangle(image, (cx - r, cy - max(1, r // 3)), (cx + r, cy + max(1, r // 3)),
                          item.rgb, -1)


@functools.lru_cache(maxsize=16)
def _table_texture(texture: str, rgb: tuple[int, int, int], seed: int, width: int,
                   height: int) -> np.ndarray:
    """Return the table's pixels (``height x width x 3`` uint8) for one texture and colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / max(width, 1), y / max(height, 1)  # 0..1 across and down the table
    if texture == 'wood':
        warp = 0.3 * np.sin(2 * np.pi * (1.5 * u + rng.random()))
        factor = 1 + 0.07 * np.sin(2 * np.pi * (6 * v + warp)) \
            + 0.03 * rng.uniform(-1, 1, (height, 1)).astype(np.float32)
    elif texture == 'checker':
        tile = max(2, width // 10)
        factor = 1 + 0.09 * ((((x // tile) + (y // tile)) % 2) * 2 - 1)
    elif texture == 'speckle':
        factor = 1 + rng.uniform(-0.12, 0.12, (height, width)).astype(np.float32)
    elif texture == 'marble':
        smooth = cv2.resize(rng.uniform(0, 1, (4, 6)).astype(np.float32), (width, height),
                            interpolation=cv2.INTER_CUBIC)
        veins = np.sin(2 * np.pi * (2.5 * u + 0.8 * v * height / max(width, 1)) + 4 * smooth)
        factor = 1 - 0.28 * np.exp(-(veins ** 2) / 0.03)
    elif texture == 'plaid':
        period = max(4.0, width / 7)
        factor = 1 + 0.12 * (np.sin(2 * np.pi * x / period) > 0.5) \
            - 0.12 * (np.sin(2 * np.pi * y / (period * 0.6)) > 0.5)
    else:  # plain
        factor = np.ones((height, width), np.float32)
    pixels = np.asarray(rgb, np.float32)[None, None, :] * factor[..., None]
    out = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=16)
def _noise_pattern(seed: int, sigma: float, width: int, height: int) -> np.ndarray:
    pattern = np.random.default_rng(seed + 1).normal(0.0, sigma, (height, width, 3))
    out = pattern.astype(np.float32)
    out.setflags(write=False)
    return out


def _film(image: np.ndarray, appearance: Appearance) -> np.ndarray:
    """Apply the camera (shift and zoom), the light and the sensor noise to a drawn scene."""
    height, width = image.shape[:2]
    scale = appearance.scale
    dx, dy = appearance.shift[0] * width, appearance.shift[1] * height
    if scale != 1.0 or dx or dy:
        cx, cy = (width - 1) / 2, (height - 1) / 2
        matrix = np.array([[scale, 0.0, (1 - scale) * cx + dx],
                           [0.0, scale, (1 - scale) * cy + dy]], np.float32)
        image = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    across = np.linspace(-1.0, 1.0, width, dtype=np.float32)
    gain = appearance.brightness * (1 + appearance.gradient * across)
    light = gain[None, :, None] * np.asarray(appearance.cast, np.float32)[None, None, :]
    pixels = image.astype(np.float32) * light
    if appearance.noise > 0:
        pixels += _noise_pattern(appearance.pattern_seed, appearance.noise, width, height)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def render(world: TabletopWorld, width: int = 320, height: int = 240, *,
           step_text: str | None = None, appearance: Appearance | None = None,
           gripper: GripperPose | None = None) -> np.ndarray:
    """Draw ``world`` as an RGB image.

    Args:
        world: the state to draw.
        width: image width in pixels (at least :data:`MIN_WIDTH`).
        height: image height in pixels (at least :data:`MIN_HEIGHT`).
        step_text: optional caption written in the bottom-left corner, e.g. ``'step 3'``.
        appearance: the episode's look (domain randomisation); None draws the default look.
        gripper: where the gripper is on its way; None (or progress 0) draws it at home.

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
    image[:] = _WALL if appearance is None else appearance.wall_rgb
    _draw_table(image, layout, appearance)
    if appearance is not None:
        _draw_distractors(image, appearance)
    _draw_bin(image, world, layout, appearance)
    _draw_piles(image, world, layout, appearance)
    _draw_gripper(image, world, layout, appearance, gripper)
    if appearance is not None:
        image = _film(image, appearance)
    if step_text:
        scale = 0.4 * height / 240
        cv2.putText(image, step_text, (4, height - max(4, height // 40)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, 1, cv2.LINE_AA)
    return image
