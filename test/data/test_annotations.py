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

"""Tests of the annotation file format and its validation."""

from __future__ import annotations

import json

import pytest
import yaml

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import Action
from vlm_planner.data.annotations import load_annotation
from vlm_planner.errors import AnnotationError


def point(**fields):
    entry = {'time': 1.0, 'goal': 'put the red block in the bin',
             'candidates': ['pick up the red block', 'pick up the blue block'],
             'answer': 'pick up the red block'}
    entry.update(fields)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.fixture
def write(tmp_path):
    """Write an annotation file next to an (empty) bag folder and return its path."""
    (tmp_path / 'run1').mkdir()

    def _write(points, suffix='.yaml', **top):
        data = {'bag': 'run1', 'decision_points': points, **top}
        path = tmp_path / f'notes{suffix}'
        path.write_text(json.dumps(data) if suffix == '.json' else yaml.safe_dump(data))
        return path
    return _write


@pytest.mark.parametrize('suffix', ['.yaml', '.json'])
def test_valid_file_round_trip(write, tmp_path, suffix):
    actions = tmp_path / 'actions.yaml'
    actions.write_text(default_actions_file().read_text())
    path = write([
        point(id='first', candidates=['Pick up the red block.', 'put the held block in the bin'],
              answer=0),
        point(time=2.5, answer='PICK UP THE BLUE BLOCK', task='blue',
              candidates=[{'label': 'pick up the red block'}, 'pick up the blue block']),
        point(time=100.25, time_is_absolute=True, answer=1, verb='pick', noun='blue block',
              candidates=[{'label': 'wait'}, {'label': 'grab blue'}],
              scene='red block: the gripper; blue block: table slot 1'),
    ], suffix, topic='/camera/image_raw', actions_file='actions.yaml', task='tabletop')
    notes = load_annotation(path)
    assert notes.bag == tmp_path / 'run1' and notes.topic == '/camera/image_raw'
    assert notes.task == 'tabletop'
    first, second, third = notes.decision_points
    assert (first.item_id, first.index, first.time, first.answer) == ('first', 0, 1.0, 0)
    # Labels from the library come with its verb and noun, in the library's spelling.
    assert first.candidates[0] == Action('pick up the red block', 'pick', 'red block')
    assert first.task == 'tabletop' and str(first) == "decision point 'first' (#0)"
    assert (second.item_id, second.answer, second.task) == ('1', 1, 'blue')
    assert second.candidates[0] == Action('pick up the red block')  # a mapping stays as given
    assert third.time_is_absolute and not first.time_is_absolute
    assert third.candidates[1] == Action('grab blue', 'pick', 'blue block')
    assert str(third) == 'decision point (#2)'
    assert third.scene == 'red block: the gripper; blue block: table slot 1'
    assert first.scene == second.scene == ''
    assert notes.decision_times(99.0, 110.0) == [100.0, 101.5, 100.25]


def test_default_task_is_the_file_name(write):
    assert load_annotation(write([point()])).decision_points[0].task == 'notes'


@pytest.mark.parametrize('points, top, message', [
    ([point(answer='put the held block in the bin')], {},
     r"decision point \(#0\): answer 'put the held block in the bin' is not among the "
     r'candidates \(pick up the red block; pick up the blue block\)'),
    ([point(answer=2)], {}, r'answer index 2 is not among the 2 candidates'),
    ([point(id='a'), point(id='a')], {}, r"decision points #0 and #1 have the same id 'a'"),
    ([point(id=1), point()], {}, r"decision points #0 and #1 have the same id '1'"),
    ([point(id='x', colour='red')], {}, r"decision point 'x' \(#0\): unknown keys colour"),
    ([point()], {'camera': '/c'}, r'notes.yaml: unknown keys camera; allowed are bag, topic'),
    ([point(time=-1.0)], {}, r'time -1.0 is before the start of the recording'),
    ([point(time='soon')], {}, r'"time" must be a number of seconds'),
    ([point(goal='')], {}, r'"goal" must be a non-empty text'),
    ([point(scene=3)], {}, r'"scene" must be a non-empty text'),
    ([point(candidates=['only one'])], {}, r'"candidates" must list at least two actions'),
    ([point(candidates=['a', 'A.'], answer=0)], {}, r"candidate 'A.' is listed twice"),
    ([point(candidates=['a', {'label': 'b', 'size': 3}], answer=0)], {},
     r'candidate #1: unknown keys size'),
    ([point(time_is_absolute='yes')], {}, r'"time_is_absolute" must be true or false'),
    ([point(verb='put')], {'actions_file': 'actions.yaml'},
     r"verb 'put' contradicts the answer's verb 'pick'"),
    ([point(candidates=['pick up the red block', 'fly away'], answer=0)],
     {'actions_file': 'actions.yaml'},
     r"candidate 'fly away' is not in action library 'tabletop'"),
    ([], {}, r'"decision_points" must be a non-empty list'),
    ([point()], {'bag': 'run2'}, r'bag .*run2 does not exist'),
    ([point()], {'actions_file': 'missing.yaml'},
     r'actions_file: action library file .* does not'),
])
def test_validation_errors_name_file_and_point(write, tmp_path, points, top, message):
    (tmp_path / 'actions.yaml').write_text(default_actions_file().read_text())
    path = write(points, **top)
    with pytest.raises(AnnotationError, match=message) as err:
        load_annotation(path)
    assert str(err.value).startswith(str(path))


def test_file_errors(tmp_path):
    with pytest.raises(AnnotationError, match='missing.yaml does not exist'):
        load_annotation(tmp_path / 'missing.yaml')
    (tmp_path / 'bad.json').write_text('{"bag": ')
    with pytest.raises(AnnotationError, match='bad.json is not valid JSON'):
        load_annotation(tmp_path / 'bad.json')
    (tmp_path / 'list.yaml').write_text('- 1\n')
    with pytest.raises(AnnotationError, match='expected a mapping with "bag"'):
        load_annotation(tmp_path / 'list.yaml')


def test_points_outside_the_recording(write):
    notes = load_annotation(write([point(id='late', time=5.0), point(id='ok', time=0.0)]))
    assert notes.decision_times(10.0, 15.0) == [15.0, 10.0]
    with pytest.raises(AnnotationError,
                       match=r"notes.yaml: decision point 'late' \(#0\) at time 5.0 s points "
                             r'outside the recording .*run1 \(0 to 4.000 s after its first'):
        notes.decision_times(10.0, 14.0)
    early = load_annotation(write([point(time=9.5, time_is_absolute=True)]))
    with pytest.raises(AnnotationError, match=r'\(#0\) at time 9.5 s points outside the '
                                              r'recording .* \(frame stamps 10.000 to 14.000 s\)'):
        early.decision_times(10.0, 14.0)
