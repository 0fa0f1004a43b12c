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

"""Parameter tables: one declaration per parameter, shared by the ROS nodes, the CLI and the docs.

Each node lists its parameters as :class:`Param` rows; :func:`complete` validates a set of values
against such a table (type, range, choices) and the README tables come from
:func:`markdown_table`, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping

import yaml

from vlm_planner.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter: name, default (its type is the parameter's type), meaning and limits."""

    name: str
    default: Any
    description: str
    dynamic: bool = False  # may be changed while the node runs
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # exclusive lower bound
    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise :class:`ConfigError`."""
        expected = type(self.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(f'parameter {self.name} must be a {expected.__name__} like '
                              f'{self.default!r}, got {value!r}.')
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f'parameter {self.name} must be a finite number, got {value}.')
        if self.choices and value not in self.choices:
            raise ConfigError(f'parameter {self.name} is {value!r}; choose one of '
                              f'{", ".join(self.choices)}.')
        if ((self.minimum is not None and value < self.minimum)
                or (self.maximum is not None and value > self.maximum)
                or (self.above is not None and value <= self.above)):
            raise ConfigError(f'parameter {self.name} must be {self.limits}, got {value}.')
        return value

    @property
    def limits(self) -> str:
        """The allowed range in words ('' when unbounded)."""
        low = (f'> {self.above}' if self.above is not None
               else f'>= {self.minimum}' if self.minimum is not None else '')
        high = f'<= {self.maximum}' if self.maximum is not None else ''
        return ' and '.join(p for p in (low, high) if p)


def complete(params: Iterable[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """Return every parameter's value (``values`` over the defaults), each checked.

    Raises:
        ConfigError: an unknown name, or a value of the wrong type or out of range.
    """
    table = {p.name: p for p in params}
    unknown = set(values) - set(table)
    if unknown:
        raise ConfigError(f'unknown parameters {sorted(unknown)}; known ones are '
                          f'{sorted(table)}.')
    return {name: p.check(values.get(name, p.default)) for name, p in table.items()}


def markdown_table(params: Iterable[Param]) -> str:
    """The parameters as a Markdown table (name, default, description)."""
    rows = ['| parameter | default | description |', '| --- | --- | --- |']
    for p in params:
        default = yaml.safe_dump(p.default).strip().removesuffix('\n...')
        notes = []
        if p.choices:
            notes.append('one of ' + ', '.join(f'`{c}`' for c in p.choices))
        if p.limits:
            notes.append(p.limits)
        if p.dynamic:
            notes.append('can change at run time')
        extra = f' ({"; ".join(notes)})' if notes else ''
        rows.append(f'| `{p.name}` | `{default}` | {p.description}{extra} |')
    return '\n'.join(rows)
