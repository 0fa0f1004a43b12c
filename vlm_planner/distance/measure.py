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

"""Embed samples of data sets and measure the W1 distance of every pair, visual and text.

For each data set a seeded sample of items is drawn (:mod:`.sampling`): one random frame and the
goal of each. The frames are embedded while the data set is read, in batches; the goals of all
data sets are embedded at the end (so a word-vector file is read once). Then, per modality,
every pair of data sets gets its W1 and a bootstrap interval (:mod:`.wasserstein`).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Sequence

import numpy as np

from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.data.items import Dataset
from vlm_planner.distance import sampling
from vlm_planner.distance.embedders import Embedder
from vlm_planner.distance.wasserstein import bootstrap_w1, w1
from vlm_planner.errors import ConfigError

#: The modalities, in report order.
MODALITIES = ('visual', 'text')


@dataclasses.dataclass(frozen=True)
class Options:
    """How much to sample and resample.

    Attributes:
        samples: items drawn from each data set (all of them when it has fewer).
        bootstrap: bootstrap rounds of each interval; 0 for no interval.
        seed: seed of the item, frame and bootstrap draws.
        batch: frames per call of the visual embedder.
    """

    samples: int = 200
    bootstrap: int = 200
    seed: int = 0
    batch: int = 16

    def __post_init__(self) -> None:
        for name, least in (('samples', 1), ('bootstrap', 0), ('seed', 0), ('batch', 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f'--{name} must be a whole number of at least {least}, got '
                                  f'{value!r}.')


@dataclasses.dataclass(frozen=True)
class Estimate:
    """W1 of a pair of data sets and its bootstrap interval (None without a bootstrap)."""

    w1: float
    low: float | None = None
    high: float | None = None


@dataclasses.dataclass(frozen=True)
class SetInfo:
    """A measured data set: its name, where it came from, its size and the sample's size."""

    name: str
    path: str
    items: int
    sampled: int


@dataclasses.dataclass(frozen=True)
class Result:
    """The distances between data sets.

    Attributes:
        datasets: the data sets, in the order given.
        embedders: the embedder specification of each modality.
        dims: the embedding size of each modality.
        pairs: per modality, the estimate of each pair ``(i, j)`` of data-set indices, ``i < j``.
        options: the sampling options used.
    """

    datasets: tuple[SetInfo, ...]
    embedders: dict[str, str]
    dims: dict[str, int]
    pairs: dict[str, dict[tuple[int, int], Estimate]]
    options: Options

    def matrix(self, modality: str) -> list[list[float]]:
        """The symmetric matrix of W1 values of ``modality`` (0 on the diagonal)."""
        size = len(self.datasets)
        values = [[0.0] * size for _ in range(size)]
        for (i, j), estimate in self.pairs[modality].items():
            values[i][j] = values[j][i] = estimate.w1
        return values


def measure(datasets: Sequence[Dataset], paths: Sequence[str], visual: Embedder,
            text: Embedder, options: Options, keyframes: KeyframeConfig,
            progress: bool = True) -> Result:
    """Sample, embed and compare ``datasets`` (see the module docstring).

    Args:
        datasets: two or more data sets.
        paths: where each data set came from, for the report.
        visual: the frames' embedder.
        text: the goals' embedder.
        options: sample sizes and seed.
        keyframes: how each item's frames are chosen.
        progress: show progress bars.

    Raises:
        ConfigError: fewer than two data sets, or an embedder fails on an input.
        AnnotationError: a data set is empty or cannot be read.
        BagError: a recording cannot be read.
    """
    from tqdm import tqdm

    if len(datasets) < 2 or len(paths) != len(datasets):
        raise ConfigError(f'give two or more data sets to compare, got {len(datasets)}.')
    infos: list[SetInfo] = []
    frames: list[np.ndarray] = []
    goals: list[list[str]] = []
    for dataset, path in zip(datasets, paths):
        ids = sampling.choose_ids(dataset, options.samples, options.seed)
        infos.append(SetInfo(dataset.name, str(path), len(dataset), len(ids)))
        with tqdm(total=len(ids), desc=f'embed frames of {dataset.name}', unit='item',
                  disable=not progress, leave=False) as bar:
            rows, texts = _embed_frames(dataset, ids, visual, options, keyframes, bar.update)
        frames.append(rows)
        goals.append(texts)
    embeddings = {'visual': frames, 'text': _embed_texts(goals, text, options.batch, progress)}
    pairs = list(itertools.combinations(range(len(datasets)), 2))
    estimates: dict[str, dict[tuple[int, int], Estimate]] = {m: {} for m in MODALITIES}
    with tqdm(total=len(pairs) * len(MODALITIES), desc='W1', unit='pair',
              disable=not progress, leave=False) as bar:
        for m, modality in enumerate(MODALITIES):
            for i, j in pairs:
                x, y = embeddings[modality][i], embeddings[modality][j]
                estimates[modality][i, j] = _estimate(x, y, options, [options.seed, m, i, j])
                bar.update()
    return Result(datasets=tuple(infos),
                  embedders={'visual': visual.spec, 'text': text.spec},
                  dims={m: int(embeddings[m][0].shape[1]) for m in MODALITIES},
                  pairs=estimates, options=options)


def _embed_frames(dataset: Dataset, ids: list[str], embedder: Embedder, options: Options,
                  keyframes: KeyframeConfig,
                  advance: Callable[[int], object]) -> tuple[np.ndarray, list[str]]:
    """The sampled frames' embeddings and the sampled goals of ``dataset``."""
    rows: list[np.ndarray] = []
    goals: list[str] = []
    batch: list[np.ndarray] = []
    for pick in sampling.picks(dataset, ids, options.seed, keyframes):
        batch.append(pick.frame)
        goals.append(pick.goal)
        if len(batch) == options.batch:
            rows.append(_checked(embedder, batch))
            advance(len(batch))
            batch = []
    if batch:
        rows.append(_checked(embedder, batch))
        advance(len(batch))
    return np.concatenate(rows), goals


def _embed_texts(goals: list[list[str]], embedder: Embedder, batch: int,
                 progress: bool) -> list[np.ndarray]:
    """The embeddings of each data set's goals."""
    from tqdm import tqdm

    embedder.prepare([goal for texts in goals for goal in texts])
    result = []
    with tqdm(total=sum(map(len, goals)), desc='embed goals', unit='item', disable=not progress,
              leave=False) as bar:
        for texts in goals:
            rows = []
            for start in range(0, len(texts), batch):
                rows.append(_checked(embedder, texts[start:start + batch]))
                bar.update(len(rows[-1]))
            result.append(np.concatenate(rows))
    return result


def _checked(embedder: Embedder, inputs: Sequence) -> np.ndarray:
    """``embedder``'s embeddings of ``inputs``, checked to be one finite row per input."""
    rows = np.asarray(embedder.embed(inputs), dtype=np.float64)
    if rows.ndim != 2 or len(rows) != len(inputs) or not np.isfinite(rows).all():
        raise ConfigError(f'embedder {embedder.spec} returned {rows.shape} values for '
                          f'{len(inputs)} inputs, or values that are not finite.')
    return rows


def _estimate(x: np.ndarray, y: np.ndarray, options: Options, seed: list[int]) -> Estimate:
    if not options.bootstrap:
        return Estimate(w1(x, y))
    value, low, high = bootstrap_w1(x, y, options.bootstrap, seed)
    return Estimate(value, low, high)
