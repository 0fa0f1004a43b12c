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

"""Film an episode: the camera frames of its steps, with the time of each decision.

Frames come at a fixed rate. Each step shows its state at rest (``settle`` frames, the gripper at
home), then the motion of the executed action (``motion`` frames: the gripper travelling to the
slot, pile or bin the action goes to and lowering there); the next step's rest frames show the
result. A failed action moves the gripper the same way and leaves the world unchanged. After the
last step, the final state is shown at rest. The decision of a step is taken at its last rest
frame, so the model sees the state the decision is about and nothing after it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vlm_planner.core.actions import ActionLibrary
from vlm_planner.errors import ConfigError
from vlm_planner.sim.appearance import Appearance
from vlm_planner.sim.episodes import Episode
from vlm_planner.sim.render import GripperPose, MIN_HEIGHT, MIN_WIDTH, render
from vlm_planner.sim.world import BIN, block_colour, TABLE, TabletopWorld


@dataclasses.dataclass(frozen=True)
class FilmConfig:
    """Frame size and timing of filmed episodes.

    Attributes:
        width: image width in pixels.
        height: image height in pixels.
        fps: frames per second.
        settle: frames of each state at rest (at least one), the last one at its decision.
        motion: frames of each action's motion.
    """

    width: int = 112
    height: int = 112
    fps: float = 5.0
    settle: int = 1
    motion: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.width, bool) or not isinstance(self.width, int) or \
                isinstance(self.height, bool) or not isinstance(self.height, int) or \
                self.width < MIN_WIDTH or self.height < MIN_HEIGHT:
            raise ConfigError(f'cannot film {self.width}x{self.height} frames; use at least '
                              f'{MIN_WIDTH}x{MIN_HEIGHT} pixels.')
        if not 0.5 <= self.fps <= 60:
            raise ConfigError(f'fps must be within 0.5..60 frames per second, got {self.fps!r}.')
        if self.settle < 1:
            raise ConfigError(f'settle must be at least 1 frame (a frame of each state before '
                              f'its decision), got {self.settle!r}.')
        if self.motion < 0:
            raise ConfigError(f'motion must be 0 or more frames, got {self.motion!r}.')


@dataclasses.dataclass(frozen=True)
class Film:
    """A filmed episode.

    Attributes:
        frames: RGB images, one every ``1 / fps`` seconds from time 0.
        decisions: for each step, the index of the frame its decision is taken at.
        fps: frames per second.
    """

    frames: list[np.ndarray]
    decisions: list[int]
    fps: float

    def time(self, frame: int) -> float:
        """Return the time of frame number ``frame``, seconds from the first."""
        return frame / self.fps


def action_column(world: TabletopWorld, label: str, library: ActionLibrary) -> int | None:
    """Return the column an action reaches to: a table slot, ``n_slots`` for the bin, or None."""
    action = library.get(label)
    colour = block_colour(action.noun)
    if colour is not None:
        return world.slot_of(colour)
    noun = action.noun.strip().lower()
    if noun.endswith(BIN):
        return world.n_slots
    if noun.endswith(TABLE):
        free = world.free_slots()
        return free[0] if free else None
    return None


def film(episode: Episode, appearance: Appearance | None, library: ActionLibrary,
         config: FilmConfig = FilmConfig()) -> Film:
    """Render every frame of ``episode`` with ``appearance`` (see the module docstring)."""
    def shot(world: TabletopWorld, pose: GripperPose | None = None) -> np.ndarray:
        return render(world, config.width, config.height, appearance=appearance, gripper=pose)

    frames: list[np.ndarray] = []
    decisions: list[int] = []
    for step in episode.steps:
        world = step.world()
        rest = shot(world)
        frames.extend(rest for _ in range(config.settle))
        decisions.append(len(frames) - 1)
        column = action_column(world, step.executed, library)
        for i in range(1, config.motion + 1):
            frames.append(shot(world, GripperPose(column, i / config.motion)))
    final = shot(TabletopWorld.from_dict(episode.final))
    frames.extend(final for _ in range(config.settle))
    return Film(frames=frames, decisions=decisions, fps=config.fps)
