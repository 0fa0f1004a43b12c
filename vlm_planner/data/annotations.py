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

"""Annotation files: the decision points of a rosbag2 recording and the correct action at each.

An annotation file is YAML or JSON (``.json`` files are read as JSON, anything else as YAML)::

    bag: recordings/run1              # rosbag2 folder or .db3/.mcap file, relative to this file
    topic: /camera/image_raw          # optional; default: the bag's only image topic
    actions_file: tabletop.yaml       # optional action library, relative to this file
    task: tabletop                    # optional task name (default: the file's name)
    time_is_absolute: false           # optional default for every decision point
    decision_points:
      - id: red-first                 # optional, unique; default: the point's index (0, 1, ...)
        time: 3.5                     # seconds after the first camera frame
        goal: put the red block in the bin
        candidates:                   # labels, or mappings with label and optional verb, noun
          - pick up the red block
          - {label: pick up the blue block, verb: pick, noun: blue block}
        answer: pick up the red block # a candidate's label, or its 0-based index
        verb: pick                    # optional verb / noun of the answer
        noun: red block
      - time: 1718000012.25           # a frame stamp (header stamp, seconds) ...
        time_is_absolute: true        # ... because of this
        goal: put the red block in the bin
        candidates: [put the held block in the bin, put the held block on the table]
        answer: 0
        task: bin                     # optional; default: the top-level task
        scene: 'red block: the gripper; green block: table slot 0'
                                      # optional: what the frame at this time shows, in words

Times are in the clock of the frames' stamps (header stamps, or the bag's receive time where the
header stamp is zero). A relative ``time`` counts from the earliest frame of the camera topic, the
start of the recording as the camera saw it; this stays right for recordings in simulated time,
whose header stamps have nothing to do with the wall-clock receive times of the bag.

A ``scene`` is never shown to the planner: ``vlm-planner finetune --describe-scene`` trains the
model to say it from the frames, an auxiliary target that teaches a model to see where things are
(``vlm-planner generate`` writes one per decision point from the simulator's state).

With ``actions_file``, candidates given as labels must be actions of that library and take their
verb and noun from it. Labels are compared as the planner compares them: without case, repeated
blanks or a final full stop.

Every validation error names the file and the decision point (its id and index): unknown keys,
missing or mistyped values, an answer that is not one of the candidates, duplicate ids or
candidates, and times before the first or after the last frame of the recording.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import yaml

from vlm_planner.core.actions import Action, ActionLibrary, normalize_label
from vlm_planner.errors import ActionLibraryError, AnnotationError

TOP_KEYS = ('bag', 'topic', 'actions_file', 'task', 'time_is_absolute', 'decision_points')
POINT_KEYS = ('id', 'time', 'time_is_absolute', 'goal', 'candidates', 'answer', 'verb', 'noun',
              'task', 'scene')
CANDIDATE_KEYS = tuple(f.name for f in dataclasses.fields(Action))

#: Times this close outside the recording (seconds) count as its first or last frame.
TIME_TOLERANCE = 1e-6


def read_data_file(path: str | Path) -> object:
    """Parse a JSON (``.json``) or YAML file.

    Raises:
        AnnotationError: the file is missing or does not parse.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise AnnotationError(f'{path} does not exist; give an annotation file.') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f'cannot read {path}: {exc}') from None
    try:
        return json.loads(text) if path.suffix.lower() == '.json' else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = 'JSON' if path.suffix.lower() == '.json' else 'YAML'
        raise AnnotationError(f'{path} is not valid {kind}: {exc}') from None


@dataclasses.dataclass(frozen=True)
class DecisionPoint:
    """One annotated decision: what the robot should do next at ``time``."""

    item_id: str
    index: int  # position in the file's list
    time: float
    time_is_absolute: bool
    goal: str
    candidates: tuple[Action, ...]
    answer: int
    task: str
    scene: str = ''  # what the frame at ``time`` shows, in words; '' without one

    def __str__(self) -> str:
        return point_name(self.item_id, self.index)


def point_name(item_id: str, index: int) -> str:
    """Name a decision point in messages: ``decision point 'red-first' (#0)``."""
    name = '' if item_id == str(index) else f'{item_id!r} '
    return f'decision point {name}(#{index})'


@dataclasses.dataclass(frozen=True)
class Annotation:
    """A validated annotation file."""

    path: Path
    bag: Path
    topic: str | None
    task: str
    decision_points: tuple[DecisionPoint, ...]

    def decision_times(self, first: float, last: float) -> list[float]:
        """Return every point's time as a frame stamp, checked against the recording.

        Args:
            first: stamp of the recording's earliest camera frame (seconds).
            last: stamp of its latest camera frame.

        Returns:
            Stamps in the order of :attr:`decision_points`, within ``[first, last]``.

        Raises:
            AnnotationError: a point lies before the first or after the last frame.
        """
        times = []
        for point in self.decision_points:
            stamp = point.time if point.time_is_absolute else first + point.time
            if not first - TIME_TOLERANCE <= stamp <= last + TIME_TOLERANCE:
                span = (f'frame stamps {first:.3f} to {last:.3f} s' if point.time_is_absolute
                        else f'0 to {last - first:.3f} s after its first frame')
                raise AnnotationError(
                    f'{self.path}: {point} at time {point.time} s points outside the recording '
                    f'{self.bag} ({span}); correct its time or time_is_absolute.')
            times.append(min(max(stamp, first), last))
        return times


def load_annotation(path: str | Path) -> Annotation:
    """Read and validate an annotation file (format in the module docstring).

    Raises:
        AnnotationError: the file is missing, does not parse, or breaks a rule of the format.
    """
    path = Path(path)
    return parse_annotation(read_data_file(path), path)


def parse_annotation(data: object, path: str | Path) -> Annotation:
    """Validate parsed annotation ``data``; ``path`` names it and anchors relative paths.

    Raises:
        AnnotationError: ``data`` breaks a rule of the format.
    """
    path = Path(path)
    where = str(path)
    if not isinstance(data, dict):
        raise AnnotationError(
            f'{where}: expected a mapping with "bag" and "decision_points" (see '
            f'docs/datasets.md), got {type(data).__name__}.')
    _check_keys(data, TOP_KEYS, where)
    bag = path.parent / _text(data.get('bag'), 'bag', where)
    if not bag.exists():
        raise AnnotationError(f'{where}: bag {bag} does not exist; "bag" is relative to the '
                              'annotation file.')
    topic = _optional_text(data.get('topic'), 'topic', where)
    library = _library(data.get('actions_file'), path)
    task = _optional_text(data.get('task'), 'task', where) or path.stem
    absolute = _flag(data.get('time_is_absolute', False), 'time_is_absolute', where)
    entries = data.get('decision_points')
    if not isinstance(entries, list) or not entries:
        raise AnnotationError(f'{where}: "decision_points" must be a non-empty list.')
    points = tuple(_point(i, entry, where, library, task, absolute)
                   for i, entry in enumerate(entries))
    _check_unique_ids(points, where)
    return Annotation(path, bag, topic, task, points)


def _point(index: int, entry: object, where: str, library: ActionLibrary | None, task: str,
           absolute: bool) -> DecisionPoint:
    if not isinstance(entry, dict):
        raise AnnotationError(f'{where}: decision point #{index} must be a mapping, got '
                              f'{entry!r}.')
    item_id = entry.get('id', index)
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool) or item_id == '':
        raise AnnotationError(f'{where}: decision point #{index} has id {item_id!r}; give a '
                              'text or a number.')
    where = f'{where}: {point_name(str(item_id), index)}'
    _check_keys(entry, POINT_KEYS, where)
    absolute = _flag(entry.get('time_is_absolute', absolute), 'time_is_absolute', where)
    time = entry.get('time')
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise AnnotationError(f'{where}: "time" must be a number of seconds, got {time!r}.')
    if not absolute and time < 0:
        raise AnnotationError(f'{where}: time {time} is before the start of the recording; '
                              'relative times count from the first frame and are >= 0.')
    candidates = _candidates(entry.get('candidates'), where, library)
    answer = _answer(entry.get('answer'), candidates, where)
    candidates = _with_answer_details(candidates, answer, entry, where)
    return DecisionPoint(
        item_id=str(item_id), index=index, time=float(time), time_is_absolute=absolute,
        goal=_text(entry.get('goal'), 'goal', where), candidates=candidates, answer=answer,
        task=_optional_text(entry.get('task'), 'task', where) or task,
        scene=_optional_text(entry.get('scene'), 'scene', where) or '')


def _candidates(value: object, where: str, library: ActionLibrary | None) -> tuple[Action, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise AnnotationError(f'{where}: "candidates" must list at least two actions, got '
                              f'{value!r}.')
    actions = []
    for i, entry in enumerate(value):
        if isinstance(entry, str) and entry.strip():
            actions.append(_library_action(entry, where, library) if library else Action(entry))
        elif isinstance(entry, dict) and isinstance(entry.get('label'), str):
            _check_keys(entry, CANDIDATE_KEYS, f'{where}: candidate #{i}')
            actions.append(Action(**{k: str(v) for k, v in entry.items()}))
        else:
            raise AnnotationError(f'{where}: candidate #{i} must be a label or a mapping with a '
                                  f'"label", got {entry!r}.')
    seen: dict[str, str] = {}
    for action in actions:
        key = normalize_label(action.label)
        if key in seen:
            raise AnnotationError(f'{where}: candidate {action.label!r} is listed twice.')
        seen[key] = action.label
    return tuple(actions)


def _library_action(label: str, where: str, library: ActionLibrary) -> Action:
    action = library.find(label)
    if action is None:
        raise AnnotationError(
            f'{where}: candidate {label!r} is not in action library {library.name!r}; known '
            f'actions: {", ".join(library.labels)}.')
    return action


def _answer(value: object, candidates: tuple[Action, ...], where: str) -> int:
    labels = [c.label for c in candidates]
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(candidates):
            return value
        raise AnnotationError(f'{where}: answer index {value} is not among the {len(labels)} '
                              f'candidates (0-based: 0 to {len(labels) - 1}).')
    if isinstance(value, str):
        keys = [normalize_label(label) for label in labels]
        if normalize_label(value) in keys:
            return keys.index(normalize_label(value))
    raise AnnotationError(f'{where}: answer {value!r} is not among the candidates '
                          f'({"; ".join(labels)}); give one of their labels or a 0-based index.')


def _with_answer_details(candidates: tuple[Action, ...], answer: int, entry: dict,
                         where: str) -> tuple[Action, ...]:
    """Put the point's ``verb`` / ``noun`` on the answer candidate."""
    action = candidates[answer]
    changes = {}
    for field in ('verb', 'noun'):
        if field not in entry:
            continue
        value = _text(entry[field], field, where)
        current = getattr(action, field)
        if current and current != value:
            raise AnnotationError(f'{where}: {field} {value!r} contradicts the answer\'s '
                                  f'{field} {current!r}.')
        changes[field] = value
    if not changes:
        return candidates
    return candidates[:answer] + (dataclasses.replace(action, **changes),) + \
        candidates[answer + 1:]


def _library(value: object, path: Path) -> ActionLibrary | None:
    if value is None:
        return None
    file = path.parent / _text(value, 'actions_file', str(path))
    try:
        return ActionLibrary.from_yaml(file)
    except ActionLibraryError as exc:
        raise AnnotationError(f'{path}: actions_file: {exc}') from None


def _check_unique_ids(points: tuple[DecisionPoint, ...], where: str) -> None:
    first: dict[str, DecisionPoint] = {}
    for point in points:
        if point.item_id in first:
            raise AnnotationError(
                f'{where}: decision points #{first[point.item_id].index} and #{point.index} '
                f'have the same id {point.item_id!r}; ids must be unique.')
        first[point.item_id] = point


def _check_keys(mapping: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in mapping if k not in allowed)
    if unknown:
        raise AnnotationError(f'{where}: unknown keys {", ".join(unknown)}; allowed are '
                              f'{", ".join(allowed)}.')


def _text(value: object, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnnotationError(f'{where}: "{key}" must be a non-empty text, got {value!r}.')
    return value.strip()


def _optional_text(value: object, key: str, where: str) -> str | None:
    return None if value is None else _text(value, key, where)


def _flag(value: object, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise AnnotationError(f'{where}: "{key}" must be true or false, got {value!r}.')
    return value
