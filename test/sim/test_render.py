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

"""Tests of the tabletop renderer."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from test.sim.reachable import LIBRARY, reachable_states
from vlm_planner.sim.render import BLOCK_RGB, render
from vlm_planner.sim.world import TabletopWorld


def colour_mask(image: np.ndarray, colour: str) -> np.ndarray:
    return np.all(image == np.array(BLOCK_RGB[colour], np.uint8), axis=2)


def centre(image: np.ndarray, colour: str) -> tuple[float, float]:
    ys, xs = np.nonzero(colour_mask(image, colour))
    assert len(xs), f'no {colour} pixels'
    return float(xs.mean()), float(ys.mean())


def test_shape_dtype_and_determinism():
    world = TabletopWorld.random_initial(2)
    image = render(world)
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, render(world.copy()))
    assert render(world, 160, 120).shape == (120, 160, 3)
    assert render(world, 640, 480).shape == (480, 640, 3)


def test_every_block_is_visible_in_its_colour():
    image = render(TabletopWorld.default())
    xs = [centre(image, c)[0] for c in ('red', 'green', 'blue')]
    assert xs == sorted(xs), 'slots 0, 1, 2 run from left to right'


def test_stacked_block_is_drawn_on_top():
    world = TabletopWorld.from_dict({'blocks': {'red': 'table:0', 'green': 'on:red',
                                                'blue': 'table:2'}})
    image = render(world)
    red_x, red_y = centre(image, 'red')
    green_x, green_y = centre(image, 'green')
    assert abs(red_x - green_x) < 1.0
    assert green_y < red_y


def test_held_block_is_drawn_high_up_in_the_gripper():
    world = TabletopWorld.default()
    world.apply(LIBRARY.get('pick up the red block'))
    image = render(world)
    _, red_y = centre(image, 'red')
    _, green_y = centre(image, 'green')
    assert red_y < 240 * 0.35 < green_y


def test_blocks_in_the_bin_are_drawn_smaller_in_the_bin():
    world = TabletopWorld.default()
    before = colour_mask(render(world), 'blue').sum()
    world.apply(LIBRARY.get('pick up the blue block'))
    world.apply(LIBRARY.get('put the held block in the bin'))
    image = render(world)
    assert 0 < colour_mask(image, 'blue').sum() < before
    assert centre(image, 'blue')[0] > 320 * 0.8, 'the bin is at the right end of the table'


def test_different_states_give_different_images():
    seen = reachable_states([TabletopWorld.default(), TabletopWorld.random_initial(8)])
    assert len(seen) > 100
    digests = {hashlib.sha1(render(world).tobytes()).hexdigest() for world in seen}
    assert len(digests) == len(seen)


def test_step_text_is_drawn():
    world = TabletopWorld.default()
    plain = render(world)
    captioned = render(world, step_text='step 3')
    assert not np.array_equal(plain, captioned)
    np.testing.assert_array_equal(captioned, render(world, step_text='step 3'))
    assert not np.array_equal(captioned, render(world, step_text='step 4'))


@pytest.mark.parametrize('width, height', [(10, 240), (320, 20), (320.0, 240)])
def test_too_small_or_bad_size_is_rejected(width, height):
    with pytest.raises(ValueError, match='render'):
        render(TabletopWorld.default(), width, height)
