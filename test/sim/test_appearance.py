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

"""Tests of domain randomisation: appearance ranges and the renderer's optional looks."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from vlm_planner.sim.appearance import (Appearance, DISTRACTOR_RGB, IN_DOMAIN, OUT_OF_DOMAIN,
                                        TEXTURES)
from vlm_planner.sim.render import _GRIPPER, BLOCK_RGB, GripperPose, render
from vlm_planner.sim.world import COLOURS, TabletopWorld


def samples(space, n=40, seed=0) -> list[Appearance]:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def test_sampling_is_deterministic_and_json_ready():
    first, again = samples(IN_DOMAIN, 5), samples(IN_DOMAIN, 5)
    assert first == again
    assert samples(IN_DOMAIN, 5, seed=1) != first
    data = first[0].to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data['space'] == 'in-domain' and len(data['block_shades']) == len(COLOURS)
    assert all(Appearance.from_dict(json.loads(json.dumps(a.to_dict()))) == a
               for a in samples(OUT_OF_DOMAIN, 5))
    with pytest.raises(ValueError, match='not an appearance'):
        Appearance.from_dict({'space': 'x'})


def test_out_of_domain_shares_no_texture_shape_or_light_level_with_training():
    train, ood = samples(IN_DOMAIN, 200), samples(OUT_OF_DOMAIN, 200)
    assert not {a.texture for a in train} & {a.texture for a in ood}
    assert not {a.block_shape for a in train} & {a.block_shape for a in ood}
    assert {a.block_shape for a in train} == {'square'}
    assert not {a.table_rgb for a in train} & {a.table_rgb for a in ood}
    low, high = min(a.brightness for a in train), max(a.brightness for a in train)
    assert all(not low <= a.brightness <= high for a in ood)
    assert {a.texture for a in train} | {a.texture for a in ood} == set(TEXTURES)


def test_distractors_are_never_block_coloured():
    for rgb in DISTRACTOR_RGB.values():
        for block in BLOCK_RGB.values():
            assert np.abs(np.subtract(rgb, block)).max() >= 80, (rgb, block)
    drawn = [d for a in samples(IN_DOMAIN, 60) + samples(OUT_OF_DOMAIN, 60)
             for d in a.distractors]
    assert len(drawn) > 30 and {d.rgb for d in drawn} <= set(DISTRACTOR_RGB.values())


def test_bad_appearance_values_are_refused():
    good = samples(IN_DOMAIN, 1)[0]
    with pytest.raises(ValueError, match='table texture'):
        dataclasses.replace(good, texture='carpet')
    with pytest.raises(ValueError, match='block shape'):
        dataclasses.replace(good, block_shape='star')
    with pytest.raises(ValueError, match='one block shade per colour'):
        dataclasses.replace(good, block_shades=(1.0,))


@pytest.mark.parametrize('space', [IN_DOMAIN, OUT_OF_DOMAIN])
def test_rendering_an_appearance_is_deterministic_and_varies(space):
    world = TabletopWorld.random_initial(4)
    looks = samples(space, 6)
    images = [render(world, 112, 112, appearance=look) for look in looks]
    for look, image in zip(looks, images):
        assert image.shape == (112, 112, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image, render(world.copy(), 112, 112, appearance=look))
    default = render(world, 112, 112)
    assert all(not np.array_equal(image, default) for image in images)
    assert len({image.tobytes() for image in images}) == len(images)


def test_neutral_appearance_keeps_blocks_where_the_default_draws_them():
    world = TabletopWorld.random_initial(7)
    neutral = Appearance(space='test', brightness=1.0, cast=(1.0, 1.0, 1.0), gradient=0.0,
                         shift=(0.0, 0.0), scale=1.0, wall_rgb=(232, 230, 222),
                         table_rgb=(166, 118, 76), texture='plain', pattern_seed=0,
                         block_shades=(1.0, 1.0, 1.0), block_shape='square', distractors=(),
                         noise=0.0)
    np.testing.assert_array_equal(render(world, 160, 120, appearance=neutral),
                                  render(world, 160, 120))


def test_block_shape_and_shade_change_the_blocks():
    world = TabletopWorld.default()
    base = samples(IN_DOMAIN, 1)[0]
    plain = dataclasses.replace(base, brightness=1.0, cast=(1.0, 1.0, 1.0), gradient=0.0,
                                shift=(0.0, 0.0), scale=1.0, noise=0.0, distractors=(),
                                block_shades=(1.0, 1.0, 1.0))
    square = render(world, 160, 120, appearance=plain)
    red = np.all(square == np.array(BLOCK_RGB['red'], np.uint8), axis=2).sum()
    circle = render(world, 160, 120, appearance=dataclasses.replace(plain, block_shape='circle'))
    assert 0 < np.all(circle == np.array(BLOCK_RGB['red'], np.uint8), axis=2).sum() < red
    darker = dataclasses.replace(plain, block_shades=(0.8, 1.0, 1.0))
    assert not np.all(render(world, 160, 120, appearance=darker)
                      == np.array(BLOCK_RGB['red'], np.uint8), axis=2).any()


def gripper_x(image: np.ndarray) -> float:
    ys, xs = np.nonzero(np.all(image[: image.shape[0] // 2] == np.array(_GRIPPER, np.uint8),
                               axis=2))
    return float(xs.mean())


def test_gripper_pose_moves_the_gripper_and_its_block_toward_a_column():
    world = TabletopWorld.from_dict({'blocks': {'red': 'table:0', 'green': 'table:1',
                                                'blue': 'gripper'}, 'slots': 4})
    home = render(world, 160, 120)
    np.testing.assert_array_equal(home, render(world, 160, 120, gripper=GripperPose()))
    np.testing.assert_array_equal(home, render(world, 160, 120, gripper=GripperPose(0, 0.0)))
    half = render(world, 160, 120, gripper=GripperPose(0, 0.5))
    there = render(world, 160, 120, gripper=GripperPose(0, 1.0))
    assert gripper_x(there) < gripper_x(half) < gripper_x(home)
    blue = [np.nonzero(np.all(image == np.array(BLOCK_RGB['blue'], np.uint8), axis=2))
            for image in (home, there)]
    assert blue[1][1].mean() < blue[0][1].mean() and blue[1][0].mean() > blue[0][0].mean()
    with pytest.raises(ValueError, match='progress'):
        GripperPose(0, 1.5)
