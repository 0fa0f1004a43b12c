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

"""``vlm-planner distance`` end to end, on generated episodes."""

from __future__ import annotations

import json

import pytest

from vlm_planner.cli import main

JSON_KEYS = {'mode', 'datasets', 'embedders', 'samples', 'bootstrap', 'confidence', 'seed',
             'pairs', 'matrices'}


def distance(*args):
    return main(['distance', *map(str, args), '--quiet'])


def test_two_data_sets_with_the_default_embedders(episodes, tmp_path, tiny_model_cache, capsys):
    out = tmp_path / 'out'
    assert distance(episodes / 'test', episodes / 'ood', '--samples', 8, '--bootstrap', 20,
                    '--out', out) == 0
    printed = capsys.readouterr().out
    assert 'visual    vision:tiny' in printed and 'text      tokens:tiny' in printed
    assert f'wrote {out / "distance.json"}' in printed
    data = json.loads((out / 'distance.json').read_text())
    assert set(data) == JSON_KEYS and data['mode'] == 'pair'
    assert [d['name'] for d in data['datasets']] == ['test', 'ood']
    assert [d['sampled'] for d in data['datasets']] == [8, 8]
    visual = data['pairs'][0]['visual']
    assert visual['w1'] > 0 and 0 < visual['low'] <= visual['high']
    assert data['pairs'][0]['text']['w1'] > 0
    assert data['embedders']['visual'] == {'spec': 'vision:tiny', 'dim': 64}
    assert sorted(p.name for p in out.iterdir()) == ['distance.json']

    assert distance(episodes / 'test', episodes / 'test', '--samples', 8, '--bootstrap', 5,
                    '--out', out) == 0
    same = json.loads((out / 'distance.json').read_text())['pairs'][0]
    assert same['visual']['w1'] == pytest.approx(0.0, abs=1e-9)
    assert same['text']['w1'] == pytest.approx(0.0, abs=1e-9)


def test_three_data_sets_write_matrices_and_two_heat_maps(episodes, tmp_path, tiny_clip,
                                                          word_vectors, capsys):
    out = tmp_path / 'matrix'
    assert distance(episodes / 'test', episodes / 'ood', episodes / 'test-all-actions',
                    '--embedder', f'clip:{tiny_clip}', '--text-embedder',
                    f'fasttext:{word_vectors}', '--samples', 5, '--bootstrap', 5, '--seed', 3,
                    '-p', 'keyframes.max_count:=2', '--out', out) == 0
    printed = capsys.readouterr().out
    assert f'visual W1 (clip:{tiny_clip}, 8 dims):' in printed
    assert sorted(p.name for p in out.iterdir()) == ['distance.json', 'distance_text.png',
                                                     'distance_visual.png']
    data = json.loads((out / 'distance.json').read_text())
    assert data['mode'] == 'matrix' and data['seed'] == 3
    assert [len(row) for row in data['matrices']['visual']] == [3, 3, 3]
    assert len(data['pairs']) == 3
    assert data['embedders']['text'] == {'spec': f'fasttext:{word_vectors}', 'dim': 8}
    by_pair = {(p['a'], p['b']): p for p in data['pairs']}
    # The same episodes with other candidates: the same frames and goals.
    assert by_pair['test', 'test-all-actions']['visual']['w1'] == pytest.approx(0.0, abs=1e-6)
    assert by_pair['test', 'ood']['visual']['w1'] > 0


@pytest.mark.parametrize('options, named', [
    (['--embedder', 'clip:{tmp}/no_clip'], '{tmp}/no_clip'),
    (['--embedder', 'vision:{tmp}/no_model'], '{tmp}/no_model'),
    (['--embedder', 'clip:{clip}', '--text-embedder', 'fasttext:{tmp}/wiki.vec'],
     '{tmp}/wiki.vec'),
    (['--embedder', 'clip:{clip}', '--text-embedder', 'clip-text:{tmp}/no_clip'],
     '{tmp}/no_clip'),
])
def test_a_missing_embedder_path_exits_2_naming_it(episodes, tmp_path, tiny_clip, capsys,
                                                   options, named):
    paths = {'tmp': tmp_path, 'clip': tiny_clip}
    code = distance(episodes / 'test', episodes / 'ood', *(o.format(**paths) for o in options))
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith('vlm-planner distance: error: ')
    assert f'{named.format(**paths)} does not exist' in error


@pytest.mark.parametrize('args, message', [
    (['{test}'], 'give two or more data sets to compare, got 1'),
    (['{test}', '{ood}', '--samples', '0'], '--samples must be a whole number of at least 1'),
    (['{test}', '{ood}', '-p', 'keyframes.nope:=1'], 'keyframes.nope'),
    (['{test}', '{ood}', '--embedder', 'resnet:x'], "unknown embedder 'resnet'"),
])
def test_bad_arguments_exit_2_with_a_message(episodes, capsys, args, message):
    paths = {'test': episodes / 'test', 'ood': episodes / 'ood'}
    assert main(['distance', *(a.format(**paths) for a in args)]) == 2
    assert message in capsys.readouterr().err
