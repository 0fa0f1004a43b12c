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

"""Evaluation items kept on disk, read back one at a time in any order.

Replaying recordings is slow and a data set's frames may not fit in memory, so a fine-tuning run
replays its data once into an :class:`ItemStore`: ``items.jsonl`` (one line per item: ids, goal,
candidates, answer, frame stamps, scene) and ``frames/<n>.npz`` (the item's frames). The store is
written into a sibling folder and renamed into place when complete, so a killed run never leaves
a half-written store behind; a resumed run reads the finished one instead of replaying again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
import shutil
from typing import Any, Iterable

import numpy as np
from tqdm import tqdm

from vlm_planner.core.actions import Action
from vlm_planner.core.frames import Frame
from vlm_planner.data.items import EvalItem

INDEX = 'items.jsonl'
FRAMES = 'frames'


class ItemStore:
    """The items of one fine-tuning split on disk (see module docstring).

    Args:
        folder: the store's folder (it exists once the store is complete).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._records: list[dict[str, Any]] | None = None

    @property
    def complete(self) -> bool:
        """Whether the store was written completely."""
        return (self.folder / INDEX).is_file()

    def write(self, items: Iterable[EvalItem], *, progress: bool = True,
              description: str = 'items') -> int:
        """Write ``items`` into the store, replacing an unfinished one; return their count."""
        staging = self.folder.with_name(self.folder.name + '.partial')
        shutil.rmtree(staging, ignore_errors=True)
        (staging / FRAMES).mkdir(parents=True)
        lines = []
        for number, item in enumerate(tqdm(items, desc=description, unit='item',
                                           disable=not progress)):
            name = f'{FRAMES}/{number:07d}.npz'
            np.savez_compressed(staging / name, *[frame.image for frame in item.frames])
            lines.append(json.dumps({
                'dataset': item.dataset, 'item_id': item.item_id, 'task': item.task,
                'goal': item.goal, 'candidates': [dataclasses.asdict(a) for a in item.candidates],
                'answer': item.answer, 'decision_time': item.decision_time,
                'stamps': [frame.stamp for frame in item.frames], 'frames': name,
                'scene': item.scene}))
        (staging / INDEX).write_text(''.join(line + '\n' for line in lines), encoding='utf-8')
        shutil.rmtree(self.folder, ignore_errors=True)
        staging.rename(self.folder)
        self._records = None
        return len(lines)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every item's line (no frames), in store order."""
        if self._records is None:
            text = (self.folder / INDEX).read_text(encoding='utf-8')
            self._records = [json.loads(line) for line in text.splitlines() if line]
        return self._records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> EvalItem:
        record = self.records[index]
        with np.load(self.folder / record['frames']) as arrays:
            images = [arrays[f'arr_{i}'] for i in range(len(record['stamps']))]
        return EvalItem(
            dataset=record['dataset'], item_id=record['item_id'], task=record['task'],
            goal=record['goal'], candidates=tuple(Action(**a) for a in record['candidates']),
            answer=record['answer'], decision_time=record['decision_time'],
            scene=record.get('scene', ''),
            frames=tuple(Frame(image, stamp) for image, stamp in zip(images, record['stamps'])))

    def counts(self) -> dict[str, int]:
        """Items per data set, in order of first appearance."""
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record['dataset']] = counts.get(record['dataset'], 0) + 1
        return counts
