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

"""Domain randomisation of the tabletop camera: how one episode looks.

An :class:`Appearance` fixes everything :func:`~vlm_planner.sim.render.render` varies: lighting
(brightness, colour cast, a left-right gradient), the camera (shift and zoom), wall and table
colours, the table's texture, distractor objects that are not blocks, each block's shade and the
blocks' shape, and a fixed sensor-noise pattern. An :class:`AppearanceSpace` is the range
appearances are drawn from; :data:`LOOKS` names three, in order of increasing visual shift:

* :data:`IN_DOMAIN` (``in-domain``), the training range: square blocks, table textures ``plain``,
  ``wood``, ``checker`` and ``speckle``, brightness 0.8 to 1.2;
* :data:`SHIFTED` (``shifted``), halfway to out-of-domain in lighting and camera only: the
  training range's blocks, textures, wall and table colours and block shades, but brightness 0.62
  to 0.75 or 1.25 to 1.38, a stronger cast and gradient, larger camera shifts and zooms, at least
  one distractor and more noise;
* :data:`OUT_OF_DOMAIN` (``out-of-domain``), for the out-of-domain split: round or rounded
  blocks, table textures ``marble`` and ``plaid`` and table colours never used in training,
  brightness 0.5 to 0.65 or 1.35 to 1.5, a stronger cast and gradient still, larger camera shifts
  and zooms, more distractors and noise.

:func:`look` returns a range by its name (``vlm-planner generate --look``).

Distractors are triangles, rings, crosses and bars in colours far from every block colour, so
they never pass for a block.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from vlm_planner.errors import ConfigError
from vlm_planner.sim.world import COLOURS

RGB = tuple[int, int, int]
Interval = tuple[float, float]

#: Table textures of the training range and of the out-of-domain range (disjoint).
IN_DOMAIN_TEXTURES: tuple[str, ...] = ('plain', 'wood', 'checker', 'speckle')
OUT_OF_DOMAIN_TEXTURES: tuple[str, ...] = ('marble', 'plaid')
TEXTURES = IN_DOMAIN_TEXTURES + OUT_OF_DOMAIN_TEXTURES

#: How blocks may be drawn: ``square`` is the default renderer's look.
BLOCK_SHAPES: tuple[str, ...] = ('square', 'rounded', 'circle')

#: Distractor shapes; none of them is a filled square or disc, so none looks like a block.
DISTRACTOR_SHAPES: tuple[str, ...] = ('triangle', 'ring', 'cross', 'bar')

#: Distractor colours, each far from red, green and blue at any shade and lighting used.
DISTRACTOR_RGB: dict[str, RGB] = {
    'yellow': (232, 200, 40),
    'purple': (128, 70, 160),
    'white': (245, 245, 245),
    'black': (25, 25, 25),
    'orange': (240, 150, 30),
    'cyan': (70, 200, 215),
}


@dataclasses.dataclass(frozen=True)
class Distractor:
    """An object on the wall or table that is not a block.

    Attributes:
        shape: one of :data:`DISTRACTOR_SHAPES`.
        rgb: its colour, one of :data:`DISTRACTOR_RGB`.
        x: centre across the image, 0 (left) to 1 (right).
        y: centre down the image, 0 (top) to 1 (bottom).
        size: size as a fraction of the image height.
    """

    shape: str
    rgb: RGB
    x: float
    y: float
    size: float


@dataclasses.dataclass(frozen=True)
class Appearance:
    """How one episode looks (see the module docstring); hashable, so renders can cache on it.

    Attributes:
        space: name of the :class:`AppearanceSpace` it was drawn from.
        brightness: overall light level (1 = the default renderer's).
        cast: light colour as red, green and blue gains.
        gradient: light falling off from one side: the gain is ``1 + gradient`` at the right
            edge and ``1 - gradient`` at the left.
        shift: camera shift as fractions of the image width and height.
        scale: camera zoom about the image centre (above 1 zooms in).
        wall_rgb: colour of the wall behind the table.
        table_rgb: base colour of the table.
        texture: the table's texture, one of :data:`TEXTURES`.
        pattern_seed: seed of the texture and the noise pattern.
        block_shades: a brightness factor for each block, in :data:`~vlm_planner.sim.world.COLOURS`
            order.
        block_shape: one of :data:`BLOCK_SHAPES`.
        distractors: objects that are not blocks.
        noise: standard deviation of the sensor noise, in 0..255 grey levels.
    """

    space: str
    brightness: float
    cast: tuple[float, float, float]
    gradient: float
    shift: tuple[float, float]
    scale: float
    wall_rgb: RGB
    table_rgb: RGB
    texture: str
    pattern_seed: int
    block_shades: tuple[float, ...]
    block_shape: str
    distractors: tuple[Distractor, ...]
    noise: float

    def __post_init__(self) -> None:
        if self.texture not in TEXTURES:
            raise ValueError(f'unknown table texture {self.texture!r}; use one of '
                             f'{", ".join(TEXTURES)}')
        if self.block_shape not in BLOCK_SHAPES:
            raise ValueError(f'unknown block shape {self.block_shape!r}; use one of '
                             f'{", ".join(BLOCK_SHAPES)}')
        if len(self.block_shades) != len(COLOURS):
            raise ValueError(f'give one block shade per colour ({", ".join(COLOURS)}), got '
                             f'{len(self.block_shades)}')
        for item in self.distractors:
            if item.shape not in DISTRACTOR_SHAPES:
                raise ValueError(f'unknown distractor shape {item.shape!r}; use one of '
                                 f'{", ".join(DISTRACTOR_SHAPES)}')

    def block_shade(self, colour: str) -> float:
        """Return the brightness factor of the ``colour`` block."""
        return self.block_shades[COLOURS.index(colour)]

    def to_dict(self) -> dict[str, object]:
        """Return the appearance as JSON-ready data."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Appearance:
        """Rebuild an appearance from :meth:`to_dict` output.

        Raises:
            ValueError: a value is missing or not allowed.
        """
        try:
            return cls(**{
                **data, 'cast': tuple(data['cast']), 'shift': tuple(data['shift']),
                'wall_rgb': tuple(data['wall_rgb']), 'table_rgb': tuple(data['table_rgb']),
                'block_shades': tuple(data['block_shades']),
                'distractors': tuple(Distractor(**{**d, 'rgb': tuple(d['rgb'])})
                                     for d in data['distractors'])})
        except (KeyError, TypeError) as exc:
            raise ValueError(f'not an appearance: {exc}') from None


@dataclasses.dataclass(frozen=True)
class AppearanceSpace:
    """The range :meth:`sample` draws appearances from; each tuple of intervals is a union.

    Attributes:
        name: name written into each appearance and the data set's manifest.
        brightness: intervals of :attr:`Appearance.brightness`.
        cast: interval of each colour gain.
        gradient: interval of the gradient's size; its side is random.
        shift: largest camera shift, as a fraction of the image size.
        scale: intervals of the camera zoom.
        wall_rgb: wall colours, each varied by up to ``colour_jitter`` per channel.
        table_rgb: table colours, varied alike.
        colour_jitter: largest change of a wall or table colour channel.
        textures: table textures.
        block_shade: interval of each block's shade.
        block_shapes: block shapes.
        distractors: least and most distractor objects.
        noise: interval of the sensor noise.
    """

    name: str
    brightness: tuple[Interval, ...]
    cast: Interval
    gradient: Interval
    shift: float
    scale: tuple[Interval, ...]
    wall_rgb: tuple[RGB, ...]
    table_rgb: tuple[RGB, ...]
    colour_jitter: int
    textures: tuple[str, ...]
    block_shade: Interval
    block_shapes: tuple[str, ...]
    distractors: tuple[int, int]
    noise: Interval

    def sample(self, rng: np.random.Generator) -> Appearance:
        """Draw one appearance; the same generator state always gives the same appearance."""
        count = int(rng.integers(self.distractors[0], self.distractors[1] + 1))
        return Appearance(
            space=self.name,
            brightness=_union(rng, self.brightness),
            cast=(_uniform(rng, self.cast), _uniform(rng, self.cast), _uniform(rng, self.cast)),
            gradient=_uniform(rng, self.gradient) * float(rng.choice((-1.0, 1.0))),
            shift=(_uniform(rng, (-self.shift, self.shift)),
                   _uniform(rng, (-self.shift, self.shift))),
            scale=_union(rng, self.scale),
            wall_rgb=_jittered(rng, self.wall_rgb, self.colour_jitter),
            table_rgb=_jittered(rng, self.table_rgb, self.colour_jitter),
            texture=str(rng.choice(self.textures)),
            pattern_seed=int(rng.integers(0, 2 ** 31)),
            block_shades=tuple(_uniform(rng, self.block_shade) for _ in COLOURS),
            block_shape=str(rng.choice(self.block_shapes)),
            distractors=tuple(_distractor(rng) for _ in range(count)),
            noise=_uniform(rng, self.noise),
        )

    def to_dict(self) -> dict[str, object]:
        """Return the space as JSON-ready data (for the manifest)."""
        return _plain(dataclasses.asdict(self))


#: The training range of appearances.
IN_DOMAIN = AppearanceSpace(
    name='in-domain',
    brightness=((0.8, 1.2),),
    cast=(0.92, 1.08),
    gradient=(0.0, 0.15),
    shift=0.04,
    scale=((0.95, 1.05),),
    wall_rgb=((232, 230, 222), (215, 220, 228), (236, 226, 210), (205, 205, 205)),
    table_rgb=((166, 118, 76), (140, 100, 70), (190, 150, 105), (120, 120, 125),
               (175, 170, 160)),
    colour_jitter=12,
    textures=IN_DOMAIN_TEXTURES,
    block_shade=(0.85, 1.15),
    block_shapes=('square',),
    distractors=(0, 3),
    noise=(0.0, 4.0),
)

#: Halfway between :data:`IN_DOMAIN` and :data:`OUT_OF_DOMAIN` in lighting and camera only: the
#: training range's blocks, textures and colours under darker or brighter light, a stronger
#: colour cast and gradient, larger camera moves, more distractors and noise.
SHIFTED = AppearanceSpace(
    name='shifted',
    brightness=((0.62, 0.75), (1.25, 1.38)),
    cast=(0.87, 1.13),
    gradient=(0.12, 0.25),
    shift=0.05,
    scale=((0.9, 0.95), (1.05, 1.08)),
    wall_rgb=IN_DOMAIN.wall_rgb,
    table_rgb=IN_DOMAIN.table_rgb,
    colour_jitter=IN_DOMAIN.colour_jitter,
    textures=IN_DOMAIN.textures,
    block_shade=IN_DOMAIN.block_shade,
    block_shapes=IN_DOMAIN.block_shapes,
    distractors=(1, 3),
    noise=(2.0, 6.0),
)

#: Appearances never seen in training, for the out-of-domain split.
OUT_OF_DOMAIN = AppearanceSpace(
    name='out-of-domain',
    brightness=((0.5, 0.65), (1.35, 1.5)),
    cast=(0.82, 1.18),
    gradient=(0.2, 0.35),
    shift=0.06,
    scale=((0.86, 0.93), (1.06, 1.1)),
    wall_rgb=((170, 180, 200), (95, 95, 100)),
    table_rgb=((58, 62, 72), (226, 226, 232), (92, 108, 114)),
    colour_jitter=8,
    textures=OUT_OF_DOMAIN_TEXTURES,
    block_shade=(0.8, 1.2),
    block_shapes=('rounded', 'circle'),
    distractors=(2, 4),
    noise=(4.0, 8.0),
)


#: The named appearance ranges, in order of increasing visual shift from training.
LOOKS: dict[str, AppearanceSpace] = {space.name: space
                                     for space in (IN_DOMAIN, SHIFTED, OUT_OF_DOMAIN)}


def look(name: str) -> AppearanceSpace:
    """Return the appearance range called ``name``, one of :data:`LOOKS`.

    Raises:
        ConfigError: no range has that name.
    """
    try:
        return LOOKS[name]
    except (KeyError, TypeError):
        raise ConfigError(f'unknown look {name!r}; choose one of {", ".join(LOOKS)}.') from None


def _uniform(rng: np.random.Generator, interval: Interval) -> float:
    return round(float(rng.uniform(*interval)), 4)


def _union(rng: np.random.Generator, intervals: Sequence[Interval]) -> float:
    return _uniform(rng, intervals[int(rng.integers(len(intervals)))])


def _jittered(rng: np.random.Generator, palette: Sequence[RGB], jitter: int) -> RGB:
    base = palette[int(rng.integers(len(palette)))]
    r, g, b = (int(np.clip(c + rng.integers(-jitter, jitter + 1), 0, 255)) for c in base)
    return r, g, b


def _distractor(rng: np.random.Generator) -> Distractor:
    on_wall = bool(rng.random() < 0.5)
    return Distractor(
        shape=str(rng.choice(DISTRACTOR_SHAPES)),
        rgb=DISTRACTOR_RGB[str(rng.choice(sorted(DISTRACTOR_RGB)))],
        x=_uniform(rng, (0.05, 0.95)),
        y=_uniform(rng, (0.3, 0.62) if on_wall else (0.86, 0.95)),
        size=_uniform(rng, (0.06, 0.11)),
    )


def _plain(value: Any) -> Any:
    """Turn tuples into lists recursively, so the result equals its JSON round trip."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
