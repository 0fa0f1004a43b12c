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

"""A trivially learnable planning task in real rosbag2 recordings: the colour says what to do.

Each decision point is preceded by frames of one solid colour; the correct action is the one of
that colour (:data:`ACTIONS`, labels of the shipped tabletop library). A model that looks at the
current frame can learn it in a few dozen steps; one that does not stays at chance.
"""

from __future__ import annotations

from pathlib import Path
import random

import numpy as np
import yaml

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.data.bag_io import IMAGE
from vlm_planner.data.bag_writer import BagWriter
from vlm_planner.sim.recording import image_message

TOPIC = '/camera/image_raw'
GOAL = 'put every block where it belongs'
COLOURS = {'red': (220, 30, 30), 'green': (30, 200, 40), 'blue': (30, 60, 220),
           'yellow': (230, 220, 40)}
ACTIONS = {'red': 'pick up the red block', 'green': 'pick up the green block',
           'blue': 'pick up the blue block', 'yellow': 'put the held block in the bin'}
START_NS = 1_000 * 10 ** 9


def write_colour_data(folder: Path, name: str, points: int, seed: int, *,
                      all_actions: bool = False, size: int = 56, scenes: bool = False) -> Path:
    """Write a bag of ``points`` colour segments and its annotation file; return the file.

    Args:
        folder: where the bag folder and the annotation file go.
        name: their name.
        points: decision points (one colour segment each: two frames one second apart).
        seed: seed of the colours, the candidate order and the pixel noise.
        all_actions: list the whole tabletop library as candidates, not the four colours.
        size: frame side in pixels.
        scenes: give each decision point a scene description (:func:`scene_of` its colour).
    """
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    library = ActionLibrary.from_yaml(default_actions_file()).labels
    colours: list[str] = []
    while len(colours) < points:  # each colour equally often: blind guessing stays at chance
        block = sorted(COLOURS)
        rng.shuffle(block)
        colours += block
    colours = colours[:points]
    decision_points = []
    with BagWriter(folder / name) as bag:
        bag.add_topic(TOPIC, IMAGE)
        for index, colour in enumerate(colours):
            for frame in range(2):
                image = np.empty((size, size, 3), np.uint8)
                image[...] = COLOURS[colour]
                image = np.clip(image + noise.integers(-8, 9, image.shape), 0, 255).astype(
                    np.uint8)
                stamp = START_NS + (2 * index + frame) * 10 ** 9
                bag.write(TOPIC, stamp, image_message(image, stamp))
            labels = list(library) if all_actions else list(ACTIONS.values())
            rng.shuffle(labels)
            decision_points.append({'id': f'{name}-{index}', 'time': 2 * index + 1.5,
                                    'goal': GOAL, 'candidates': labels,
                                    'answer': ACTIONS[colour],
                                    **({'scene': scene_of(colour)} if scenes else {})})
        last = START_NS + 2 * points * 10 ** 9
        bag.write(TOPIC, last, image_message(np.zeros((size, size, 3), np.uint8), last))
    path = folder / f'{name}.yaml'
    path.write_text(yaml.safe_dump({'bag': name, 'topic': TOPIC, 'task': 'colours',
                                    'decision_points': decision_points}, sort_keys=False),
                    encoding='utf-8')
    return path


def scene_of(colour: str) -> str:
    """The scene description of a decision point whose frames are ``colour``."""
    return f'the whole frame is {colour}'
