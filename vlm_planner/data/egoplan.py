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
      "video_source": "EpicKitchens",      # optional, "EpicKitchens" or "Ego4D"; without it the
                                           # video id tells: P01_13 or a UUID
      "video_id": "P01_13",                # or "video" / "video_path" (relative to a root);
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
      "domain": "Hobbies",                 # optional (EgoPlan-Bench2): accuracy per domain
      "scenario": "baking"}]               # optional; "scenario" or "video_source" is the task

An item with a ``domain`` comes from EgoPlan-Bench2, any other from EgoPlan-Bench
(:attr:`EvalItem.benchmark <vlm_planner.data.items.EvalItem.benchmark>`).

**Where frames come from.** ``video_root`` is one folder or several, searched in order. Below
each, the first that exists of (:func:`media_layouts`):

* ``<video>`` (a video file or a folder of frames), ``<video>.mp4`` (or .avi, .mkv, .mov, .webm);
  the latter covers a root as EgoPlan's ``--ego4d_video_dir``;
* for EPIC-KITCHENS items, ``<participant>/rgb_frames/<video>/`` (a root as EgoPlan's
  ``--epic_kitchens_rgb_frame_dir``) and ``EPIC-KITCHENS/<participant>/rgb_frames/<video>/``
  (the official data root);
* for Ego4D items, ``Ego4D/v1_288p/<video>.mp4`` (the official data root);

items of neither source try all. Media are read by :mod:`vlm_planner.data.media`. Frame numbers
count a video's frames from 0; in a folder they are the numbers in the file names
(EPIC-KITCHENS' ``frame_0000000001.jpg`` is frame 1), or the position in name order when the
names carry none.

**Frame rates.** Videos carry their own. Frame folders are stamped at ``fps``: one number for
every source, or a mapping ``{source: fps}`` (:class:`FrameRates`) whose key ``'*'`` stands for
the sources it does not name; a source named nowhere gets :data:`DEFAULT_FPS`.

**Sampling.** The task's progress runs from ``task_start_frame`` (else the earliest progress
segment's start, else the current frame) to ``current_observation_frame``. With sampling
``'keyframes'`` (the robot's view) its frames at ``sample_fps`` are fed through
:func:`~vlm_planner.core.session.replayed_keyframes`, the live node's session; with
``'uniform'`` (EgoPlan-Bench's protocol) ``keyframes.max_count`` frames evenly spaced over it are
taken (:func:`uniform_frames`). Either way the item's frames end with the current observation
and hold nothing after it.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
import re
import string
from typing import Collection, Iterator, Mapping, Sequence

import numpy as np

from vlm_planner.core.actions import Action, normalize_label
from vlm_planner.core.frames import Frame
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.session import replayed_keyframes
from vlm_planner.data.annotations import read_data_file
from vlm_planner.data.items import Dataset, EvalItem
from vlm_planner.data.media import numbered_images, read_image, Video, VIDEO_SUFFIXES
from vlm_planner.errors import AnnotationError, MediaError

#: The video sources of EgoPlan-Bench, spelt as its files' ``video_source``.
EPIC_KITCHENS = 'EpicKitchens'
EGO4D = 'Ego4D'
SOURCES = (EPIC_KITCHENS, EGO4D)
#: The key of a frame-rate mapping that stands for every source the mapping does not name.
OTHER_SOURCES = '*'
#: Frame rate of the frame folders of a source given none.
DEFAULT_FPS = 30.0
#: How an item's frames are chosen (module docstring); the first is the default.
SAMPLINGS = ('keyframes', 'uniform')
#: The benchmarks an item can come from (``EvalItem.benchmark``).
EGOPLAN_BENCH = 'EgoPlan-Bench'
EGOPLAN_BENCH2 = 'EgoPlan-Bench2'
#: How to point at the media, for messages.
VIDEO_ROOT_HINT = ('give --video-root (video_root in Python) the EgoPlan data root holding '
                   'EPIC-KITCHENS/ and Ego4D/, or the EPIC-KITCHENS frame root and the '
                   'Ego4D/v1_288p video folder (several folders are searched in order); see '
                   'docs/datasets.md')

_EPIC_VIDEO_ID = re.compile(r'P\d+_\d+')
_UUID = re.compile(r'[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', re.IGNORECASE)
_SUFFIX_PATTERN = '.{' + ','.join(suffix[1:] for suffix in VIDEO_SUFFIXES) + '}'


@dataclasses.dataclass(frozen=True)
class EgoPlanItem:
    """One validated EgoPlan-Bench question, before any frame is read."""

    item_id: str
    index: int  # position in the file's list
    video: str  # a path relative to a video root, or a video id
    source: str  # EPIC_KITCHENS, EGO4D, another given video_source, or '' when unknown
    goal: str
    candidates: tuple[Action, ...]
    answer: int
    task: str
    domain: str  # EgoPlan-Bench2's domain; '' without one
    start_frame: int
    current_frame: int

    @property
    def benchmark(self) -> str:
        """The benchmark the item comes from: EgoPlan-Bench2 when it has a domain."""
        return EGOPLAN_BENCH2 if self.domain else EGOPLAN_BENCH

    def __str__(self) -> str:
        return item_name(self.item_id, self.index)


def item_name(item_id: str, index: int) -> str:
    """Name an item in messages: ``item 'vid_3' (#2)``."""
    return f'item {item_id!r} (#{index})'


def source_key(source: str) -> str:
    """A source name without case or punctuation: ``EPIC-KITCHENS`` and ``EpicKitchens`` match."""
    return re.sub(r'[^0-9a-z]', '', source.lower())


class FrameRates:
    """The frame rates of frame folders by video source (see the module docstring).

    Args:
        fps: one rate for every source, or a mapping of sources (matched by :func:`source_key`)
            and :data:`OTHER_SOURCES` to rates.
        known: the sources a mapping may name, so that a misspelt one is refused, not ignored.

    Raises:
        ValueError: a rate is not a positive number, or a key names no known source.
    """

    def __init__(self, fps: float | Mapping[str, float], known: Collection[str]) -> None:
        given = fps if isinstance(fps, Mapping) else {OTHER_SOURCES: fps}
        names = {source_key(source) for source in known}
        self._rates: dict[str, float] = {}
        for source, rate in given.items():
            key = OTHER_SOURCES if source == OTHER_SOURCES else source_key(str(source))
            if key != OTHER_SOURCES and key not in names:
                raise ValueError(
                    f'the frame rate of {source!r} names no video source; name one of '
                    f'{", ".join(sorted(known))}, or {OTHER_SOURCES!r} for all others.')
            self._rates[key] = _positive_rate(rate, source)

    def of(self, source: str) -> float:
        """The frame rate of the frame folders of ``source``."""
        return self._rates.get(source_key(source), self._rates.get(OTHER_SOURCES, DEFAULT_FPS))


def frame_rate(text: str) -> tuple[str, float]:
    """Parse one ``--frame-rate`` entry: ``SOURCE=FPS``, or ``FPS`` for every other source.

    Raises:
        ValueError: the text is not of that form or the rate is not a positive number.
    """
    source, sep, rate = text.rpartition('=')
    source = source.strip() if sep else OTHER_SOURCES
    try:
        value = float(rate)
    except ValueError:
        value = math.nan
    if not source or not (math.isfinite(value) and value > 0):
        raise ValueError(f'expected SOURCE=FPS or FPS (a positive number), got {text!r}')
    return source, value


def _positive_rate(rate: object, source: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (
            math.isfinite(rate) and rate > 0):
        of = '' if source == OTHER_SOURCES else f' of {source!r}'
        raise ValueError(f'the frame rate{of} must be a positive number of frames per second, '
                         f'got {rate!r}.')
    return float(rate)


class EgoPlanDataset(Dataset):
    """EgoPlan-Bench questions with frames from videos or frame folders (see module docstring).

    Args:
        json_path: the EgoPlan-Bench JSON file.
        video_root: the folder, or folders searched in order, holding the videos or frame
            folders.
        name: the data set's name; default: the JSON file's name without suffix.
        fps: frame rate of frame folders (videos carry their own): a number, or a mapping
            ``{source: fps}`` (see :class:`FrameRates`).
        sample_fps: with ``'keyframes'`` sampling, how many frames per second of the task's
            progress are offered to the keyframe buffer.
        sampling: ``'keyframes'`` (the robot's keyframe buffer) or ``'uniform'`` (EgoPlan-Bench's
            protocol: ``keyframes.max_count`` evenly spaced frames).

    Raises:
        AnnotationError: the file is not a valid item list, an option is invalid, or an item's
            video is missing.
    """

    def __init__(self, json_path: str | Path, video_root: str | Path | Sequence[str | Path],
                 name: str | None = None, fps: float | Mapping[str, float] = DEFAULT_FPS,
                 sample_fps: float = 4.0, sampling: str = SAMPLINGS[0]) -> None:
        self.path = Path(json_path)
        self.name = name or self.path.stem
        if not sample_fps > 0:
            raise AnnotationError(f'{self.path}: sample_fps ({sample_fps}) must be positive.')
        if sampling not in SAMPLINGS:
            raise AnnotationError(f'{self.path}: sampling {sampling!r} is unknown; choose '
                                  f'{" or ".join(SAMPLINGS)}.')
        self.sample_fps = float(sample_fps)
        self.sampling = sampling
        self.video_roots = _video_roots(video_root, str(self.path))
        data = read_data_file(self.path)
        if not isinstance(data, list) or not data:
            raise AnnotationError(f'{self.path}: expected a non-empty JSON list of EgoPlan-Bench '
                                  'items.')
        self._items = [parse_item(entry, i, str(self.path)) for i, entry in enumerate(data)]
        _check_unique_ids(self._items, str(self.path))
        try:
            sources = {*SOURCES, *(item.source for item in self._items if item.source)}
            self.frame_rates = FrameRates(fps, sources)
        except ValueError as exc:
            raise AnnotationError(f'{self.path}: {exc} Give rates as --frame-rate SOURCE=FPS '
                                  '(fps={source: fps} in Python).') from None
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
        """Yield the items video by video, frames chosen as ``sampling`` says.

        The items of one video (or frame folder) come together, in file order of each video's
        first item, and the video is decoded once for all of them: every frame any of them
        needs is read in one pass, and items sharing a frame share its :class:`Frame` (which
        lets the model's keyframe cache reuse it).

        Args:
            keyframes: the keyframe buffer's settings; ``'uniform'`` sampling takes its
                ``max_count`` frames.

        Raises:
            AnnotationError: a frame an item needs is missing or unreadable.
        """
        groups: dict[Path, list[EgoPlanItem]] = {}
        for item in self._items:
            groups.setdefault(self._media[item.item_id], []).append(item)
        for media, group in groups.items():
            for item, picked in zip(group, self._read_group(media, group, keyframes)):
                frames = (picked if self.sampling == 'uniform'
                          else replayed_keyframes(picked, keyframes))
                yield EvalItem(dataset=self.name, item_id=item.item_id, task=item.task,
                               goal=item.goal, candidates=item.candidates, answer=item.answer,
                               frames=tuple(frames), decision_time=frames[-1].stamp,
                               domain=item.domain, benchmark=item.benchmark)

    def _find_media(self, item: EgoPlanItem) -> Path:
        layouts = media_layouts(item.video, item.source)
        for root in self.video_roots:
            for _, paths in layouts:
                for path in paths:
                    if (root / path).exists():
                        return root / path
        tried = ', '.join(f'{root}/{pattern}' for root in self.video_roots
                          for pattern, _ in layouts)
        source = f' ({item.source})' if item.source else ''
        raise AnnotationError(f'{self.path}: {item}: no video or frame folder for '
                              f'{item.video!r}{source}; tried {tried}. To fix it, '
                              f'{VIDEO_ROOT_HINT}.')

    def _numbers(self, item: EgoPlanItem, fps: float, keyframes: KeyframeConfig) -> list[int]:
        """The frame numbers ``item`` takes at ``fps``, the current frame last.

        Its progress at about ``sample_fps`` frames a second, or ``max_count`` evenly spaced.
        """
        if self.sampling == 'uniform':
            return uniform_frames(item.start_frame, item.current_frame, keyframes.max_count)
        return strided_frames(item.start_frame, item.current_frame,
                              max(1, round(fps / self.sample_fps)))

    def _read_group(self, media: Path, group: list[EgoPlanItem],
                    keyframes: KeyframeConfig) -> list[list[Frame]]:
        """Each item's frames, from one pass over the video or frame folder they share."""
        where = f'{self.path}: {group[0]}'
        try:
            if media.is_dir():
                fps = self.frame_rates.of(group[0].source)
                wanted = [self._numbers(item, fps, keyframes) for item in group]
                images = _folder_images(media, sorted(set().union(*wanted)), where)
            else:
                with Video(media) as video:
                    fps = video.fps
                    if not fps:
                        raise AnnotationError(f'{where}: {media} does not say its frame rate; '
                                              'convert it to mp4 or give a folder of frames.')
                    wanted = [self._numbers(item, fps, keyframes) for item in group]
                    numbers = sorted(set().union(*wanted))
                    images = dict(zip(numbers, video.read_numbered(numbers)))
                for item, item_numbers in zip(group, wanted):
                    missing = [n for n in item_numbers if n not in images]
                    if missing:
                        raise AnnotationError(
                            f'{self.path}: {item}: {media} ends before frame {missing[0]}; the '
                            f'item needs frames up to {item.current_frame}.')
        except MediaError as exc:
            raise AnnotationError(f'{where}: {exc}') from None
        frames = {number: Frame(image, number / fps) for number, image in images.items()}
        return [[frames[number] for number in item_numbers] for item_numbers in wanted]


def media_layouts(video: str, source: str) -> list[tuple[str, tuple[str, ...]]]:
    """Where ``video`` may lie below a root, in search order (see the module docstring).

    Returns:
        ``(pattern, paths)`` pairs: the layout as messages show it and its paths relative to a
        root.
    """
    layouts = [(video, (video,)), _video_files(video)]
    if _layout_serves(EPIC_KITCHENS, source):
        frames = f'{video.split("_")[0]}/rgb_frames/{video}'
        official = f'EPIC-KITCHENS/{frames}'
        layouts += [(f'{frames}/', (frames,)), (f'{official}/', (official,))]
    if _layout_serves(EGO4D, source):
        layouts.append(_video_files(f'Ego4D/v1_288p/{video}'))
    return layouts


def _video_files(stem: str) -> tuple[str, tuple[str, ...]]:
    return stem + _SUFFIX_PATTERN, tuple(stem + suffix for suffix in VIDEO_SUFFIXES)


def _layout_serves(layout_source: str, item_source: str) -> bool:
    """Whether a source's layouts are tried for an item: its own, or an unknown source's."""
    return item_source == layout_source or item_source not in SOURCES


def _video_roots(video_root: str | Path | Sequence[str | Path], where: str) -> tuple[Path, ...]:
    roots = [video_root] if isinstance(video_root, (str, Path)) else list(video_root)
    if not roots:
        raise AnnotationError(f'{where}: no video folder given; {VIDEO_ROOT_HINT}.')
    missing = [str(root) for root in roots if not Path(root).is_dir()]
    if missing:
        raise AnnotationError(f'{where}: video_root {", ".join(missing)} is not a folder; '
                              f'{VIDEO_ROOT_HINT}.')
    return tuple(Path(root) for root in roots)


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
    video = _video(entry, raw_id, where)
    given_source = _text(entry, 'video_source', where)
    return EgoPlanItem(
        item_id=item_id, index=index, video=video, source=_source(given_source, video),
        goal=goal.strip(), candidates=candidates, answer=_answer(entry, candidates, where),
        task=_text(entry, 'scenario', where) or given_source or 'egoplan',
        domain=_text(entry, 'domain', where), start_frame=_start_frame(entry, current, where),
        current_frame=current)


def _text(entry: dict, key: str, where: str) -> str:
    """An optional text field, stripped; '' when missing."""
    value = entry.get(key)
    if value is None:
        return ''
    if not isinstance(value, str) or not value.strip():
        raise AnnotationError(f'{where}: "{key}" must be a non-empty text when given, got '
                              f'{value!r}.')
    return value.strip()


def _source(given: str, video: str) -> str:
    """The given source (a known one spelt as in SOURCES), else the one the video id tells.

    EPIC-KITCHENS ids look like ``P01_13``, Ego4D ids are UUIDs; '' for any other id.
    """
    if given:
        return next((s for s in SOURCES if source_key(s) == source_key(given)), given)
    stem = Path(video).stem
    if _EPIC_VIDEO_ID.fullmatch(stem):
        return EPIC_KITCHENS
    return EGO4D if _UUID.fullmatch(stem) else ''


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


def strided_frames(start: int, current: int, stride: int) -> list[int]:
    """Every ``stride``-th frame number from ``start`` to ``current``, ``current`` last."""
    numbers = list(range(start, current + 1, stride))
    if numbers[-1] != current:
        numbers.append(current)
    return numbers


def uniform_frames(start: int, current: int, count: int) -> list[int]:
    """``count`` frame numbers evenly spaced from ``start`` to ``current``, ``current`` last.

    They are the whole frames at or before ``count`` evenly spaced positions, as EgoPlan-Bench's
    own evaluation takes them. A span of fewer than ``count`` frames gives each frame once, so
    fewer numbers.
    """
    if count < 2:
        return [current]
    span = current - start
    return list(dict.fromkeys(start + k * span // (count - 1) for k in range(count)))


def _folder_images(folder: Path, numbers: list[int], where: str) -> dict[int, np.ndarray]:
    files = numbered_images(folder)
    images = {}
    for number in numbers:
        file = files.get(number)
        if file is None:
            raise AnnotationError(f'{where}: frame {number} is not in {folder} (it has frames '
                                  f'{min(files)} to {max(files)}).')
        images[number] = read_image(file)
    return images
