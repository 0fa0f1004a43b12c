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

"""A bounded, seeded random sample of a data set's items: one random frame and the goal of each.

The items are chosen by id before any frame is loaded (:meth:`Dataset.item_ids`), then the data
set is read once and only the chosen items are kept; reading stops after the last of them.
EgoPlan-Bench data sets (also inside a folder) are first cut down to the chosen items
(:meth:`Dataset.subset`), so only their videos are decoded; recordings are replayed up to the
last chosen decision point, as the keyframes of an item depend on what came before it.

The choice depends only on the seed and the data set's ids, so a data set given twice yields
the same sample (and W1 0 against itself).
"""

from __future__ import annotations

import dataclasses
from typing import Collection, Iterator, Sequence

import numpy as np

from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.data.items import Dataset
from vlm_planner.errors import AnnotationError


@dataclasses.dataclass(frozen=True)
class Pick:
    """One sampled item: its id, one of its frames (H x W x 3 uint8 RGB) and its goal."""

    item_id: str
    frame: np.ndarray
    goal: str


def choose_ids(dataset: Dataset, count: int, seed: int) -> list[str]:
    """Ids of ``count`` items of ``dataset`` drawn without replacement (all when fewer).

    Raises:
        AnnotationError: the data set holds no item.
    """
    ids = list(dict.fromkeys(dataset.item_ids()))
    if not ids:
        raise AnnotationError(f'data set {dataset.name} holds no item; give a data set with '
                              'decision points.')
    if count >= len(ids):
        return ids
    rng = np.random.default_rng(_seeds(seed)[0])
    return [ids[i] for i in np.sort(rng.choice(len(ids), size=count, replace=False))]


def picks(dataset: Dataset, ids: Collection[str], seed: int,
          keyframes: KeyframeConfig) -> Iterator[Pick]:
    """Yield a :class:`Pick` of each item in ``ids``, in the data set's order.

    Each item's frame is drawn at random (seeded) among its keyframes, which end with the
    current frame.

    Raises:
        AnnotationError: the data set did not yield every chosen item, or cannot be read.
        BagError: a recording cannot be read.
    """
    remaining = set(ids)
    rng = np.random.default_rng(_seeds(seed)[1])
    if remaining:
        for item in dataset.subset(remaining).items(keyframes):
            if item.item_id not in remaining:
                continue
            remaining.discard(item.item_id)
            frame = item.frames[int(rng.integers(len(item.frames)))].image
            yield Pick(item_id=item.item_id, frame=frame, goal=item.goal)
            if not remaining:
                return
    if remaining:
        missing = ', '.join(sorted(remaining)[:3])
        raise AnnotationError(f'data set {dataset.name} lists items it never yields ({missing}'
                              f'{", ..." if len(remaining) > 3 else ""}); check its files.')


def _seeds(seed: int) -> Sequence[np.random.SeedSequence]:
    """Independent streams of ``seed``: the item choice and the frame choice."""
    return np.random.SeedSequence(seed).spawn(2)
