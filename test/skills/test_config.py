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

"""The skills file: the shipped example fits the library; every mistake gets a clear message."""

from __future__ import annotations

import ast
import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from vlm_planner.config_paths import default_actions_file, find_config_file
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.errors import ConfigError
from vlm_planner.skills.config import (ArmStep, check_joint_names, DEFAULT_MARGIN, GripperStep,
                                       Joint, load_skills, Skills, SkillsError)

REPO = Path(__file__).resolve().parents[2]
ARM = ['j1', 'j2', 'j3']
LIBRARY = ActionLibrary([Action('pick up the red block'), Action('put it down')], name='mini')


def valid() -> dict[str, Any]:
    """A small, valid skills file as parsed YAML: 3 arm joints, a 1-joint gripper, 2 skills."""
    return {
        'arm': {'joints': [
            {'name': name, 'min': -3.0, 'max': 3.0, 'max_velocity': 1.0, 'tolerance': 0.02}
            for name in ARM]},
        'gripper': {
            'joints': [{'name': 'finger', 'min': 0.0, 'max': 0.04, 'max_velocity': 0.05,
                        'tolerance': 0.002}],
            'open': [0.04], 'closed': [0.0], 'command': 'forward'},
        'timeouts': {'margin': 1.5},
        'poses': {'home': [0.0, 0.0, 0.0], 'above': [0.5, -1.0, 1.5]},
        'skills': {
            'pick up the red block': [
                {'gripper': 'open'},
                {'pose': 'above', 'duration': 1.5},
                {'joints': [0.5, -0.5, 2.0], 'duration': 1},
                {'gripper': 'close'},
                {'pose': 'home'}],
            'put it down': [
                {'gripper': [0.02], 'duration': 0.4},
                {'pose': 'home'}]},
    }


def write(tmp_path: Path, data: object, name: str = 'skills.yaml') -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding='utf-8')
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding='utf-8')
    return path


def error_of(tmp_path: Path, data: object, library: ActionLibrary | None = None) -> str:
    """Load ``data`` (a dict to dump, or YAML text) and return the SkillsError's message."""
    path = write(tmp_path, data)
    with pytest.raises(SkillsError) as caught:
        load_skills(path, library)
    message = str(caught.value)
    assert str(path) in message, f'the message does not name the file: {message}'
    return message


def changed(change) -> dict[str, Any]:
    data = copy.deepcopy(valid())
    change(data)
    return data


# The shipped example.

def test_the_shipped_example_loads_with_the_shipped_library_and_covers_every_label():
    library = ActionLibrary.from_yaml(default_actions_file())
    path = find_config_file('skills/tabletop_arm.yaml')
    skills = load_skills(path, library)
    assert skills.arm_names == ('shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint',
                                'wrist_1_joint', 'wrist_2_joint', 'wrist_3_joint')
    assert len(skills.gripper_names) == 1 and skills.gripper_command == 'trajectory'
    for label in library.labels:
        steps = skills.steps(label)
        assert steps, label
        for step in steps:
            joints = skills.arm if isinstance(step, ArmStep) else skills.gripper
            assert len(step.positions) == len(joints)
            assert all(j.lower <= q <= j.upper for j, q in zip(joints, step.positions))
    assert sorted(skills.skills) == sorted(library.labels)
    # It shows every kind of step.
    kinds = {(type(s).__name__, s.name if s.name in ('open', 'close', 'values', 'joints')
              else 'pose') for steps in skills.skills.values() for s in steps}
    assert kinds == {('ArmStep', 'pose'), ('ArmStep', 'joints'), ('GripperStep', 'open'),
                     ('GripperStep', 'close'), ('GripperStep', 'values')}


def test_a_valid_file_loads_into_frozen_dataclasses(tmp_path):
    skills = load_skills(str(write(tmp_path, valid())), LIBRARY)
    assert isinstance(skills, Skills) and skills.path == str(tmp_path / 'skills.yaml')
    assert skills.arm[0] == Joint('j1', -3.0, 3.0, 1.0, 0.02)
    assert skills.arm_names == ('j1', 'j2', 'j3') and skills.gripper_names == ('finger',)
    assert skills.gripper_command == 'forward' and skills.margin == 1.5
    assert skills.poses == {'home': (0.0, 0.0, 0.0), 'above': (0.5, -1.0, 1.5)}
    assert skills.steps('pick up the red block') == (
        GripperStep((0.04,), None, 'open'),
        ArmStep((0.5, -1.0, 1.5), 1.5, 'above'),
        ArmStep((0.5, -0.5, 2.0), 1.0, 'joints'),
        GripperStep((0.0,), None, 'close'),
        ArmStep((0.0, 0.0, 0.0), None, 'home'))
    assert skills.steps('put it down')[0] == GripperStep((0.02,), 0.4, 'values')
    assert all(isinstance(q, float) for q in skills.steps('pick up the red block')[2].positions)
    with pytest.raises(dataclasses.FrozenInstanceError):
        skills.margin = 3.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        skills.arm[0].tolerance = 1.0  # type: ignore[misc]


def test_optional_sections_have_defaults(tmp_path):
    def strip(data):
        del data['gripper'], data['timeouts'], data['poses']
        data['skills'] = {'put it down': [{'joints': [0, 0, 0]}]}
    skills = load_skills(write(tmp_path, changed(strip)))
    assert skills.gripper == () and skills.gripper_names == ()
    assert skills.margin == DEFAULT_MARGIN == 2.0 and skills.gripper_command == 'trajectory'
    assert skills.poses == {}

    def no_command(data):
        del data['gripper']['command']
    assert load_skills(write(tmp_path, changed(no_command))).gripper_command == 'trajectory'


def test_steps_matches_labels_like_the_library_and_lists_the_labels_for_an_unknown_one(tmp_path):
    skills = load_skills(write(tmp_path, valid()))
    assert skills.steps('  Pick up the RED block.') == skills.steps('pick up the red block')
    with pytest.raises(SkillsError) as caught:
        skills.steps('wave')
    message = str(caught.value)
    assert "'wave'" in message and str(tmp_path / 'skills.yaml') in message
    assert "'pick up the red block'" in message and "'put it down'" in message


def test_skills_error_is_a_config_error():
    assert issubclass(SkillsError, ConfigError)


# Reading the file.

def test_a_missing_file(tmp_path):
    path = tmp_path / 'nope.yaml'
    with pytest.raises(SkillsError, match='does not exist') as caught:
        load_skills(path)
    assert str(path) in str(caught.value) and 'docs/arm.md' in str(caught.value)


def test_a_yaml_syntax_error(tmp_path):
    message = error_of(tmp_path, 'arm:\n  joints: [\n  - {name: a\n')
    assert 'not valid YAML' in message and 'line' in message


def test_a_key_given_twice_is_an_error_not_silently_the_last(tmp_path):
    text = yaml.safe_dump(valid(), sort_keys=False).replace(
        'skills:\n', 'skills:\n  put it down:\n  - pose: home\n', 1)
    message = error_of(tmp_path, text)
    assert "'put it down' twice" in message


@pytest.mark.parametrize('text', ['', '# nothing\n', '[1, 2]\n'])
def test_an_empty_or_non_mapping_file(tmp_path, text):
    message = error_of(tmp_path, text)
    assert 'arm' in message and 'skills' in message


# Keys.

@pytest.mark.parametrize('section, key', [
    (None, 'skils'), ('arm', 'joint'), ('gripper', 'opened'), ('timeouts', 'margn')])
def test_unknown_keys_at_any_level(tmp_path, section, key):
    def add(data):
        (data if section is None else data[section])[key] = 1
    message = error_of(tmp_path, changed(add))
    assert f'unknown key {key!r}' in message and 'did you mean' in message
    if section is not None:
        assert section in message


def test_an_unknown_key_in_a_joint_names_the_joint(tmp_path):
    def add(data):
        data['arm']['joints'][1]['max_vel'] = 1.0
    message = error_of(tmp_path, changed(add))
    assert 'arm.joints[1] (j2)' in message and "unknown key 'max_vel'" in message
    assert "did you mean 'max_velocity'" in message


def test_an_unknown_key_in_a_step_names_the_label_and_step(tmp_path):
    def add(data):
        data['skills']['put it down'][1]['duraton'] = 1.0
    message = error_of(tmp_path, changed(add))
    assert "skill 'put it down', step 2" in message and "unknown key 'duraton'" in message
    assert "did you mean 'duration'" in message


@pytest.mark.parametrize('key', ['arm', 'skills'])
def test_missing_top_level_keys(tmp_path, key):
    def remove(data):
        del data[key]
    assert f"missing key {key!r}" in error_of(tmp_path, changed(remove))


@pytest.mark.parametrize('key', ['joints', 'open', 'closed'])
def test_missing_gripper_keys(tmp_path, key):
    def remove(data):
        del data['gripper'][key]
    message = error_of(tmp_path, changed(remove))
    assert 'gripper' in message and f'missing key {key!r}' in message


# Joints.

@pytest.mark.parametrize('field', ['name', 'min', 'max', 'max_velocity', 'tolerance'])
def test_a_missing_joint_field(tmp_path, field):
    def remove(data):
        del data['arm']['joints'][2][field]
    message = error_of(tmp_path, changed(remove))
    assert 'arm.joints[2]' in message and f'missing key {field!r}' in message


@pytest.mark.parametrize('field, value', [
    ('min', 'low'), ('max', None), ('max_velocity', True), ('tolerance', [0.1]),
    ('min', float('nan')), ('max', float('inf')), ('name', 3), ('name', '  ')])
def test_a_joint_field_of_the_wrong_type(tmp_path, field, value):
    def set_field(data):
        data['arm']['joints'][0][field] = value
    message = error_of(tmp_path, changed(set_field))
    assert 'arm.joints[0]' in message and f'.{field}' in message


@pytest.mark.parametrize('low, high', [(1.0, 1.0), (2.0, -2.0)])
def test_min_must_be_below_max(tmp_path, low, high):
    def set_limits(data):
        data['gripper']['joints'][0].update({'min': low, 'max': high})
    message = error_of(tmp_path, changed(set_limits))
    assert 'gripper.joints[0] (finger).min' in message and 'must be below max' in message


@pytest.mark.parametrize('field', ['max_velocity', 'tolerance'])
@pytest.mark.parametrize('value', [0, -0.5])
def test_velocity_and_tolerance_must_be_positive(tmp_path, field, value):
    def set_field(data):
        data['arm']['joints'][1][field] = value
    message = error_of(tmp_path, changed(set_field))
    assert f'arm.joints[1] (j2).{field}' in message and 'must be > 0' in message


def test_an_empty_joint_list(tmp_path):
    def empty(data):
        data['arm']['joints'] = []
    assert 'arm.joints' in error_of(tmp_path, changed(empty))


def test_duplicate_joint_names_within_the_arm_and_across_arm_and_gripper(tmp_path):
    def twice(data):
        data['arm']['joints'][2]['name'] = 'j1'
    message = error_of(tmp_path, changed(twice))
    assert "'j1' appears twice" in message and 'arm.joints' in message

    def shared(data):
        data['gripper']['joints'][0]['name'] = 'j3'
    message = error_of(tmp_path, changed(shared))
    assert "'j3' appears twice" in message and 'gripper.joints' in message


# Poses and targets.

@pytest.mark.parametrize('values', [[0.0, 0.0], [0.0, 0.0, 0.0, 0.0], 'home', 1.0])
def test_a_pose_with_the_wrong_number_of_values(tmp_path, values):
    def set_pose(data):
        data['poses']['home'] = values
    message = error_of(tmp_path, changed(set_pose))
    assert 'poses.home' in message and 'expected a list of 3 values' in message
    assert 'j1, j2, j3' in message


def test_a_joints_step_with_the_wrong_number_of_values(tmp_path):
    def set_step(data):
        data['skills']['pick up the red block'][2]['joints'] = [0.1, 0.2]
    message = error_of(tmp_path, changed(set_step))
    assert "skill 'pick up the red block', step 3" in message and '"joints"' in message
    assert 'expected a list of 3 values' in message and 'got 2 values' in message


def test_a_pose_value_outside_the_joint_limits_names_joint_value_and_limit(tmp_path):
    def set_pose(data):
        data['poses']['above'][1] = -3.5
    message = error_of(tmp_path, changed(set_pose))
    assert 'poses.above' in message and 'joint j2' in message
    assert '-3.5 is below its min -3' in message


def test_a_joints_step_outside_the_limits(tmp_path):
    def set_step(data):
        data['skills']['pick up the red block'][2]['joints'] = [0.0, 0.0, 3.25]
    message = error_of(tmp_path, changed(set_step))
    assert "skill 'pick up the red block', step 3" in message and '"joints"' in message
    assert 'joint j3' in message and '3.25 is above its max 3' in message


def test_a_non_number_target(tmp_path):
    def set_step(data):
        data['skills']['pick up the red block'][2]['joints'] = [0.0, 'x', 0.0]
    message = error_of(tmp_path, changed(set_step))
    assert 'step 3' in message and '(j2)' in message and 'expected a number' in message


def test_a_step_naming_an_unknown_pose(tmp_path):
    def set_step(data):
        data['skills']['put it down'][1]['pose'] = 'hom'
    message = error_of(tmp_path, changed(set_step))
    assert "skill 'put it down', step 2" in message and '"pose"' in message
    assert "unknown pose 'hom'" in message and "did you mean 'home'" in message
    assert 'home, above' in message


def test_a_pose_step_without_poses(tmp_path):
    def remove(data):
        del data['poses']
    message = error_of(tmp_path, changed(remove))
    assert "unknown pose 'above'" in message and 'add a "poses:" section' in message


# Gripper.

def test_a_gripper_step_without_a_gripper_section(tmp_path):
    def remove(data):
        del data['gripper']
    message = error_of(tmp_path, changed(remove))
    assert "skill 'pick up the red block', step 1" in message and '"gripper"' in message
    assert 'no "gripper:" section' in message


@pytest.mark.parametrize('key, value, words', [
    ('open', [0.05], ['gripper.open', 'joint finger', '0.05 is above its max 0.04']),
    ('closed', [-0.01], ['gripper.closed', 'joint finger', '-0.01 is below its min 0']),
    ('open', [0.04, 0.04], ['gripper.open', 'expected a list of 1 value'])])
def test_gripper_open_and_closed_must_fit_the_gripper_joints(tmp_path, key, value, words):
    def set_value(data):
        data['gripper'][key] = value
    message = error_of(tmp_path, changed(set_value))
    assert all(w in message for w in words), message


@pytest.mark.parametrize('value, words', [
    ('closed', ['expected open, close', "did you mean 'close'"]),
    ([0.1], ['joint finger', '0.1 is above its max 0.04']),
    ([0.01, 0.01], ['expected a list of 1 value']),
    (1, ['expected open, close'])])
def test_a_bad_gripper_step(tmp_path, value, words):
    def set_step(data):
        data['skills']['put it down'][0]['gripper'] = value
    message = error_of(tmp_path, changed(set_step))
    assert "skill 'put it down', step 1" in message and '"gripper"' in message
    assert all(w in message for w in words), message


def test_an_unknown_gripper_command(tmp_path):
    def set_command(data):
        data['gripper']['command'] = 'action'
    message = error_of(tmp_path, changed(set_command))
    assert 'gripper.command' in message and 'trajectory, forward' in message


# Steps.

@pytest.mark.parametrize('step, found', [
    ({'pose': 'home', 'joints': [0, 0, 0]}, 'it has pose and joints'),
    ({'pose': 'home', 'gripper': 'open'}, 'it has pose and gripper'),
    ({'duration': 1.0}, 'it has none'),
    ({}, 'it has none')])
def test_a_step_needs_exactly_one_target(tmp_path, step, found):
    def set_step(data):
        data['skills']['put it down'][1] = step
    message = error_of(tmp_path, changed(set_step))
    assert "skill 'put it down', step 2" in message and found in message
    assert 'exactly one of pose, joints or gripper' in message


@pytest.mark.parametrize('duration, words', [
    (0, 'must be > 0'), (-1.5, 'must be > 0'), ('fast', 'expected a number'),
    (float('inf'), 'finite')])
def test_a_step_duration_must_be_a_positive_number(tmp_path, duration, words):
    def set_step(data):
        data['skills']['pick up the red block'][1]['duration'] = duration
    message = error_of(tmp_path, changed(set_step))
    assert "skill 'pick up the red block', step 2" in message and '"duration"' in message
    assert words in message


@pytest.mark.parametrize('steps', [[], None, 'home', {'pose': 'home'}])
def test_a_skill_needs_a_list_of_steps(tmp_path, steps):
    def set_steps(data):
        data['skills']['put it down'] = steps
    message = error_of(tmp_path, changed(set_steps))
    assert "skill 'put it down'" in message and 'non-empty list of steps' in message


def test_a_step_that_is_not_a_mapping(tmp_path):
    def set_step(data):
        data['skills']['put it down'][1] = 'home'
    message = error_of(tmp_path, changed(set_step))
    assert "skill 'put it down', step 2" in message and 'expected a mapping' in message


@pytest.mark.parametrize('skills', [{}, [], None])
def test_no_skills(tmp_path, skills):
    def set_skills(data):
        data['skills'] = skills
    assert 'skills: expected a mapping of action labels' in error_of(tmp_path, changed(set_skills))


def test_two_skills_for_the_same_label(tmp_path):
    def add(data):
        data['skills']['Put it down.'] = [{'pose': 'home'}]
    message = error_of(tmp_path, changed(add))
    assert "skill 'Put it down.'" in message and "same label as skill 'put it down'" in message


def test_margin_must_be_positive(tmp_path):
    def set_margin(data):
        data['timeouts']['margin'] = 0
    message = error_of(tmp_path, changed(set_margin))
    assert 'timeouts.margin' in message and 'must be > 0' in message


# The action library.

def test_a_skill_label_not_in_the_library(tmp_path):
    def add(data):
        data['skills']['pick up red block'] = [{'pose': 'home'}]
        data['skills']['dance'] = [{'pose': 'home'}]
    message = error_of(tmp_path, changed(add), LIBRARY)
    assert "unknown label 'pick up red block'" in message and "'dance'" in message
    assert "did you mean 'pick up the red block'" in message and "'mini'" in message
    # Without a library any label goes.
    assert 'dance' in load_skills(write(tmp_path, changed(add))).skills


def test_library_labels_without_a_skill_are_listed_in_one_message(tmp_path):
    library = ActionLibrary([Action('pick up the red block'), Action('put it down'),
                             Action('wave'), Action('Bow.')], name='big')
    message = error_of(tmp_path, valid(), library)
    assert "a library label without a skill: 'wave', 'Bow.'" in message
    assert "'big'" in message


def test_library_labels_match_without_case_or_final_dot(tmp_path):
    library = ActionLibrary([Action('Pick up the red block.'), Action('PUT IT DOWN')])
    assert len(load_skills(write(tmp_path, valid()), library).skills) == 2


# The robot's joint names.

def test_check_joint_names_accepts_extra_joints_and_names_the_missing_ones(tmp_path):
    skills = load_skills(write(tmp_path, valid()))
    check_joint_names(skills, ['x', 'finger', 'j3', 'j2', 'j1'])
    with pytest.raises(SkillsError) as caught:
        check_joint_names(skills, ['j1', 'j2', 'ur_j3'])
    message = str(caught.value)
    assert 'no joint named j3, finger' in message and 'reports joints j1, j2, ur_j3' in message
    assert str(tmp_path / 'skills.yaml') in message
    with pytest.raises(SkillsError, match=r'reports joints \(none\)'):
        check_joint_names(skills, [])


def test_the_skills_package_never_imports_rclpy():
    for path in (REPO / 'vlm_planner' / 'skills').glob('*.py'):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or '']
            else:
                continue
            assert not any(n.split('.')[0] == 'rclpy' for n in names), path
