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

"""Data sets of evaluation items: annotated rosbag2 recordings and EgoPlan-Bench item files.

:class:`BagDataset` replays a recording through the live node's own
:class:`~vlm_planner.core.session.DecisionSession`, on a clock that follows the recording: one
pass over the camera topic in recording order, every frame offered to the session, the next
decision point's goal set on it right after the previous decision (a new goal starts a new task
from the newest frame, exactly as a goal message does live), and at each decision point the
session's snapshot taken before any frame stamped later than the decision time is added. So the
model sees exactly what the robot would have seen, and never a frame from after the decision.

:func:`load_dataset` opens either kind of file, telling them apart by content.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
from pathlib import Path
from typing import Collection, Iterator

from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.session import DecisionSession, ReplayClock
from vlm_planner.data.annotations import DecisionPoint, load_annotation, read_data_file
from vlm_planner.data.bags import bag_info, read_camera, stamp_range
from vlm_planner.data.egoplan import EgoPlanDataset
from vlm_planner.data.items import Dataset, EvalItem
from vlm_planner.errors import AnnotationError, BagError

__all__ = ['BagDataset', 'EgoPlanDataset', 'FolderDataset', 'load_dataset']

#: Endings of the data-set files a folder's parts are read from.
DATA_SUFFIXES = ('.yaml', '.yml', '.json')


class BagDataset(Dataset):
    """The decision points of an annotation file, replayed from its bag (see module docstring).

    Args:
        annotation_path: the annotation file (format in :mod:`vlm_planner.data.annotations`).
        name: the data set's name; default: the annotation file's name without suffix.

    Raises:
        AnnotationError: the annotation file is missing or invalid.
    """

    def __init__(self, annotation_path: str | Path, name: str | None = None) -> None:
        self.annotation = load_annotation(annotation_path)
        self.name = name or self.annotation.path.stem

    def __len__(self) -> int:
        return len(self.annotation.decision_points)

    def item_ids(self) -> list[str]:
        """Ids of all items, in annotation-file order."""
        return [point.item_id for point in self.annotation.decision_points]

    def items(self, keyframes: KeyframeConfig) -> Iterator[EvalItem]:
        """Yield one item per decision point, in time order (file order for equal times).

        The bag is checked before the first item: its camera topic, and that every decision
        point lies within the recording.

        Raises:
            BagError: the bag or its camera topic cannot be read (naming the annotation file).
            AnnotationError: a decision point lies outside the recording.
        """
        annotation = self.annotation
        try:
            topic = bag_info(annotation.bag).camera_topic(annotation.topic)
            first, last = stamp_range(annotation.bag, topic)
        except BagError as exc:
            raise BagError(f'{annotation.path}: {exc}') from exc
        times = annotation.decision_times(first, last)
        schedule = sorted(zip(times, annotation.decision_points), key=lambda p: (p[0], p[1].index))
        return self._replay(topic, schedule, keyframes)

    def _replay(self, topic: str, schedule: list[tuple[float, DecisionPoint]],
                keyframes: KeyframeConfig) -> Iterator[EvalItem]:
        clock = ReplayClock()
        session = DecisionSession(None, clock=clock, keyframes=keyframes)
        pending = collections.deque(schedule)
        if pending:
            session.set_goal(pending[0][1].goal)
        for frame in read_camera(self.annotation.bag, topic):
            while pending and frame.stamp > pending[0][0]:
                yield self._ask(*pending.popleft(), session, clock, pending)
            clock.advance_to(frame.stamp)
            session.add_frame(frame.image, frame.stamp)
        while pending:
            yield self._ask(*pending.popleft(), session, clock, pending)

    def _ask(self, time: float, point: DecisionPoint, session: DecisionSession,
             clock: ReplayClock, pending: collections.deque) -> EvalItem:
        """Return the item for ``point``; a different next goal then starts a new task."""
        clock.advance_to(time)
        item = EvalItem(dataset=self.name, item_id=point.item_id, task=point.task,
                        goal=point.goal, candidates=point.candidates, answer=point.answer,
                        frames=tuple(session.snapshot()), decision_time=time,
                        scene=point.scene)
        if pending:
            # The next task's goal arrives right after this task's last decision, as a goal
            # message would: its keyframes start at the current frame.
            session.set_goal(pending[0][1].goal)
        return item


class FolderDataset(Dataset):
    """Every data-set file of a folder, in name order, as one data set (e.g. a generated split).

    Item ids are ``<file stem>/<item id>``, so points of different files never collide.

    Args:
        folder: the folder; its ``.yaml``, ``.yml`` and ``.json`` files are the parts.
        name: the data set's name; default: the folder's name.
        **options: passed to :func:`load_dataset` for each part.

    Raises:
        AnnotationError: the folder holds no data-set file, or a part is invalid.
    """

    def __init__(self, folder: str | Path, name: str | None = None, **options) -> None:
        self.folder = Path(folder)
        self.name = name or self.folder.name
        if (self.folder / 'metadata.yaml').is_file():
            raise AnnotationError(f'{self.folder} is a rosbag2 recording, not a data set; give '
                                  'the annotation file that marks its decision points (see '
                                  'docs/datasets.md).')
        files = sorted(p for p in self.folder.iterdir() if p.suffix in DATA_SUFFIXES)
        if not files:
            raise AnnotationError(f'{self.folder} holds no data-set file (ending in '
                                  f'{", ".join(DATA_SUFFIXES)}); give annotation files, '
                                  'EgoPlan-Bench files or a folder of them.')
        self.parts = [(p.stem, load_dataset(p, name=self.name, **options)) for p in files]

    def __len__(self) -> int:
        return sum(len(part) for _, part in self.parts)

    def item_ids(self) -> list[str]:
        """Ids of all items, ``<file stem>/<item id>``."""
        return [f'{stem}/{item_id}' for stem, part in self.parts for item_id in part.item_ids()]

    def subset(self, ids: Collection[str]) -> 'FolderDataset':
        """This data set with each part cut down to the items ``ids`` (parts without any left out).

        Ids are ``<file stem>/<item id>``, as :meth:`item_ids` gives them.
        """
        chosen = copy.copy(self)
        chosen.parts = []
        for stem, part in self.parts:
            inner = {i[len(stem) + 1:] for i in ids if i.startswith(f'{stem}/')}
            if inner:
                chosen.parts.append((stem, part.subset(inner)))
        return chosen

    def items(self, keyframes: KeyframeConfig) -> Iterator[EvalItem]:
        """Yield each part's items in turn (each part replayed through its own session)."""
        for stem, part in self.parts:
            for item in part.items(keyframes):
                yield dataclasses.replace(item, item_id=f'{stem}/{item.item_id}')


def load_dataset(path: str | Path, **options) -> Dataset:
    """Open a data-set file with the registered format that recognises its content.

    The formats (:mod:`vlm_planner.data.formats`) are annotation files (a mapping with
    ``decision_points``, :class:`BagDataset`) and EgoPlan-Bench item files (a JSON list of items
    with ``task_goal``, :class:`EgoPlanDataset`), and any registered since.

    Args:
        path: the file, or a folder of such files (:class:`FolderDataset`).
        **options: passed on to the format's data set (``name`` for all; ``video_root``,
            required, one folder or several, ``fps``, ``sample_fps`` and ``sampling`` for
            EgoPlan-Bench); options that are None are left out, and options that do not apply
            to the file's kind but are shared by a mixed command line (``video_root``) are
            dropped.

    Raises:
        AnnotationError: no format recognises the file, an option does not apply to its kind or
            a required one is missing, or the file is invalid.
    """
    from vlm_planner.data.formats import DATASET_FORMATS

    path = Path(path)
    options = {k: v for k, v in options.items() if v is not None}
    if path.is_dir():
        return FolderDataset(path, **options)
    data = read_data_file(path)
    formats = [DATASET_FORMATS.get(name) for name in DATASET_FORMATS.names()]
    chosen = next((f for f in formats if f.recognises(data)), None)
    if chosen is None:
        kinds = '; '.join(f'{f.description} ({f.hint})' for f in formats)
        raise AnnotationError(f'{path} is of no known data-set kind. Known kinds: {kinds}. See '
                              'docs/datasets.md.')
    for name in set(chosen.ignored) - set(chosen.options):
        options.pop(name, None)
    missing = [name for name in chosen.required if name not in options]
    if missing:
        raise AnnotationError(f'{path} is {chosen.description}; give {", ".join(missing)} (for '
                              'EgoPlan-Bench: --video-root, the folders holding its videos or '
                              'frame folders).')
    unknown = sorted(set(options) - set(chosen.options))
    if unknown:
        raise AnnotationError(f'{path} is {chosen.description}; option(s) {", ".join(unknown)} '
                              f'do not apply (accepted: {", ".join(chosen.options)}); leave '
                              'them out, or evaluate this file in a run of its own.')
    return chosen.open(path, **options)
