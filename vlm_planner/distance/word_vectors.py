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

"""Text embeddings from fastText word vectors: the mean vector of a text's words.

A text is lower-cased and split on everything that is not a letter; its embedding is the mean of
the vectors of its words that the vectors know (out-of-vocabulary words are left out). Two file
kinds are read:

* ``.vec``, fastText's text format (as ``wiki-news-300d-1M-subword.vec``): a header line
  ``COUNT DIM``, then one word per line followed by its ``DIM`` values. The file is streamed once
  and only the words the texts need are kept; a word is looked up in lower case, and where the
  file lacks the lower-case form, its first (most frequent) form in another case is used.
* ``.bin``, a fastText model, read with the ``fasttext`` package when it is installed; it gives
  every word a vector (from subwords), so no word is out of vocabulary.
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any, Iterable, Sequence

import numpy as np

from vlm_planner.distance.embedders import Embedder
from vlm_planner.errors import ConfigError

_WORD = re.compile(r'[^\W\d_]+')

#: How to get word vectors, for messages.
HINT = ('give a fastText word-vector file: FILE.vec (text format, e.g. '
        'wiki-news-300d-1M-subword.vec from fasttext.cc) or FILE.bin (needs the fasttext package)')


def words(text: str) -> list[str]:
    """The words of ``text``: lower-cased runs of letters."""
    return _WORD.findall(text.lower())


def read_vec(path: str | Path, wanted: Iterable[str]) -> tuple[dict[str, np.ndarray], int]:
    """Read the vectors of the ``wanted`` words from a fastText ``.vec`` file.

    Args:
        path: the ``.vec`` file.
        wanted: lower-case words.

    Returns:
        The vectors of the wanted words the file holds (see the module docstring for the case
        rule), and the file's vector size.

    Raises:
        ConfigError: the file is missing, has no ``COUNT DIM`` header, or a needed line has the
            wrong number of values.
    """
    path = Path(path)
    wanted = set(wanted)
    exact: dict[str, np.ndarray] = {}
    other_case: dict[str, np.ndarray] = {}
    try:
        with open(path, encoding='utf-8', errors='replace') as lines:
            size = _header(path, lines.readline())
            if not wanted:
                return {}, size
            for number, line in enumerate(lines, start=2):
                word, _, values = line.rstrip('\n').partition(' ')
                key = word.lower()
                if key not in wanted or key in exact or (word != key and key in other_case):
                    continue
                vector = _vector(path, number, word, values, size)
                if word == key:
                    exact[key] = vector
                    if len(exact) == len(wanted):
                        break
                else:
                    other_case[key] = vector
    except FileNotFoundError:
        raise ConfigError(f'fastText word-vector file {path} does not exist; {HINT}.') from None
    except (IsADirectoryError, PermissionError) as exc:
        raise ConfigError(f'cannot read fastText word-vector file {path} ({exc.strerror}); '
                          f'{HINT}.') from None
    return {**other_case, **exact}, size


def _header(path: Path, line: str) -> int:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[1]) < 1:
        raise ConfigError(f'{path} is not a fastText .vec file: its first line must be '
                          f'"COUNT DIM" (such as "999994 300"), got {line.strip()[:80]!r}; '
                          f'{HINT}.')
    return int(parts[1])


def _vector(path: Path, number: int, word: str, values: str, size: int) -> np.ndarray:
    try:
        vector = np.array(values.split(), dtype=np.float64)
    except ValueError:
        vector = np.empty(0)
    if vector.shape != (size,):
        raise ConfigError(f'{path}, line {number}: word {word!r} must be followed by {size} '
                          f'numbers (the header\'s DIM), got {values.strip()[:80]!r}.')
    return vector


class WordVectorEmbedder(Embedder):
    """Mean fastText word vector of each text (``fasttext:FILE.vec`` or ``fasttext:FILE.bin``).

    Args:
        path: the ``.vec`` or ``.bin`` file.
        spec: the embedder specification, for messages and reports.

    Raises:
        ConfigError: the file is missing or of another kind, or a ``.bin`` file is given
            without the ``fasttext`` package.
    """

    def __init__(self, path: str | Path, spec: str = '') -> None:
        self.path = Path(path).expanduser()
        self.spec = spec or f'fasttext:{path}'
        self.where = f'--text-embedder {self.spec}'
        if not self.path.is_file():
            raise ConfigError(f'{self.where}: fastText word-vector file {self.path} does not '
                              f'exist; {HINT}.')
        self._vectors: dict[str, np.ndarray] = {}
        self._looked_up: set[str] = set()
        self._model: Any = None
        if self.path.suffix == '.bin':
            self._model = _load_bin(self.path, self.where)
        elif self.path.suffix != '.vec':
            raise ConfigError(f'{self.where}: {self.path} ends neither in .vec nor in .bin; '
                              f'{HINT}.')

    def prepare(self, texts: Sequence[str]) -> None:
        """Read the vectors of all words of ``texts`` in one pass over a ``.vec`` file."""
        if self._model is not None:
            return
        needed = {w for text in texts for w in words(text)} - self._looked_up
        if needed:
            vectors, _ = read_vec(self.path, needed)
            self._vectors.update(vectors)
            self._looked_up |= needed

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row per text: the mean vector of its known words.

        Raises:
            ConfigError: a text has no word, or none the vectors know.
        """
        self.prepare(texts)
        return np.stack([self._embed_one(text) for text in texts])

    def _embed_one(self, text: str) -> np.ndarray:
        tokens = words(text)
        if not tokens:
            raise ConfigError(f'{self.where}: the text {text!r} holds no word (letters) to '
                              'embed.')
        if self._model is not None:
            return np.mean([np.asarray(self._model.get_word_vector(w), dtype=np.float64)
                            for w in tokens], axis=0)
        known = [self._vectors[w] for w in tokens if w in self._vectors]
        if not known:
            raise ConfigError(f'{self.where}: no word of the text {text!r} is in {self.path}; '
                              'use word vectors of its language (or a .bin model, which covers '
                              'every word through subwords).')
        return np.mean(known, axis=0)


def _load_bin(path: Path, spec: str) -> Any:
    try:
        import fasttext  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            f'{spec}: {path} is a fastText .bin model, which needs the fasttext Python package; '
            'install it (pip install fasttext) or use the .vec text format of the same vectors '
            '(fasttext.cc publishes both; or convert: load the .bin with fasttext and write '
            '"COUNT DIM" then one "word v1 ... vDIM" line per word).') from None
    try:
        return fasttext.load_model(str(path))
    except Exception as exc:  # noqa: BLE001 - fasttext raises ValueError, RuntimeError, ...
        raise ConfigError(f'{spec}: cannot load fastText model {path}: {exc}; {HINT}.') from None
