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

"""``vlm-planner generate --look`` / ``--ood-look``: named appearance ranges of the splits."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
import shlex

import numpy as np
import pytest

from test.sim.test_generate import annotation_files, records
from vlm_planner.cli import build_parser, main
from vlm_planner.data.bags import read_camera
from vlm_planner.errors import ConfigError
from vlm_planner.sim import generate as generate_module
from vlm_planner.sim.appearance import (Appearance, IN_DOMAIN, look, LOOKS, OUT_OF_DOMAIN,
                                        SHIFTED)
from vlm_planner.sim.filming import FilmConfig
from vlm_planner.sim.generate import command_line, generate, GenerateOptions, parse_splits

# The smallest frames FilmConfig allows; three episodes, no ood split.
SMALL = FilmConfig(width=64, height=48)
BASE = GenerateOptions(episodes=3, seed=5, ood_episodes=0, film=SMALL)
CLI = ['generate', '--episodes', '3', '--seed', '5', '--width', '64', '--height', '48',
       '--ood-episodes', '0', '--workers', '1', '--quiet']
SPLITS = ('train', 'val', 'test')


@pytest.fixture(scope='module')
def pair(tmp_path_factory) -> tuple[Path, Path]:
    """The same three episodes with in-domain looks (API) and shifted looks (CLI)."""
    root = tmp_path_factory.mktemp('looks')
    generate(root / 'in-domain', BASE, workers=1, progress=False)
    assert main(CLI + ['--out', str(root / 'shifted'), '--look', 'shifted']) == 0
    return root / 'in-domain', root / 'shifted'


def manifest_of(root: Path) -> dict:
    return json.loads((root / 'manifest.json').read_text())


def test_looks_are_named_in_order_of_increasing_shift():
    assert list(LOOKS) == ['in-domain', 'shifted', 'out-of-domain']
    assert list(LOOKS.values()) == [IN_DOMAIN, SHIFTED, OUT_OF_DOMAIN]
    assert all(look(name) is space and space.name == name for name, space in LOOKS.items())


def test_shifted_changes_light_and_camera_only():
    same = ('wall_rgb', 'table_rgb', 'colour_jitter', 'textures', 'block_shade', 'block_shapes')
    assert all(getattr(SHIFTED, f) == getattr(IN_DOMAIN, f) for f in same)
    assert SHIFTED.block_shapes == ('square',)


def test_shifted_brightness_lies_halfway_between_in_domain_and_out_of_domain():
    (in_low, in_high), = IN_DOMAIN.brightness
    dark, bright = sorted(SHIFTED.brightness)
    ood_dark, ood_bright = sorted(OUT_OF_DOMAIN.brightness)
    # Darker than any in-domain light, but not as dark as the darkest out-of-domain one; and
    # the same on the bright side.
    assert ood_dark[0] < dark[0] < dark[1] < in_low
    assert in_high < bright[0] < bright[1] < ood_bright[1]
    # Each interval's middle is halfway between in-domain's edge and out-of-domain's middle.
    for shifted, edge, ood in ((dark, in_low, ood_dark), (bright, in_high, ood_bright)):
        assert sum(shifted) / 2 == pytest.approx((edge + sum(ood) / 2) / 2, abs=0.01)
    # The other light and camera ranges lie between the two as well.
    assert OUT_OF_DOMAIN.cast[0] < SHIFTED.cast[0] < IN_DOMAIN.cast[0]
    assert IN_DOMAIN.cast[1] < SHIFTED.cast[1] < OUT_OF_DOMAIN.cast[1]
    assert IN_DOMAIN.gradient[1] < SHIFTED.gradient[1] < OUT_OF_DOMAIN.gradient[1]
    assert IN_DOMAIN.shift < SHIFTED.shift < OUT_OF_DOMAIN.shift
    assert IN_DOMAIN.noise[1] < SHIFTED.noise[1] < OUT_OF_DOMAIN.noise[1]
    rng = np.random.default_rng(0)
    drawn = [SHIFTED.sample(rng) for _ in range(100)]
    assert all(not in_low <= a.brightness <= in_high for a in drawn)
    assert {a.space for a in drawn} == {'shifted'} and {a.block_shape for a in drawn} == {'square'}


def test_an_unknown_look_is_refused(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown look 'indoor'; choose one of in-domain, "
                                          'shifted, out-of-domain'):
        look('indoor')
    for flag in ('--look', '--ood-look'):
        with pytest.raises(SystemExit) as exit_info:
            main(CLI + ['--out', str(tmp_path / 'x'), flag, 'indoor'])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert f'argument {flag}: invalid choice' in err and "'shifted'" in err, err
    assert not (tmp_path / 'x').exists()


def test_the_manifest_records_the_looks(pair):
    in_domain, shifted = (manifest_of(root) for root in pair)
    assert (in_domain['options']['look'], in_domain['options']['ood_look']) == \
        ('in-domain', 'out-of-domain')
    assert (shifted['options']['look'], shifted['options']['ood_look']) == \
        ('shifted', 'out-of-domain')
    assert set(shifted['appearance']) == {'shifted', 'out-of-domain'}
    assert shifted['appearance']['shifted'] == SHIFTED.to_dict()
    assert all(shifted['splits'][s]['appearance'] == 'shifted' for s in SPLITS)
    assert all(in_domain['splits'][s]['appearance'] == 'in-domain' for s in SPLITS)
    assert '--look' not in in_domain['command']
    assert shlex.split(shifted['command'])[-2:] == ['--look', 'shifted']
    # Everything but the look is the same, so only the look tells the two data sets apart.
    differ = {k for k in in_domain['options'] if in_domain['options'][k] != shifted['options'][k]}
    assert differ == {'look'}
    assert dataclasses.replace(BASE, in_domain=SHIFTED) != BASE


def test_a_look_changes_the_pixels_but_not_the_goals_or_labels(pair):
    in_domain, shifted = pair
    assert annotation_files(shifted) == annotation_files(in_domain)
    for split in SPLITS:
        before, after = records(in_domain, split), records(shifted, split)
        assert [r['seed'] for r in after] == [r['seed'] for r in before]
        assert [(r['goal'], r['episode']) for r in after] == \
            [(r['goal'], r['episode']) for r in before]
        for old, new in zip(before, after):
            assert old['appearance']['space'] == 'in-domain'
            assert new['appearance']['space'] == 'shifted'
            look_ = Appearance.from_dict(new['appearance'])
            assert look_.texture in IN_DOMAIN.textures and look_.block_shape == 'square'
            assert look_.brightness != Appearance.from_dict(old['appearance']).brightness
            first = next(read_camera(shifted / new['bag'])).image
            assert first.shape == (48, 64, 3)
            assert not np.array_equal(first, next(read_camera(in_domain / old['bag'])).image)


def rebuilt(command: str, monkeypatch) -> GenerateOptions:
    """Run ``command`` through the CLI and return the options it would generate with."""
    seen = []

    def fake_generate(out, options, **kwargs):
        seen.append(options)
        return {'splits': {}}

    monkeypatch.setattr(generate_module, 'generate', fake_generate)
    words = shlex.split(command)
    assert words[:2] == ['vlm-planner', 'generate']
    args = build_parser().parse_args(words[1:])
    assert args.func(args) == 0
    return seen[0]


@pytest.mark.parametrize('in_domain, out_of_domain', [
    (IN_DOMAIN, OUT_OF_DOMAIN), (SHIFTED, OUT_OF_DOMAIN), (IN_DOMAIN, SHIFTED),
    (OUT_OF_DOMAIN, IN_DOMAIN), (SHIFTED, SHIFTED)])
def test_the_command_line_round_trips(tmp_path, monkeypatch, capsys, in_domain, out_of_domain):
    options = GenerateOptions(episodes=7, seed=3, splits=parse_splits('a:0.5,b:0.5'),
                              ood_episodes=2, film=SMALL, families=('tower', 'table'),
                              in_domain=in_domain, out_of_domain=out_of_domain)
    command = command_line(tmp_path / 'out', options)
    assert command and rebuilt(command, monkeypatch) == options
    words = shlex.split(command)
    assert ('--look' in words) == (in_domain is not IN_DOMAIN)
    assert ('--ood-look' in words) == (out_of_domain is not OUT_OF_DOMAIN)


def test_a_range_that_is_not_a_look_has_no_command_line(tmp_path):
    renamed = dataclasses.replace(SHIFTED, name='dim')
    altered = dataclasses.replace(SHIFTED, noise=(0.0, 1.0))  # still called 'shifted'
    for options, names in ((GenerateOptions(episodes=3, in_domain=renamed),
                            ('dim', 'out-of-domain')),
                           (GenerateOptions(episodes=3, out_of_domain=altered),
                            ('in-domain', 'shifted'))):
        assert command_line(tmp_path, options) == ''
        assert (options.to_dict()['look'], options.to_dict()['ood_look']) == names
