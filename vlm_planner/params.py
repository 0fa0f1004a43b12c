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

"""Parameters declared once: name, type, default, range, description.

A parameter is declared exactly once, as a field of a configuration dataclass made with
:func:`option` (for example ``KeyframeConfig.max_count``). Everything else derives from that
declaration:

* :func:`params_of` lists a dataclass's fields as :class:`Param` rows under a prefix
  (``keyframes.max_count``); a node's table is such rows joined;
* :func:`complete` validates a set of flat values against a table (type, range, choices);
* :func:`build` makes the dataclass from flat values, and :func:`check_fields` validates a
  dataclass made directly in Python with the same rules and messages;
* the ROS declarations (``vlm_planner.ros.parameters``), the README tables
  (:func:`markdown_table`), ``config/planner.yaml`` (:func:`yaml_section`) and the CLI's ``-p``
  checks come from the table, and tests keep the shipped files equal to what is generated.

Adding a parameter is one line: a field with :func:`option` in the dataclass that uses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
import textwrap
from typing import Any, Callable, Iterable, Mapping, TypeVar

import yaml

from vlm_planner.errors import ConfigError


#: Key of a dataclass field's metadata that holds its :class:`Param`.
PARAM_KEY = 'vlm_planner.param'

Choices = tuple[str, ...] | Callable[[], tuple[str, ...]]
ConfigT = TypeVar('ConfigT')


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
    # A tuple, or a function returning one (names of a registry, looked up when needed).
    choices_from: Choices = ()

    @property
    def choices(self) -> tuple[str, ...]:
        """The allowed values of a text parameter (empty: any)."""
        found = self.choices_from() if callable(self.choices_from) else self.choices_from
        return tuple(found)

    @property
    def type(self) -> type:
        """The Python type of the parameter: that of its default."""
        return type(self.default)

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise :class:`ConfigError`."""
        expected = self.type
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(f'parameter {self.name} must be a {expected.__name__} like '
                              f'{self.default!r}, got {value!r}.')
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f'parameter {self.name} must be a finite number, got {value}.')
        choices = self.choices
        if choices and value not in choices:
            raise ConfigError(f'parameter {self.name} is {value!r}; choose one of '
                              f'{", ".join(choices)}.')
        number = value if isinstance(value, (int, float)) else None
        if number is not None and (
                (self.minimum is not None and number < self.minimum)
                or (self.maximum is not None and number > self.maximum)
                or (self.above is not None and number <= self.above)):
            raise ConfigError(f'parameter {self.name} must be {self.limits}, got {value}.')
        return value

    @property
    def limits(self) -> str:
        """The allowed range in words ('' when unbounded)."""
        low = (f'> {self.above}' if self.above is not None
               else f'>= {self.minimum}' if self.minimum is not None else '')
        high = f'<= {self.maximum}' if self.maximum is not None else ''
        return ' and '.join(p for p in (low, high) if p)


def option(default: Any, description: str, *, dynamic: bool = False,
           minimum: float | None = None, maximum: float | None = None,
           above: float | None = None, choices: Choices = ()) -> Any:
    """Declare a configuration dataclass field as a parameter (see the module docstring).

    Args:
        default: the default value; its type is the parameter's type.
        description: what the parameter does, in one or two sentences.
        dynamic: whether it may change while the node runs (otherwise read-only in ROS).
        minimum: inclusive lower bound of a number.
        maximum: inclusive upper bound of a number.
        above: exclusive lower bound of a number.
        choices: allowed values of a text parameter, or a function returning them.
    """
    param = Param('', default, description, dynamic=dynamic, minimum=minimum, maximum=maximum,
                  above=above, choices_from=choices)
    return dataclasses.field(default=default, metadata={PARAM_KEY: param})


def _declared(cls: Any) -> list[tuple[dataclasses.Field, Param]]:
    return [(f, f.metadata[PARAM_KEY]) for f in dataclasses.fields(cls) if PARAM_KEY in f.metadata]


def params_of(cls: Any, prefix: str = '') -> tuple[Param, ...]:
    """The parameters a configuration dataclass declares, named ``prefix + field name``."""
    return tuple(dataclasses.replace(param, name=prefix + f.name) for f, param in _declared(cls))


def check_fields(config: Any, prefix: str = '') -> None:
    """Validate every declared field of a dataclass instance (call from ``__post_init__``).

    Integers given for float fields are converted in place, as the parameter tables accept them.

    Raises:
        ConfigError: a field's value has the wrong type or is out of range.
    """
    for f, param in _declared(type(config)):
        value = dataclasses.replace(param, name=prefix + f.name).check(getattr(config, f.name))
        object.__setattr__(config, f.name, value)


def build(cls: type[ConfigT], values: Mapping[str, Any], prefix: str = '',
          **extra: Any) -> ConfigT:
    """Make the dataclass ``cls`` from flat ``values`` (``prefix + field`` names).

    Names missing from ``values`` keep their defaults; ``extra`` sets fields that are not
    parameters (or overrides).
    """
    kwargs = {f.name: values[prefix + f.name] for f, _ in _declared(cls)
              if prefix + f.name in values}
    return cls(**{**kwargs, **extra})


def flag(name: str) -> str:
    """The command-line flag of a field: ``lora_rank`` becomes ``--lora-rank``."""
    return '--' + name.replace('_', '-')


def add_flags(parser: argparse.ArgumentParser, cls: Any) -> None:
    """Add one flag per declared field of the dataclass ``cls`` to ``parser``.

    Each flag has the field's type, choices and description; a bool field is a switch.
    """
    for param in params_of(cls):
        default = param.default
        described = param.description.replace('%', '%%')  # argparse formats help with %
        if isinstance(default, bool):
            parser.add_argument(flag(param.name), dest=param.name, action='store_true',
                                help=described)
        else:
            metavar = None if param.choices else param.name.split('_')[-1].upper()
            parser.add_argument(flag(param.name), dest=param.name, type=param.type,
                                default=default, choices=param.choices or None,
                                metavar=metavar, help=f'{described} (default: {default})')


def from_flags(cls: type[ConfigT], args: argparse.Namespace) -> ConfigT:
    """Build the dataclass ``cls`` from arguments parsed with :func:`add_flags`."""
    return cls(**{p.name: getattr(args, p.name) for p in params_of(cls)})


def flags_table(cls: Any) -> str:
    """The declared fields of ``cls`` as a Markdown table named by their flags (for docs)."""
    table = markdown_table(dataclasses.replace(p, name=flag(p.name)) for p in params_of(cls))
    return table.replace('| parameter |', '| flag |', 1)


def changed_flags(config: Any) -> list[str]:
    """The flags (and values) of the fields of ``config`` that differ from their defaults."""
    words: list[str] = []
    for param in params_of(type(config)):
        value = getattr(config, param.name)
        if value != param.default:
            words.append(flag(param.name))
            if not isinstance(value, bool):
                words.append(str(value))
    return words


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
        default = yaml.safe_dump(p.default, width=math.inf).strip().removesuffix('\n...')
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


def yaml_section(params: Iterable[Param], width: int = 99) -> str:
    """The parameters as nested ``ros__parameters`` YAML lines, each after its description."""
    lines: list[str] = []
    opened: list[str] = []
    for p in params:
        *groups, leaf = p.name.split('.')
        while opened and opened != groups[:len(opened)]:
            opened.pop()
        for depth in range(len(opened), len(groups)):
            lines.append('    ' + '  ' * depth + groups[depth] + ':')
            opened.append(groups[depth])
        indent = '    ' + '  ' * len(groups)
        notes = [n for n in (p.limits, 'one of ' + ' | '.join(repr(c) for c in p.choices)
                             if p.choices else '') if n]
        text = p.description + (f' ({"; ".join(notes)})' if notes else '')
        lines += textwrap.wrap(text, width, initial_indent=indent + '# ',
                               subsequent_indent=indent + '# ')
        # Never wrapped: a folded long value would not parse at this indentation.
        value = yaml.safe_dump(p.default, default_flow_style=True,
                               width=math.inf).strip().removesuffix('\n...')
        lines.append(f'{indent}{leaf}: {value}')
    return '\n'.join(lines)


def read_params_file(path: str | Path, node: str = 'vlm_planner') -> dict[str, Any]:
    """The parameters a ROS 2 parameter file gives ``node``, as flat dotted names.

    Sections for ``/**``, ``/**/NODE`` and ``NODE`` apply, in the file's order; nested keys join
    with dots (``strategy: {scoring: likelihood}`` is ``strategy.scoring``).

    Raises:
        ConfigError: the file is unreadable or not a ROS 2 parameter file.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f'cannot read parameter file {path}: {error}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path} is not a ROS 2 parameter file: expected sections like '
                          f'"/**/{node}: {{ros__parameters: ...}}".')
    values: dict[str, Any] = {}
    for section, body in data.items():
        if str(section) in ('/**', f'/**/{node}', node, f'/{node}'):
            parameters = body.get('ros__parameters') if isinstance(body, dict) else None
            if not isinstance(parameters, dict):
                raise ConfigError(f'{path}: section {section} has no ros__parameters mapping.')
            values.update(_flattened(parameters))
    return values


def _flattened(tree: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            flat.update(_flattened(value, f'{name}.'))
        else:
            flat[name] = value
    return flat
