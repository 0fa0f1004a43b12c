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

"""EgoPlan-Bench items as evaluation items: the public JSON format, frames from videos or folders.

An EgoPlan-Bench file (EgoPlan-Bench and EgoPlan-Bench2 share the format) is a JSON list of
multiple-choice questions::

    [{"sample_id": 115,                    # or "id"; default: the position in the list
      "video_id": "P01_13",                # or "video" / "video_path" (relative to video_root);
                                           # EgoPlan-Bench2 has none: its sample_id
                                           # "<video>_<n>" names the video
      "task_goal": "store cereal",
      "choice_a": "put cereal box into cupboard", "choice_b": "...", "choice_c": "...",
      "choice_d": "...",                   # choice_a, choice_b, ... (two or more)
      "golden_choice_idx": "A",            # a letter, or a 0-based index
      "answer": "put cereal box into cupboard",   # optional; must match the golden choice
      "task_start_frame": 0,               # optional (EgoPlan-Bench2)
      "current_observation_frame": 760,
      "task_progress_metadata": [{"narration_text": "take cereal bag",
                                  "start_frame": 36, "stop_frame": 105}, ...],
      "scenario": "baking"}]               # optional; "scenario" or "video_source" is the task

Frames come from the first that exists of ``<video_root>/<video>`` (a video file or a folder of
frames), ``<video_root>/<video>.mp4`` (or .avi, .mkv, .mov, .webm), and the Epic-Kitchens layout
``<video_root>/<participant>/rgb_frames/<video>/``, read by :mod:`vlm_planner.data.media`. Frame
numbers count a video's frames from 0; in a folder they are the numbers in the file names
(Epic-Kitchens' ``frame_0000000001.jpg`` is frame 1), or the position in name order when the
names carry none.

The task's progress runs from ``task_start_frame`` (else the first progress segment's start, else
the current frame) to ``current_observation_frame``. Frames of it are taken at ``sample_fps`` and
fed through :func:`~vlm_planner.core.session.replayed_keyframes`, the live node's session, so the
item's frames end with the current observation and nothing after it.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
import string
from typing import Collection, Iterator

from vlm_planner.core.actions import Action, normalize_label
from vlm_planner.core.frames import Frame
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.session import replayed_keyframes
from vlm_planner.data.annotations import read_data_file
from vlm_planner.data.items import Dataset, EvalItem
from vlm_planner.data.media import numbered_images, read_image, Video, VIDEO_SUFFIXES
from vlm_planner.errors import AnnotationError, MediaError


@dataclasses.dataclass(frozen=True)
class EgoPlanItem:
    """One validated EgoPlan-Bench question, before any frame is read."""

    item_id: str
    index: int  # position in the file's list
    video: str  # a path relative to video_root, or a video id
    goal: str
    candidates: tuple[Action, ...]
    answer: int
    task: str
    start_frame: int
    current_frame: int

    def __str__(self) -> str:
        return item_name(self.item_id, self.index)


def item_name(item_id: str, index: int) -> str:
    """Name an item in messages: ``item 'vid_3' (#2)``."""
    return f'item {item_id!r} (#{index})'


class EgoPlanDataset(Dataset):
    """EgoPlan-Bench questions with frames from videos or frame folders (see module docstring).

    Args:
        json_path: the EgoPlan-Bench JSON file.
        video_root: the folder holding the videos or frame folders.
        name: the data set's name; default: the JSON file's name without suffix.
        fps: frame rate of frame folders (videos carry their own).
        sample_fps: how many frames per second of the task's progress are offered to the
            keyframe buffer.

    Raises:
        AnnotationError: the file is not a valid item list, or an item's video is missing.
    """

    def __init__(self, json_path: str | Path, video_root: str | Path, name: str | None = None,
                 fps: float = 30.0, sample_fps: float = 4.0) -> None:
        self.path = Path(json_path)
        self.video_root = Path(video_root)
        self.name = name or self.path.stem
        if not fps > 0 or not sample_fps > 0:
            raise AnnotationError(f'{self.path}: fps ({fps}) and sample_fps ({sample_fps}) must '
                                  'be positive.')
        self.fps = float(fps)
        self.sample_fps = float(sample_fps)
        if not self.video_root.is_dir():
            raise AnnotationError(f'{self.path}: video_root {self.video_root} is not a folder.')
        data = read_data_file(self.path)
        if not isinstance(data, list) or not data:
            raise AnnotationError(f'{self.path}: expected a non-empty JSON list of EgoPlan-Bench '
                                  'items.')
        self._items = [parse_item(entry, i, str(self.path)) for i, entry in enumerate(data)]
        _check_unique_ids(self._items, str(self.path))
        self._media = {item.item_id: self._find_media(item) for item in self._items}

    def __len__(self) -> int:
        return len(self._items)

    def item_ids(self) -> list[str]:
        """Ids of all items, in file order."""
        return [item.item_id for item in self._items]

    def subset(self, ids: Collection[str]) -> 'EgoPlanDataset':
        """This data set with only the items ``ids``: the others' videos are never decoded."""
        chosen = copy.copy(self)
        chosen._items = [item for item in self._items if item.item_id in ids]
        return chosen

    def items(self, keyframes: KeyframeConfig) -> Iterator[EvalItem]:
        """Yield the items in file order, frames chosen by a buffer set up as ``keyframes``.

        Raises:
            AnnotationError: a frame the item needs is missing or unreadable.
        """
        for item in self._items:
            frames = self._progress_frames(item)
            yield EvalItem(dataset=self.name, item_id=item.item_id, task=item.task,
                           goal=item.goal, candidates=item.candidates, answer=item.answer,
                           frames=tuple(replayed_keyframes(frames, keyframes)),
                           decision_time=frames[-1].stamp)

    def _find_media(self, item: EgoPlanItem) -> Path:
        root = self.video_root
        tried = [root / item.video, *(root / f'{item.video}{s}' for s in VIDEO_SUFFIXES),
                 root / item.video.split('_')[0] / 'rgb_frames' / item.video]
        for path in tried:
            if path.exists():
                return path
        raise AnnotationError(
            f'{self.path}: {item}: no video or frame folder for {item.video!r}; '
            f'looked for {", ".join(str(p) for p in tried)}.')

    def _progress_frames(self, item: EgoPlanItem) -> list[Frame]:
        media = self._media[item.item_id]
        where = f'{self.path}: {item}'
        try:
            if media.is_dir():
                return _folder_frames(media, item, self.fps, self.sample_fps, where)
            return _video_frames(media, item, self.sample_fps, where)
        except MediaError as exc:
            raise AnnotationError(f'{where}: {exc}') from None


def parse_item(entry: object, index: int, where: str) -> EgoPlanItem:
    """Validate one EgoPlan-Bench item (format in the module docstring).

    Raises:
        AnnotationError: naming ``where`` and the item.
    """
    if not isinstance(entry, dict):
        raise AnnotationError(f'{where}: item #{index} must be a JSON object, got {entry!r}.')
    raw_id = entry.get('sample_id', entry.get('id', index))
    item_id = str(raw_id)
    where = f'{where}: {item_name(item_id, index)}'
    goal = entry.get('task_goal')
    if not isinstance(goal, str) or not goal.strip():
        raise AnnotationError(f'{where}: "task_goal" must be a non-empty text, got {goal!r}.')
    candidates = _choices(entry, where)
    current = _frame_number(entry.get('current_observation_frame'),
                            'current_observation_frame', where)
    return EgoPlanItem(
        item_id=item_id, index=index, video=_video(entry, raw_id, where), goal=goal.strip(),
        candidates=candidates, answer=_answer(entry, candidates, where),
        task=str(entry.get('scenario') or entry.get('video_source') or 'egoplan'),
        start_frame=_start_frame(entry, current, where), current_frame=current)


def _video(entry: dict, raw_id: object, where: str) -> str:
    for key in ('video_id', 'video', 'video_path'):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if isinstance(raw_id, str) and '_' in raw_id:
        return raw_id.split('_')[0]  # EgoPlan-Bench2: "<video uid>_<n>"
    raise AnnotationError(f'{where}: no "video_id" (or "video", "video_path") says which video '
                          'it is about.')


def _choices(entry: dict, where: str) -> tuple[Action, ...]:
    labels = []
    for letter in string.ascii_lowercase:
        value = entry.get(f'choice_{letter}')
        if value is None:
            break
        if not isinstance(value, str) or not value.strip():
            raise AnnotationError(f'{where}: "choice_{letter}" must be a non-empty text, got '
                                  f'{value!r}.')
        labels.append(value.strip())
    if len(labels) < 2:
        raise AnnotationError(f'{where}: needs at least "choice_a" and "choice_b".')
    keys = [normalize_label(label) for label in labels]
    if len(set(keys)) != len(keys):
        raise AnnotationError(f'{where}: two choices are the same ({"; ".join(labels)}).')
    return tuple(Action(label) for label in labels)


def _answer(entry: dict, candidates: tuple[Action, ...], where: str) -> int:
    golden = entry.get('golden_choice_idx')
    text = entry.get('answer')
    keys = [normalize_label(c.label) for c in candidates]
    letters = list(string.ascii_uppercase[:len(candidates)])
    if isinstance(golden, str) and golden.strip().upper() in letters:
        index = letters.index(golden.strip().upper())
    elif isinstance(golden, int) and not isinstance(golden, bool) and \
            0 <= golden < len(candidates):
        index = golden
    elif golden is None and isinstance(text, str) and normalize_label(text) in keys:
        index = keys.index(normalize_label(text))
    else:
        raise AnnotationError(
            f'{where}: golden_choice_idx {golden!r} is not among the {len(candidates)} choices; '
            f'give a letter {", ".join(letters)} or a 0-based index.')
    if isinstance(text, str) and normalize_label(text) != keys[index]:
        raise AnnotationError(f'{where}: "answer" {text!r} is not choice {letters[index]} '
                              f'({candidates[index].label!r}) named by golden_choice_idx.')
    return index


def _start_frame(entry: dict, current: int, where: str) -> int:
    if entry.get('task_start_frame') is not None:
        start = _frame_number(entry['task_start_frame'], 'task_start_frame', where)
    else:
        progress = entry.get('task_progress_metadata') or []
        if not isinstance(progress, list) or not all(isinstance(p, dict) for p in progress):
            raise AnnotationError(f'{where}: "task_progress_metadata" must be a list of objects '
                                  'with start_frame and stop_frame.')
        starts = [_frame_number(p.get('start_frame'), 'task_progress_metadata start_frame',
                                where) for p in progress]
        start = min([s for s in starts if s <= current], default=current)
    if start > current:
        raise AnnotationError(f'{where}: the task starts at frame {start}, after the current '
                              f'observation frame {current}.')
    return start


def _frame_number(value: object, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AnnotationError(f'{where}: "{key}" must be a frame number >= 0, got {value!r}.')
    return value


def _check_unique_ids(items: list[EgoPlanItem], where: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.item_id in seen:
            raise AnnotationError(f'{where}: item id {item.item_id!r} appears twice; ids must be '
                                  'unique.')
        seen.add(item.item_id)


def _sampled(item: EgoPlanItem, fps: float, sample_fps: float) -> list[int]:
    """Frame numbers from the task's start to the current frame, about ``sample_fps`` a second."""
    stride = max(1, round(fps / sample_fps))
    numbers = list(range(item.start_frame, item.current_frame + 1, stride))
    if numbers[-1] != item.current_frame:
        numbers.append(item.current_frame)
    return numbers


def _folder_frames(folder: Path, item: EgoPlanItem, fps: float, sample_fps: float,
                   where: str) -> list[Frame]:
    files = numbered_images(folder)
    frames = []
    for number in _sampled(item, fps, sample_fps):
        file = files.get(number)
        if file is None:
            raise AnnotationError(f'{where}: frame {number} is not in {folder} (it has frames '
                                  f'{min(files)} to {max(files)}).')
        frames.append(Frame(read_image(file), number / fps))
    return frames


def _video_frames(file: Path, item: EgoPlanItem, sample_fps: float, where: str) -> list[Frame]:
    with Video(file) as video:
        fps = video.fps
        if not fps:
            raise AnnotationError(f'{where}: {file} does not say its frame rate; convert it to '
                                  'mp4 or give a folder of frames.')
        numbers = _sampled(item, fps, sample_fps)
        images = video.read_numbered(numbers)
    if len(images) < len(numbers):
        raise AnnotationError(f'{where}: {file} ends before frame {numbers[len(images)]}; the '
                              f'item needs frames up to {item.current_frame}.')
    return [Frame(rgb, n / fps) for n, rgb in zip(numbers, images)]
