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

"""Measuring every pair of data sets, and the report: table, distance.json and heat maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.data.episodes import load_dataset
from vlm_planner.distance.embedders import Embedder
from vlm_planner.distance.measure import Estimate, measure, Options, Result, SetInfo
from vlm_planner.distance.report import table, to_json, unique_names, write_outputs
from vlm_planner.errors import ConfigError

PNG = b'\x89PNG\r\n\x1a\n'


class MeanColour(Embedder):
    """A frame's mean colour: cheap, and different for in-domain and out-of-domain looks."""

    spec = 'mean-colour'

    def embed(self, inputs):
        return np.array([image.reshape(-1, 3).mean(axis=0) for image in inputs])


class LetterCounts(Embedder):
    """How often each letter occurs in a text; counts the texts prepared."""

    spec = 'letters'

    def __init__(self):
        self.prepared = []

    def prepare(self, inputs):
        self.prepared.append(list(inputs))

    def embed(self, inputs):
        return np.array([[text.count(c) for c in 'abcdefghijklmnopqrstuvwxyz'] for text in inputs],
                        dtype=float)


def run(paths, **options):
    datasets = [load_dataset(p, name=name) for p, name in
                zip(paths, unique_names([str(p.name) for p in paths], paths))]
    text = LetterCounts()
    result = measure(datasets, [str(p) for p in paths], MeanColour(), text,
                     Options(**options), KeyframeConfig(), progress=False)
    return result, text


def test_a_data_set_against_itself_is_zero_and_against_other_looks_is_not(episodes):
    result, text = run([episodes / 'test', episodes / 'test', episodes / 'ood'], samples=6,
                       bootstrap=10, batch=4)

    assert [d.name for d in result.datasets] == ['test', 'test#2', 'ood']
    assert [d.sampled for d in result.datasets] == [6, 6, 6]
    assert result.dims == {'visual': 3, 'text': 26}
    assert result.pairs['visual'][0, 1].w1 == 0.0 == result.pairs['text'][0, 1].w1
    assert result.pairs['visual'][0, 2].w1 > 1.0  # mean colours differ by several grey levels
    assert result.pairs['visual'][0, 2].w1 == result.pairs['visual'][1, 2].w1
    estimate = result.pairs['visual'][0, 2]
    assert estimate.low is not None and estimate.high is not None
    assert 0 < estimate.low <= estimate.high
    assert len(text.prepared) == 1 and len(text.prepared[0]) == 18  # all goals at once
    matrix = result.matrix('visual')
    assert matrix[2][0] == matrix[0][2] == estimate.w1 and matrix[1][1] == 0.0


def test_without_bootstrap_there_is_no_interval(episodes):
    result, _ = run([episodes / 'test', episodes / 'ood'], samples=3, bootstrap=0)
    assert result.pairs['text'][0, 1].low is None is result.pairs['text'][0, 1].high
    assert 'no bootstrap' in table(result)
    assert to_json(result)['pairs'][0]['visual']['low'] is None


@pytest.mark.parametrize('field, value, message', [
    ('samples', 0, '--samples must be a whole number of at least 1, got 0'),
    ('bootstrap', -1, '--bootstrap must be a whole number of at least 0'),
    ('seed', -2, '--seed must be'),
    ('samples', 2.5, '--samples must be'),
])
def test_options_are_checked(field, value, message):
    with pytest.raises(ConfigError, match=message):
        Options(**{field: value})


def test_fewer_than_two_data_sets_are_refused(episodes):
    with pytest.raises(ConfigError, match='give two or more data sets to compare, got 1'):
        measure([load_dataset(episodes / 'test')], ['test'], MeanColour(), LetterCounts(),
                Options(), KeyframeConfig(), progress=False)


def test_names_are_made_unique_and_readable():
    assert unique_names(['.', '.'], ['/data/test', '/data/test']) == ['test', 'test#2']
    assert unique_names(['a/x', 'b/x', 'a/x'], ['1', '2', '3']) == ['a/x', 'b/x', 'a/x#2']


def result_of(count, bootstrap=100):
    infos = tuple(SetInfo(f'set{i}', f'/data/set{i}', 10 + i, 5) for i in range(count))
    pairs = {m: {(i, j): Estimate(float(i + j) * scale, 0.5 * (i + j) * scale,
                                  2.0 * (i + j) * scale)
                 for i in range(count) for j in range(i + 1, count)}
             for m, scale in (('visual', 1.0), ('text', 0.1))}
    return Result(datasets=infos, embedders={'visual': 'vision:tiny', 'text': 'tokens:tiny'},
                  dims={'visual': 64, 'text': 32}, pairs=pairs,
                  options=Options(samples=5, bootstrap=bootstrap, seed=7))


def test_two_data_sets_give_a_row_per_modality_and_the_json_without_heat_maps(tmp_path):
    result = result_of(2)
    lines = table(result).splitlines()
    assert lines[0].startswith('Wasserstein-1 distance between set0 (5 of 10 items), set1 (5 of '
                               '11 items); seed 7, 95% bootstrap intervals of 100 rounds')
    assert lines[2].split() == ['modality', 'embedder', 'dim', 'W1', '95%', 'interval']
    assert lines[3].split() == ['visual', 'vision:tiny', '64', '1', '[0.5,', '2]']
    assert lines[4].split() == ['text', 'tokens:tiny', '32', '0.1', '[0.05,', '0.2]']

    written = write_outputs(result, tmp_path / 'out')
    assert written == [tmp_path / 'out' / 'distance.json']
    data = json.loads(written[0].read_text())
    assert data['mode'] == 'pair'
    assert data['datasets'][1] == {'name': 'set1', 'path': '/data/set1', 'items': 11,
                                   'sampled': 5}
    assert data['embedders'] == {'visual': {'spec': 'vision:tiny', 'dim': 64},
                                 'text': {'spec': 'tokens:tiny', 'dim': 32}}
    settings = (data['samples'], data['bootstrap'], data['seed'], data['confidence'])
    assert settings == (5, 100, 7, 0.95)
    assert data['pairs'] == [{'a': 'set0', 'b': 'set1',
                              'visual': {'w1': 1.0, 'low': 0.5, 'high': 2.0},
                              'text': {'w1': 0.1, 'low': 0.05, 'high': 0.2}}]
    assert data['matrices']['visual'] == [[0.0, 1.0], [1.0, 0.0]]
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['distance.json']


def test_three_data_sets_give_matrices_and_a_heat_map_per_modality(tmp_path):
    result = result_of(3)
    text = table(result)
    assert 'visual W1 (vision:tiny, 64 dims):' in text
    assert 'set0 - set2  visual [1, 4]' in text
    rows = text.splitlines()
    start = rows.index('visual W1 (vision:tiny, 64 dims):')
    assert rows[start + 1].split() == ['set0', 'set1', 'set2']
    assert rows[start + 2].split() == ['set0', '0', '1', '2']
    assert rows[start + 4].split() == ['set2', '2', '3', '0']

    written = write_outputs(result, tmp_path)
    assert [p.name for p in written] == ['distance.json', 'distance_visual.png',
                                         'distance_text.png']
    assert all(p.read_bytes().startswith(PNG) for p in written[1:])
    data = json.loads(written[0].read_text())
    assert data['mode'] == 'matrix' and len(data['pairs']) == 3
    assert data['matrices']['text'][2] == pytest.approx([0.2, 0.3, 0.0])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')]  # no temporary files


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    write_outputs(result_of(2), tmp_path)
    before = (tmp_path / 'distance.json').read_text()

    def broken(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(json, 'dumps', broken)
    with pytest.raises(OSError, match='disk full'):
        write_outputs(result_of(2, bootstrap=3), tmp_path)
    assert (tmp_path / 'distance.json').read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ['distance.json']
