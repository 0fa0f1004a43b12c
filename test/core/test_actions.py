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

"""Tests for the action library."""

from pathlib import Path

import pytest

from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.errors import ActionLibraryError, UnknownActionError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_tabletop_library_loads_with_verbs_and_nouns():
    library = ActionLibrary.from_yaml(REPO / 'config/actions/tabletop.yaml')
    assert library.name == 'tabletop'
    assert len(library) == 8
    assert library.labels[0] == 'pick up the red block'
    assert all(a.verb and a.noun for a in library)


def test_lookup_is_case_and_space_insensitive_but_returns_canonical_label():
    library = ActionLibrary([Action('Pick up the red block'), Action('done')])
    assert '  pick UP the  red block. ' in library
    assert library.get('pick up the red block').label == 'Pick up the red block'
    assert library.index('DONE') == 1
    assert 'pick up the blue block' not in library
    assert 42 not in library


def test_unknown_label_error_lists_known_actions():
    library = ActionLibrary([Action('a'), Action('b')])
    with pytest.raises(UnknownActionError, match=r"'c' is not in .*known actions: a, b"):
        library.get('c')


@pytest.mark.parametrize('data, message', [
    ({'actions': []}, 'has no actions'),
    ({'actions': [{'label': 'x'}, {'label': 'X '}]}, 'appears twice'),
    ({'actions': [{'verb': 'pick'}]}, 'needs a text "label"'),
    ({'actions': [{'label': 'x', 'colour': 'red'}]}, 'unknown keys'),
    ({'actions': [{'label': '  '}]}, 'empty label'),
    (['x'], 'expected a mapping'),
])
def test_malformed_libraries_are_rejected_with_a_reason(data, message):
    with pytest.raises(ActionLibraryError, match=message):
        ActionLibrary.from_dict(data)


def test_plain_string_entries_are_accepted():
    assert ActionLibrary.from_dict({'actions': ['open door', 'close door']}).labels == [
        'open door', 'close door']


def test_missing_and_invalid_files_name_the_file(tmp_path):
    with pytest.raises(ActionLibraryError, match='does not exist.*actions_file'):
        ActionLibrary.from_yaml(tmp_path / 'nope.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('actions: [unclosed')
    with pytest.raises(ActionLibraryError, match='bad.yaml is not valid YAML'):
        ActionLibrary.from_yaml(bad)
