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

"""The fixed action library the planner chooses from.

An action library is a YAML file::

    name: tabletop
    actions:
      - label: pick up the red block     # what the planner publishes, exactly
        verb: pick                       # optional, for verb/noun accuracy and simulators
        noun: red block
        description: ...                 # optional, free text for people

Labels are unique (compared without case or surrounding blanks) and are the only strings the
planner may ever publish on its ``action`` topic.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator, Sequence

import yaml

from vlm_planner.errors import ActionLibraryError, UnknownActionError


@dataclasses.dataclass(frozen=True)
class Action:
    """One entry of the action library."""

    label: str
    verb: str = ''
    noun: str = ''
    description: str = ''


def normalize_label(text: str) -> str:
    """Return the form labels are compared in: lower case, single spaces, no end punctuation."""
    return ' '.join(text.lower().strip().rstrip('.').split())


class ActionLibrary:
    """An ordered, validated set of actions with lookup by label."""

    def __init__(self, actions: Sequence[Action], name: str = 'actions') -> None:
        if not actions:
            raise ActionLibraryError(
                f'action library {name!r} has no actions: list at least one under "actions:".')
        self.name = name
        self._actions = tuple(actions)
        self._index: dict[str, int] = {}
        for i, action in enumerate(self._actions):
            key = normalize_label(action.label)
            if not key:
                raise ActionLibraryError(
                    f'action library {name!r}: action #{i + 1} has an empty label; '
                    'give it a label.')
            if key in self._index:
                raise ActionLibraryError(
                    f'action library {name!r}: label {action.label!r} appears twice; '
                    'labels must be unique.')
            self._index[key] = i

    @classmethod
    def from_yaml(cls, path: str | Path) -> 'ActionLibrary':
        """Load a library from a YAML file (format in the module docstring)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding='utf-8'))
        except FileNotFoundError:
            raise ActionLibraryError(
                f'action library file {path} does not exist; set the "actions_file" parameter '
                'to a YAML file such as config/actions/tabletop.yaml.') from None
        except yaml.YAMLError as exc:
            raise ActionLibraryError(
                f'action library file {path} is not valid YAML: {exc}') from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: object, source: str = '<dict>') -> 'ActionLibrary':
        """Build a library from the parsed YAML structure."""
        if not isinstance(data, dict) or not isinstance(data.get('actions'), list):
            raise ActionLibraryError(
                f'{source}: expected a mapping with an "actions:" list of entries with a "label".')
        actions = []
        for i, entry in enumerate(data['actions']):
            if isinstance(entry, str):
                entry = {'label': entry}
            if not isinstance(entry, dict) or not isinstance(entry.get('label'), str):
                raise ActionLibraryError(
                    f'{source}: action #{i + 1} needs a text "label" (got {entry!r}).')
            unknown = set(entry) - {f.name for f in dataclasses.fields(Action)}
            if unknown:
                raise ActionLibraryError(
                    f'{source}: action #{i + 1} ({entry["label"]!r}) has unknown keys '
                    f'{sorted(unknown)}; allowed are label, verb, noun, description.')
            actions.append(Action(**{k: str(v) for k, v in entry.items()}))
        return cls(actions, name=str(data.get('name', Path(source).stem)))

    def __len__(self) -> int:
        return len(self._actions)

    def __iter__(self) -> Iterator[Action]:
        return iter(self._actions)

    def __getitem__(self, index: int) -> Action:
        return self._actions[index]

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and normalize_label(label) in self._index

    @property
    def labels(self) -> list[str]:
        """All labels in library order."""
        return [a.label for a in self._actions]

    def find(self, label: str) -> Action | None:
        """Return the action whose label matches ``label`` (normalized), or None."""
        i = self._index.get(normalize_label(label))
        return None if i is None else self._actions[i]

    def get(self, label: str) -> Action:
        """Return the action for ``label`` or raise :class:`UnknownActionError`."""
        action = self.find(label)
        if action is None:
            raise UnknownActionError(
                f'{label!r} is not in action library {self.name!r}; '
                f'known actions: {", ".join(self.labels)}.')
        return action

    def index(self, label: str) -> int:
        """Return the position of ``label`` in the library."""
        return self._actions.index(self.get(label))
