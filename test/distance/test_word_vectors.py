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

"""fastText word vectors: the streaming .vec reader and the mean-word-vector text embedder."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from test.distance.conftest import write_vec
from vlm_planner.distance.word_vectors import read_vec, WordVectorEmbedder, words
from vlm_planner.errors import ConfigError

VECTORS = {'stack': [1.0, 0.0, 0.0], 'red': [0.0, 2.0, 0.0], 'block': [0.0, 0.0, 4.0],
           'Paris': [3.0, 3.0, 3.0], 'Bin': [9.0, 9.0, 9.0], 'bin': [1.0, 1.0, 1.0]}


@pytest.fixture
def vec(tmp_path):
    return write_vec(tmp_path / 'words.vec', VECTORS)


def test_words_are_lower_case_runs_of_letters():
    expected = ['stack', 'the', 'red', 'block', 's', 'top', 'left', 'x']
    assert words("Stack the RED block's top-left, 2x!") == expected


def test_a_text_embedding_is_the_mean_of_its_known_words_and_unknown_ones_are_skipped(vec):
    embedder = WordVectorEmbedder(vec)
    rows = embedder.embed(['Stack the RED block!', 'red'])

    assert rows.shape == (2, 3)
    np.testing.assert_allclose(rows[0], np.mean([[1, 0, 0], [0, 2, 0], [0, 0, 4]], axis=0))
    np.testing.assert_allclose(rows[1], [0.0, 2.0, 0.0])


def test_the_lower_case_form_wins_and_other_cases_fill_in(vec):
    vectors, size = read_vec(vec, {'bin', 'paris', 'red', 'absent'})
    assert size == 3
    assert set(vectors) == {'bin', 'paris', 'red'}
    np.testing.assert_allclose(vectors['bin'], [1.0, 1.0, 1.0])  # 'Bin' comes first
    np.testing.assert_allclose(vectors['paris'], [3.0, 3.0, 3.0])


def test_reading_stops_once_every_wanted_word_is_found(tmp_path):
    path = write_vec(tmp_path / 'w.vec', {'red': [1.0, 2.0], 'blue': [3.0, 4.0]})
    with open(path, 'a', encoding='utf-8') as file:
        file.write('broken line\n')
    assert set(read_vec(path, {'red'})[0]) == {'red'}
    with pytest.raises(ConfigError, match=r"line 4: word 'broken' must be followed by 2 numbers"):
        read_vec(path, {'broken'})


def test_a_text_without_any_known_word_is_an_error_naming_it(vec):
    with pytest.raises(ConfigError, match=r"no word of the text 'the green table' is in .*words"
                                          r'\.vec'):
        WordVectorEmbedder(vec).embed(['red block', 'the green table'])
    with pytest.raises(ConfigError, match=r"the text '42 !' holds no word"):
        WordVectorEmbedder(vec).embed(['42 !'])


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    missing = tmp_path / 'nowhere' / 'wiki.vec'
    with pytest.raises(ConfigError, match=f'{missing} does not exist; give a fastText'):
        WordVectorEmbedder(missing)
    with pytest.raises(ConfigError, match=f'{missing} does not exist'):
        read_vec(missing, {'red'})


@pytest.mark.parametrize('content, message', [
    ('red 1 2 3\n', r'first line must be "COUNT DIM"'),
    ('2 3\nred 1 2\n', r"line 2: word 'red' must be followed by 3 numbers"),
    ('1 2\nred 1 x\n', r"line 2: word 'red' must be followed by 2 numbers"),
])
def test_a_malformed_vec_file_is_an_error_naming_the_problem(tmp_path, content, message):
    path = tmp_path / 'bad.vec'
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        WordVectorEmbedder(path).embed(['red'])


def test_only_vec_and_bin_files_are_taken(tmp_path):
    path = tmp_path / 'vectors.txt'
    path.write_text('1 1\nred 1\n')
    with pytest.raises(ConfigError, match=r'ends neither in \.vec nor in \.bin'):
        WordVectorEmbedder(path)


def test_a_bin_model_without_the_fasttext_package_says_how_to_go_on(tmp_path, monkeypatch):
    path = tmp_path / 'cc.en.300.bin'
    path.write_bytes(b'\0')
    monkeypatch.setitem(sys.modules, 'fasttext', None)  # import fasttext raises ImportError
    with pytest.raises(ConfigError, match=r'needs the fasttext Python package; install it .* or '
                                          r'use the \.vec text format'):
        WordVectorEmbedder(path, 'fasttext:cc.en.300.bin')


def test_a_bin_model_gives_every_word_a_vector_with_the_fasttext_package(tmp_path, monkeypatch):
    path = tmp_path / 'model.bin'
    path.write_bytes(b'\0')
    loaded = []

    class Model:
        def get_word_vector(self, word):
            return np.array([len(word), 1.0], dtype=np.float32)

    def load_model(name):
        loaded.append(name)
        return Model()

    monkeypatch.setitem(sys.modules, 'fasttext', types.SimpleNamespace(load_model=load_model))
    rows = WordVectorEmbedder(path).embed(['unseenword ab'])
    assert loaded == [str(path)]
    np.testing.assert_allclose(rows, [[6.0, 1.0]])
