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

"""``vlm-planner generate`` end to end: real bags, annotation files, splits and eval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from test.sim.reachable import LIBRARY
from vlm_planner.cli import main
from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.data.bags import bag_info, read_camera
from vlm_planner.data.episodes import load_dataset
from vlm_planner.errors import ConfigError
from vlm_planner.sim.appearance import Appearance, IN_DOMAIN, OUT_OF_DOMAIN
from vlm_planner.sim.episodes import Episode, Step
from vlm_planner.sim.filming import FilmConfig
from vlm_planner.sim.generate import generate, GenerateOptions, layout_position, parse_splits
from vlm_planner.sim.render import render
from vlm_planner.sim.tasks import parse_goal
from vlm_planner.sim.world import TabletopWorld

OPTIONS = GenerateOptions(episodes=6, seed=11, ood_episodes=2,
                          film=FilmConfig(width=64, height=64))
SPLITS = ('train', 'val', 'test', 'ood')


@pytest.fixture(scope='module')
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('generated') / 'data'
    generate(out, OPTIONS, workers=1, progress=False)
    return out


def records(root: Path, split: str) -> list[dict]:
    lines = (root / 'episodes' / f'{split}.jsonl').read_text().splitlines()
    return [json.loads(line) for line in lines]


def episode_of(record: dict) -> Episode:
    data = dict(record['episode'])
    steps = tuple(Step(**{**s, 'candidates': tuple(s['candidates'])}) for s in data['steps'])
    return Episode(**{**data, 'steps': steps, 'head_start': tuple(data['head_start'])})


def annotation_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*.yaml'))}


def test_layout_and_manifest(dataset):
    manifest = json.loads((dataset / 'manifest.json').read_text())
    assert manifest['generator'] == 'vlm-planner generate' and manifest['seed'] == 11
    assert manifest['command'].startswith('vlm-planner generate --out ')
    assert '--episodes 6 --seed 11 --width 64 --height 64' in manifest['command']
    assert set(manifest['appearance']) == {'in-domain', 'out-of-domain'}
    assert (dataset / 'actions.yaml').read_text() == default_actions_file().read_text()
    counts = {name: entry['episodes'] for name, entry in manifest['splits'].items()}
    assert counts == {'train': 4, 'val': 1, 'test': 1, 'ood': 2}
    for split, entry in manifest['splits'].items():
        lines = records(dataset, split)
        assert len(lines) == entry['episodes'] == len(list((dataset / split).glob('*.yaml')))
        assert len(list((dataset / f'{split}-all-actions').glob('*.yaml'))) == len(lines)
        assert entry['decision_points'] == sum(len(r['episode']['steps']) for r in lines)
        assert sum(entry['families'].values()) == len(lines)
        assert entry['seeds'] == [r['seed'] for r in lines]
        for record in lines:
            info = bag_info(dataset / record['bag'])
            assert info.camera_topic(None) == '/image'


def test_every_answer_is_the_experts_next_action_detours_included(dataset):
    for split in SPLITS:
        for record in records(dataset, split):
            episode = episode_of(record)
            annotation = yaml.safe_load((dataset / record['annotation']).read_text())
            task = parse_goal(annotation['decision_points'][0]['goal'])
            world = TabletopWorld.from_dict(episode.initial)
            assert len(annotation['decision_points']) == len(episode.steps)
            for point, step in zip(annotation['decision_points'], episode.steps):
                assert step.world() == world
                assert point['answer'] == step.answer == task.expert_plan(world)[0]
                assert point['answer'] in point['candidates'] and len(point['candidates']) == 4
                negatives = [c for c in point['candidates'] if c != point['answer']]
                assert len(set(negatives)) == 3 and set(negatives) <= set(LIBRARY.labels)
                if step.applied:
                    assert world.apply(LIBRARY.get(step.executed)).applied
            assert task.is_satisfied(world), record['id']
            assert annotation['task'] == record['family']


def test_all_actions_files_list_the_library(dataset):
    for path in (dataset / 'test-all-actions').glob('*.yaml'):
        data = yaml.safe_load(path.read_text())
        short = yaml.safe_load((dataset / 'test' / path.name).read_text())
        for point, other in zip(data['decision_points'], short['decision_points']):
            assert point['candidates'] == LIBRARY.labels
            assert (point['id'], point['time'], point['answer']) == \
                (other['id'], other['time'], other['answer'])


def test_replayed_items_end_with_the_state_of_their_decision(dataset):
    for split in ('train', 'ood'):
        for record in records(dataset, split):
            episode = episode_of(record)
            look = Appearance.from_dict(record['appearance'])
            items = list(load_dataset(dataset / record['annotation']).items(KeyframeConfig()))
            assert len(items) == len(episode.steps)
            assert [i.answer for i in items] == [i.candidates.index(
                next(c for c in i.candidates if c.label == s.answer)) for i, s in
                zip(items, episode.steps)]
            for item, step in zip(items, episode.steps):
                assert item.scene == step.world().describe()  # what the current frame shows
                assert max(f.stamp for f in item.frames) <= item.decision_time
                np.testing.assert_array_equal(item.frames[-1].image,
                                              render(step.world(), 64, 64, appearance=look))


def test_splits_have_disjoint_seeds_and_layouts(dataset):
    ranges = OPTIONS.layout_ranges()
    seeds, layouts = {}, {}
    for split in SPLITS:
        lines = records(dataset, split)
        seeds[split] = {r['seed'] for r in lines}
        layouts[split] = {json.dumps(r['episode']['initial'], sort_keys=True) for r in lines}
        low, high = ranges[split]
        for record in lines:
            assert low <= layout_position(TabletopWorld.from_dict(
                record['episode']['initial'])) < high
    assert ranges['ood'] == ranges['test']
    for a, b in (('train', 'val'), ('train', 'test'), ('val', 'test'), ('train', 'ood'),
                 ('val', 'ood')):
        assert not seeds[a] & seeds[b] and not layouts[a] & layouts[b], (a, b)
    assert not seeds['test'] & seeds['ood']


def test_out_of_domain_split_looks_different(dataset):
    for split in SPLITS:
        for record in records(dataset, split):
            look = Appearance.from_dict(record['appearance'])
            space = OUT_OF_DOMAIN if split == 'ood' else IN_DOMAIN
            assert look.space == space.name
            assert look.texture in space.textures and look.block_shape in space.block_shapes


def read_bags(root: Path) -> dict[str, list]:
    return {str(p.relative_to(root)): [(f.stamp, f.image.tobytes()) for f in read_camera(p)]
            for p in sorted((root / 'bags').glob('*/*'))}


def test_same_seed_same_data_whatever_the_workers(dataset, tmp_path):
    again = tmp_path / 'again'
    generate(again, OPTIONS, workers=2, progress=False)
    assert annotation_files(again) == annotation_files(dataset)
    for split in SPLITS:
        assert (again / 'episodes' / f'{split}.jsonl').read_bytes() == \
            (dataset / 'episodes' / f'{split}.jsonl').read_bytes()
    assert read_bags(again) == read_bags(dataset)
    other = tmp_path / 'other'
    generate(other, GenerateOptions(episodes=6, seed=12, ood_episodes=2,
                                    film=FilmConfig(width=64, height=64)),
             workers=1, progress=False)
    assert annotation_files(other) != annotation_files(dataset)


@pytest.mark.slow
def test_generated_split_round_trips_through_eval(dataset, tmp_path, tiny_model_cache, capsys):
    data = sorted(str(p) for p in (dataset / 'train').glob('*.yaml'))[:2]
    out = tmp_path / 'eval'
    assert main(['eval', '--data', *data, '--model', 'tiny', '--out', str(out), '--limit', '5',
                 '--quiet']) == 0
    results = [json.loads(line) for line in (out / 'results.jsonl').read_text().splitlines()]
    expected = sum(min(5, len(yaml.safe_load(Path(p).read_text())['decision_points']))
                   for p in data)
    assert len(results) == expected
    assert {r['task'] for r in results} <= {r['family'] for r in records(dataset, 'train')}
    assert all(len(r['candidates']) == 4 and r['predicted'] in range(4) for r in results)
    assert (out / 'report.md').exists()


def test_cli_writes_mcap_and_refuses_to_overwrite_without_asking(tmp_path, capsys):
    out = tmp_path / 'cli'
    args = ['generate', '--out', str(out), '--episodes', '3', '--width', '64', '--height', '64',
            '--workers', '1', '--quiet', '--storage', 'mcap', '--ood-episodes', '0',
            '--families', 'bin-single,tower', '--detour-rate', '0']
    assert main(args) == 0
    assert 'test: 1 episode' in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        'actions.yaml', 'bags', 'episodes', 'manifest.json', 'test', 'test-all-actions', 'train',
        'train-all-actions', 'val', 'val-all-actions']
    assert list(out.glob('bags/*/*/*.mcap'))
    families = {r['family'] for s in ('train', 'val', 'test') for r in records(out, s)}
    assert families <= {'bin-single', 'tower'}
    before = annotation_files(out)
    assert main(args) == 2
    assert 'is not empty' in capsys.readouterr().err and annotation_files(out) == before
    assert main(args + ['--overwrite']) == 0
    assert annotation_files(out) == before
    assert not list(tmp_path.glob('.cli.partial-*'))


@pytest.mark.parametrize('extra, message', [
    (['--episodes', '0'], '--episodes must be a whole number of at least 3'),
    (['--episodes', '4', '--splits', 'train:0.9'], 'add up to 0.9, not 1'),
    (['--episodes', '4', '--splits', 'train=0.9,test=0.1'], "cannot read split 'train=0.9'"),
    (['--episodes', '4', '--splits', 'train:0.5,ood:0.5'], 'reserved'),
    (['--episodes', '4', '--families', 'juggle'], 'unknown goal family juggle'),
    (['--episodes', '4', '--workers', '0'], '--workers must be'),
    (['--episodes', '4', '--width', '8'], 'use at least 64x48'),
    (['--episodes', '4', '--seed', '-1'], '--seed must be'),
    (['--episodes', '4', '--ood-episodes', '-2'], '--ood-episodes must be'),
    (['--episodes', '4', '--detour-rate', '2'], 'detour_rate must be within 0..1'),
])
def test_cli_errors(tmp_path, capsys, extra, message):
    out = tmp_path / 'bad'
    assert main(['generate', '--out', str(out), '--quiet', *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith('vlm-planner generate: error: ') and message in err, err
    assert not out.exists()


def test_a_library_without_the_experts_actions_is_refused(tmp_path, capsys):
    library = tmp_path / 'small.yaml'
    library.write_text(yaml.safe_dump({'name': 'small', 'actions': [
        {'label': 'pick up the red block', 'verb': 'pick', 'noun': 'red block'},
        {'label': 'wave', 'verb': 'wave', 'noun': 'hand'}]}))
    assert main(['generate', '--out', str(tmp_path / 'x'), '--episodes', '3', '--quiet',
                 '--actions', str(library)]) == 2
    assert "lacks the expert's actions pick up the green block" in capsys.readouterr().err


def test_overwrite_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'thesis.tex').write_text('precious')
    assert main(['generate', '--out', str(out), '--episodes', '3', '--quiet',
                 '--overwrite']) == 2
    assert 'refuses to delete' in capsys.readouterr().err
    assert (out / 'thesis.tex').read_text() == 'precious'
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ConfigError, match='is a file'):
        generate(tmp_path / 'file', GenerateOptions(episodes=3), progress=False)


def test_split_sizes_and_specs():
    assert GenerateOptions(episodes=10).sizes() == {'train': 8, 'val': 1, 'test': 1, 'ood': 1}
    assert GenerateOptions(episodes=200).sizes() == {'train': 160, 'val': 20, 'test': 20,
                                                     'ood': 20}
    assert GenerateOptions(episodes=3, ood_episodes=0).sizes() == {'train': 1, 'val': 1,
                                                                   'test': 1}
    custom = GenerateOptions(episodes=7, splits=parse_splits('a:0.5,b:0.5'), ood_episodes=None)
    assert custom.sizes() == {'a': 4, 'b': 3, 'ood': 3}  # ood: as many as the last split
    assert custom.layout_ranges() == {'a': (0.0, 0.5), 'b': (0.5, 1.0), 'ood': (0.5, 1.0)}
    with pytest.raises(ConfigError, match='given twice'):
        parse_splits('a:0.5,a:0.5')
    with pytest.raises(ConfigError, match='cannot read split'):
        parse_splits('a:-0.5,b:1.5')
