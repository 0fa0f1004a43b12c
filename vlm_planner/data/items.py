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

"""Evaluation items: one decision point with its ground truth, ready for the planner.

Every data source (rosbag2 recordings with an annotation file, EgoPlan-Bench JSON with videos)
turns into :class:`EvalItem` objects, and the evaluator only ever sees those. ``frames`` hold what
the live node's keyframe buffer would hold at the decision point: keyframes in time order ending
with the current frame, and never a frame recorded after the decision time.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Collection, Iterator

from vlm_planner.core.actions import Action
from vlm_planner.core.frames import Frame
from vlm_planner.core.keyframes import KeyframeConfig


@dataclasses.dataclass(frozen=True)
class EvalItem:
    """One multiple-choice planning question with its correct answer."""

    dataset: str  # name of the data set it belongs to
    item_id: str  # unique within the data set, stable across runs (used to resume)
    task: str  # task or episode name, for per-task accuracy
    goal: str
    candidates: tuple[Action, ...]  # labels with optional verb / noun
    answer: int  # index of the correct candidate
    frames: tuple[Frame, ...]  # keyframes ending with the current frame
    decision_time: float  # stamp of the decision point (>= every frame's stamp)
    domain: str = ''  # EgoPlan-Bench2's domain ('Daily life', 'Hobbies', ...); '' without one
    benchmark: str = ''  # the published benchmark it comes from ('EgoPlan-Bench'); '' for own data
    scene: str = ''  # what the current frame shows, in words (annotation 'scene'); '' without one

    def __post_init__(self) -> None:
        if not 0 <= self.answer < len(self.candidates):
            raise ValueError(f'{self.dataset}/{self.item_id}: answer index {self.answer} is '
                             f'outside the {len(self.candidates)} candidates')
        if not self.frames:
            raise ValueError(f'{self.dataset}/{self.item_id}: no frame before the decision')


class Dataset(abc.ABC):
    """A named source of evaluation items."""

    name: str

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of items (known without loading any frame)."""

    @abc.abstractmethod
    def item_ids(self) -> list[str]:
        """Ids of all items (known without loading any frame), in no particular order."""

    @abc.abstractmethod
    def items(self, keyframes: KeyframeConfig) -> Iterator[EvalItem]:
        """Yield the items in a stable order, frames chosen by a buffer set up as ``keyframes``."""

    def subset(self, ids: Collection[str]) -> 'Dataset':
        """This data set cut down to the items ``ids`` where that saves reading, else itself.

        A recording is replayed whole whatever is kept (an item's keyframes depend on what came
        before it), so only data sets whose items load one by one override this.
        """
        return self
