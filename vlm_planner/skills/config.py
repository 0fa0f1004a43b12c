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

"""The skills file: how each action label moves the arm and the gripper.

A skills file is a YAML file (full description in docs/arm.md)::

    arm:
      joints:                  # order = order in trajectories
        - {name: shoulder_pan_joint, min: -6.28, max: 6.28, max_velocity: 1.0, tolerance: 0.02}
    gripper:                   # optional
      joints:
        - {name: finger_joint, min: 0.0, max: 0.04, max_velocity: 0.05, tolerance: 0.002}
      open: [0.04]             # one value per gripper joint
      closed: [0.0]
      command: trajectory      # or forward (default trajectory)
    timeouts:
      margin: 2.0              # optional (default 2.0 s)
    poses:
      home: [0.0, -1.57, 1.57, -1.57, -1.57, 0.0]
    skills:
      pick up the red block:
        - {pose: home, duration: 1.5}
        - {gripper: open}
        - {joints: [-0.6, -0.9, 1.9, -2.6, -1.57, -0.3], duration: 1.0}
        - {gripper: close}

:func:`load_skills` reads and checks it completely (unknown keys, types, limits, poses, and
optionally that the skills cover exactly the labels of an action library), so that a robot never
starts a skill that fails half-way for a typo. Every problem raises :class:`SkillsError` with a
message that names the file, the skill and the field, and says how to fix it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from pathlib import Path
from typing import Any, Mapping, Sequence, TypeAlias

import yaml

from vlm_planner.core.actions import ActionLibrary, normalize_label
from vlm_planner.errors import ConfigError

#: The two ways the bridge commands a gripper (see :attr:`Skills.gripper_command`).
GRIPPER_COMMANDS = ('trajectory', 'forward')
#: Seconds a step may take beyond its planned duration when ``timeouts.margin`` is not given.
DEFAULT_MARGIN = 2.0

_TOP_KEYS = ('arm', 'gripper', 'timeouts', 'poses', 'skills')
_ARM_KEYS = ('joints',)
_GRIPPER_KEYS = ('joints', 'open', 'closed', 'command')
_TIMEOUT_KEYS = ('margin',)
_JOINT_KEYS = ('name', 'min', 'max', 'max_velocity', 'tolerance')
_STEP_KEYS = ('pose', 'joints', 'gripper', 'duration')
_TARGET_KEYS = ('pose', 'joints', 'gripper')
_GRIPPER_WORDS = ('open', 'close')


class SkillsError(ConfigError):
    """The skills file is missing, malformed, or does not fit the action library or the arm."""


@dataclasses.dataclass(frozen=True)
class Joint:
    """One joint the skills move, with its limits.

    Attributes:
        name: the joint's name, as the robot reports it in ``joint_states``.
        lower: least position a target may have (``min`` in the file; rad or m).
        upper: greatest position a target may have (``max`` in the file).
        max_velocity: the fastest the planned motion may move the joint (rad/s or m/s), > 0.
        tolerance: how far from its target the joint may end up for a step to succeed, > 0.
    """

    name: str
    lower: float
    upper: float
    max_velocity: float
    tolerance: float


@dataclasses.dataclass(frozen=True)
class ArmStep:
    """A step that moves the arm to joint positions.

    Attributes:
        positions: one target per arm joint, in the order of :attr:`Skills.arm`.
        duration: the requested duration in seconds, or None for as fast as the limits allow.
        name: the pose's name, or ``'joints'`` for literal values.
    """

    positions: tuple[float, ...]
    duration: float | None
    name: str


@dataclasses.dataclass(frozen=True)
class GripperStep:
    """A step that moves the gripper.

    Attributes:
        positions: one target per gripper joint, in the order of :attr:`Skills.gripper`.
        duration: the requested duration in seconds, or None for as fast as the limits allow.
        name: ``'open'``, ``'close'``, or ``'values'`` for literal values.
    """

    positions: tuple[float, ...]
    duration: float | None
    name: str


#: One step of a skill.
Step: TypeAlias = ArmStep | GripperStep


@dataclasses.dataclass(frozen=True)
class Skills:
    """A loaded, validated skills file.

    Attributes:
        path: the file it was loaded from.
        arm: the arm joints, in trajectory order.
        gripper: the gripper joints, in command order; empty without a ``gripper:`` section.
        gripper_command: ``'trajectory'`` (a JointTrajectory to a gripper controller) or
            ``'forward'`` (a Float64MultiArray to a forward command controller); ``'trajectory'``
            when there is no gripper.
        margin: seconds a step may take beyond its planned duration before it fails.
        poses: named arm positions, one value per arm joint.
        skills: the steps of each label, in the file's order and spelling.
    """

    path: str
    arm: tuple[Joint, ...]
    gripper: tuple[Joint, ...]
    gripper_command: str
    margin: float
    poses: dict[str, tuple[float, ...]]
    skills: dict[str, tuple[Step, ...]]

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The arm joint names, in trajectory order."""
        return tuple(j.name for j in self.arm)

    @property
    def gripper_names(self) -> tuple[str, ...]:
        """The gripper joint names, in command order (empty without a gripper)."""
        return tuple(j.name for j in self.gripper)

    def steps(self, label: str) -> tuple[Step, ...]:
        """Return the steps of ``label``, compared as action labels are (case, blanks, final dot).

        Raises:
            SkillsError: if the file has no skill for ``label``; the message lists those it has.
        """
        if label in self.skills:
            return self.skills[label]
        key = normalize_label(label)
        for name, steps in self.skills.items():
            if normalize_label(name) == key:
                return steps
        raise SkillsError(
            f'skills file {self.path} has no skill for {label!r}; it has skills for: '
            f'{", ".join(repr(s) for s in self.skills)}. Add a skill under "skills:".')


def load_skills(path: str | Path, library: ActionLibrary | None = None) -> Skills:
    """Load and validate a skills file.

    Args:
        path: the YAML file (format in the module docstring and docs/arm.md).
        library: when given, the skills must cover exactly its labels: every skill label must
            be in the library, and every library label must have a skill.

    Returns:
        The validated skills.

    Raises:
        SkillsError: if the file is missing or not valid YAML, or any part of it is wrong; the
            message names the file, the skill and the field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise SkillsError(
            f'skills file {path} does not exist; pass the path of a skills file such as '
            'config/skills/tabletop_arm.yaml (the format is in docs/arm.md).') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillsError(f'skills file {path} cannot be read: {exc}') from None
    loader = _UniqueKeyLoader(text)
    loader.name = str(path)  # for the line numbers of syntax errors
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise SkillsError(f'skills file {path} is not valid YAML: {exc}') from None
    finally:
        loader.dispose()
    return _Parser(str(path)).parse(data, library)


def check_joint_names(skills: Skills, names: Sequence[str]) -> None:
    """Check that the robot reports every joint the skills move.

    Args:
        skills: the loaded skills.
        names: the joint names the robot reports (``joint_states.name``).

    Raises:
        SkillsError: if a skills joint is not among ``names``; the message says which are
            missing and which the robot has.
    """
    have = set(names)
    missing = [n for n in skills.arm_names + skills.gripper_names if n not in have]
    if missing:
        raise SkillsError(
            f'the robot reports no joint named {", ".join(missing)} of skills file '
            f'{skills.path}; it reports joints {", ".join(names) or "(none)"}. Rename the '
            'joints in the skills file to the names in joint_states (or add a prefix the '
            'robot description uses).')


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode,
                          deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == 'tag:yaml.org,2002:merge':
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    'while constructing a mapping', node.start_mark,
                    f'found key {key!r} twice; YAML would silently keep only the last one',
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean {close[0]!r}?)' if close else ''


def _values(count: int) -> str:
    return f'{count} value' if count == 1 else f'{count} values'


class _Parser:
    """Turns the parsed YAML into :class:`Skills`, with messages that name the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, where: str, message: str) -> SkillsError:
        return SkillsError(f'skills file {self.path}: {where}: {message}')

    def mapping(self, value: object, where: str, allowed: Sequence[str],
                required: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f'expected a mapping with keys {", ".join(allowed)} '
                             f'(got {value!r}).')
        unknown = [k for k in value if k not in allowed]
        if unknown:
            key = unknown[0]
            raise self.error(where, f'unknown key {key!r}{_suggest(str(key), allowed)}; allowed '
                             f'keys are {", ".join(allowed)}.')
        missing = [k for k in required if k not in value]
        if missing:
            raise self.error(where, f'missing key {missing[0]!r}; required keys are '
                             f'{", ".join(required)}.')
        return value

    def number(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(where, f'expected a number (got {value!r}).')
        if not math.isfinite(value):
            raise self.error(where, f'expected a finite number (got {value!r}).')
        return float(value)

    def positive(self, value: object, where: str, meaning: str) -> float:
        number = self.number(value, where)
        if number <= 0:
            raise self.error(where, f'must be > 0 (got {value!r}): it is {meaning}.')
        return number

    def joints(self, value: object, where: str) -> tuple[Joint, ...]:
        if not isinstance(value, list) or not value:
            raise self.error(where, 'expected a non-empty list of joints, each '
                             '{name: ..., min: ..., max: ..., max_velocity: ..., tolerance: ...}.')
        joints = []
        for i, entry in enumerate(value):
            here = f'{where}[{i}]'
            if isinstance(entry, dict) and isinstance(entry.get('name'), str):
                here += f' ({entry["name"]})'
            entry = self.mapping(entry, here, _JOINT_KEYS, _JOINT_KEYS)
            name = entry['name']
            if not isinstance(name, str) or not name.strip():
                raise self.error(f'{here}.name', f'expected a joint name (got {name!r}).')
            lower = self.number(entry['min'], f'{here}.min')
            upper = self.number(entry['max'], f'{here}.max')
            if lower >= upper:
                raise self.error(f'{here}.min', f'min {lower:g} must be below max {upper:g}.')
            joints.append(Joint(
                name=name, lower=lower, upper=upper,
                max_velocity=self.positive(entry['max_velocity'], f'{here}.max_velocity',
                                           'the fastest a skill may move the joint (rad/s or '
                                           'm/s)'),
                tolerance=self.positive(entry['tolerance'], f'{here}.tolerance',
                                        'how far from its target the joint may stop (rad or '
                                        'm)')))
        return tuple(joints)

    def values(self, value: object, joints: Sequence[Joint], where: str) -> tuple[float, ...]:
        names = ', '.join(j.name for j in joints)
        if not isinstance(value, list) or len(value) != len(joints):
            count = _values(len(value)) if isinstance(value, list) else repr(value)
            raise self.error(where, f'expected a list of {_values(len(joints))}, one per '
                             f'joint ({names}); got {count}.')
        positions = []
        for joint, item in zip(joints, value):
            number = self.number(item, f'{where} ({joint.name})')
            if number < joint.lower:
                raise self.error(where, f'joint {joint.name}: value {number:g} is below its '
                                 f'min {joint.lower:g}; keep targets within the joint limits.')
            if number > joint.upper:
                raise self.error(where, f'joint {joint.name}: value {number:g} is above its '
                                 f'max {joint.upper:g}; keep targets within the joint limits.')
            positions.append(number)
        return tuple(positions)

    def parse(self, data: object, library: ActionLibrary | None) -> Skills:
        if data is None:
            raise self.error('top level', 'the file is empty; it needs "arm:" and "skills:" '
                             '(the format is in docs/arm.md).')
        top = self.mapping(data, 'top level', _TOP_KEYS, ('arm', 'skills'))
        arm_section = self.mapping(top['arm'], 'arm', _ARM_KEYS, _ARM_KEYS)
        arm = self.joints(arm_section['joints'], 'arm.joints')

        gripper: tuple[Joint, ...] = ()
        command = 'trajectory'
        open_values: tuple[float, ...] = ()
        closed_values: tuple[float, ...] = ()
        if top.get('gripper') is not None:
            section = self.mapping(top['gripper'], 'gripper', _GRIPPER_KEYS,
                                   ('joints', 'open', 'closed'))
            gripper = self.joints(section['joints'], 'gripper.joints')
            open_values = self.values(section['open'], gripper, 'gripper.open')
            closed_values = self.values(section['closed'], gripper, 'gripper.closed')
            command = section.get('command', 'trajectory')
            if command not in GRIPPER_COMMANDS:
                raise self.error('gripper.command', f'expected one of '
                                 f'{", ".join(GRIPPER_COMMANDS)} (got {command!r}).')

        seen: dict[str, str] = {}
        places = [f'arm.joints[{i}]' for i in range(len(arm))] + [
            f'gripper.joints[{i}]' for i in range(len(gripper))]
        for where, joint in zip(places, arm + gripper):
            if joint.name in seen:
                raise self.error(where, f'joint {joint.name!r} appears twice (also at '
                                 f'{seen[joint.name]}); joint names must be unique.')
            seen[joint.name] = where

        margin = DEFAULT_MARGIN
        if top.get('timeouts') is not None:
            timeouts = self.mapping(top['timeouts'], 'timeouts', _TIMEOUT_KEYS, ())
            if 'margin' in timeouts:
                margin = self.positive(timeouts['margin'], 'timeouts.margin',
                                       'the seconds a step may run past its planned duration')

        poses: dict[str, tuple[float, ...]] = {}
        raw_poses = top.get('poses')
        if raw_poses is not None:
            if not isinstance(raw_poses, dict):
                raise self.error('poses', 'expected a mapping of pose names to lists of '
                                 f'{len(arm)} joint values (got {raw_poses!r}).')
            for name, value in raw_poses.items():
                if not isinstance(name, str):
                    raise self.error('poses', f'pose name {name!r} is not text; quote it.')
                poses[name] = self.values(value, arm, f'poses.{name}')

        raw_skills = top['skills']
        if not isinstance(raw_skills, dict) or not raw_skills:
            raise self.error('skills', 'expected a mapping of action labels to lists of steps '
                             f'(got {raw_skills!r}).')
        skills: dict[str, tuple[Step, ...]] = {}
        labels: dict[str, str] = {}
        for label, raw_steps in raw_skills.items():
            if not isinstance(label, str) or not normalize_label(label):
                raise self.error('skills', f'skill label {label!r} is not an action label; '
                                 'quote it.')
            key = normalize_label(label)
            if key in labels:
                raise self.error(f'skill {label!r}', f'the same label as skill '
                                 f'{labels[key]!r}; each label may have one skill.')
            labels[key] = label
            where = f'skill {label!r}'
            if not isinstance(raw_steps, list) or not raw_steps:
                raise self.error(where, 'expected a non-empty list of steps, each with one of '
                                 f'pose, joints or gripper (got {raw_steps!r}).')
            skills[label] = tuple(
                self.step(raw, f'{where}, step {i + 1}', arm, gripper, poses, open_values,
                          closed_values)
                for i, raw in enumerate(raw_steps))

        if library is not None:
            self.check_library(skills, library)
        return Skills(path=self.path, arm=arm, gripper=gripper, gripper_command=command,
                      margin=margin, poses=poses, skills=skills)

    def step(self, raw: object, where: str, arm: tuple[Joint, ...], gripper: tuple[Joint, ...],
             poses: Mapping[str, tuple[float, ...]], open_values: tuple[float, ...],
             closed_values: tuple[float, ...]) -> Step:
        entry = self.mapping(raw, where, _STEP_KEYS, ())
        targets = [k for k in _TARGET_KEYS if k in entry]
        if len(targets) != 1:
            if targets:
                fix = f'it has {" and ".join(targets)}; split it into one step each.'
            else:
                fix = ('it has none; add pose: NAME, joints: [values] or gripper: open, close or '
                       '[values].')
            raise self.error(where, f'a step needs exactly one of pose, joints or gripper; '
                             f'{fix}')
        duration = None
        if entry.get('duration') is not None:
            duration = self.positive(entry['duration'], f'{where}, field "duration"',
                                     'the seconds the step takes at least; leave it out for as '
                                     'fast as max_velocity allows')
        if 'pose' in entry:
            name = entry['pose']
            if not isinstance(name, str) or name not in poses:
                known = ', '.join(poses) if poses else 'none (add a "poses:" section)'
                raise self.error(f'{where}, field "pose"', f'unknown pose {name!r}'
                                 f'{_suggest(str(name), list(poses))}; the poses are {known}.')
            return ArmStep(positions=poses[name], duration=duration, name=name)
        if 'joints' in entry:
            return ArmStep(positions=self.values(entry['joints'], arm, f'{where}, field "joints"'),
                           duration=duration, name='joints')
        here = f'{where}, field "gripper"'
        if not gripper:
            raise self.error(here, 'a gripper step, but the file has no "gripper:" section; add '
                             'one (joints, open, closed) or remove the step.')
        value = entry['gripper']
        if value == 'open':
            return GripperStep(positions=open_values, duration=duration, name='open')
        if value == 'close':
            return GripperStep(positions=closed_values, duration=duration, name='close')
        if isinstance(value, list):
            return GripperStep(positions=self.values(value, gripper, here), duration=duration,
                               name='values')
        hint = _suggest(value, _GRIPPER_WORDS) if isinstance(value, str) else ''
        raise self.error(here, f'expected open, close or a list of {_values(len(gripper))}, '
                         f'one per gripper joint (got {value!r}){hint}.')

    def check_library(self, skills: Mapping[str, tuple[Step, ...]],
                      library: ActionLibrary) -> None:
        unknown = [label for label in skills if label not in library]
        if unknown:
            named = ', '.join(f'{u!r}{_suggest(u, library.labels)}' for u in unknown)
            raise self.error('skills', f'unknown label {named}: not in action library '
                             f'{library.name!r}, whose labels are '
                             f'{", ".join(repr(la) for la in library.labels)}. Use the '
                             'library\'s labels exactly, or add the action to the library.')
        have = {normalize_label(label) for label in skills}
        missing = [la for la in library.labels if normalize_label(la) not in have]
        if missing:
            raise self.error('skills', f'a library label without a skill: '
                             f'{", ".join(repr(m) for m in missing)} of action library '
                             f'{library.name!r}; add a skill for each, since the planner may '
                             'publish any of them.')
