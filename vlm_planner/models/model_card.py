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

"""The model card: what a model folder says about its model, in ``vlm_planner.json``.

A JSON object with these keys, all optional::

    {
      "untrained": false,
      "trained_on": "EgoPlan-Bench train split, `train.py --epochs 3`",
      "recommended": {"strategy.scoring": "likelihood", "model.max_frames": 16},
      "details": {"anything": "free-form provenance"}
    }

* ``untrained``: true for random weights whose choices mean nothing (the tiny test models); the
  planner then flags every decision and its diagnostics.
* ``trained_on``: free text: data set, command, date.
* ``recommended``: planner parameters (name to value) describing how the model is best asked.
* ``details``: free-form information for tools (the tiny builder keeps its build key there).

A folder without the file gets the default card: trained, nothing recommended. A folder built as a
tiny model before model cards existed (it holds only ``vlm_planner_tiny.json``) reads as untrained.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Union

from vlm_planner.errors import ConfigError

#: Name of the model card file in a model folder.
CARD_NAME = 'vlm_planner.json'

#: Marker of tiny builds made before model cards; such a folder reads as untrained.
LEGACY_TINY_MARKER = 'vlm_planner_tiny.json'

#: A recommended parameter value: what a ROS parameter can hold as a scalar.
ParamValue = Union[str, int, float, bool]

_KEYS = ('untrained', 'trained_on', 'recommended', 'details')


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What a model folder says about its model (see the module documentation).

    Attributes:
        untrained: the weights are random: the model's choices mean nothing.
        trained_on: free text on what the model was trained or fine-tuned on, and how.
        recommended: planner parameters, by name, describing how the model is best asked.
        details: free-form information for tools, such as how the folder was built.
    """

    untrained: bool = False
    trained_on: str = ''
    recommended: Mapping[str, ParamValue] = dataclasses.field(default_factory=dict)
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse fields of the wrong type, naming the field and what it must be.

        Raises:
            ConfigError: a field has the wrong type.
        """
        problem = _problem(vars(self))
        if problem:
            raise ConfigError(f'model card: {problem}.')

    def to_json(self) -> dict[str, Any]:
        """Return the card as the JSON object :func:`write_model_card` stores."""
        return {'untrained': self.untrained, 'trained_on': self.trained_on,
                'recommended': dict(self.recommended), 'details': dict(self.details)}


def read_model_card(folder: str | os.PathLike) -> ModelCard:
    """Return the model card of ``folder``; the default card when it has none.

    Raises:
        ConfigError: the card exists but is not readable, not JSON, not an object, has an unknown
            key or a value of the wrong type; the message names the file and the problem.
    """
    path = Path(folder).expanduser() / CARD_NAME
    if not path.is_file():
        if (path.parent / LEGACY_TINY_MARKER).is_file():
            return ModelCard(untrained=True, trained_on='nothing: a tiny random build')
        return ModelCard()
    hint = (f'Fix or delete it: a JSON object with the keys {", ".join(_KEYS)} (all optional), '
            f'such as {{"untrained": false, "trained_on": "...", '
            f'"recommended": {{"strategy.scoring": "likelihood"}}}}.')
    try:
        content = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f'cannot read the model card {path}: {error}. {hint}') from error
    except ValueError as error:
        raise ConfigError(f'the model card {path} is not valid JSON ({error}). {hint}') from error
    if not isinstance(content, dict):
        raise ConfigError(f'the model card {path} holds a {type(content).__name__}, not a JSON '
                          f'object. {hint}')
    unknown = sorted(set(content) - set(_KEYS))
    if unknown:
        raise ConfigError(f'the model card {path} has unknown key(s) {", ".join(unknown)}. {hint}')
    problem = _problem(content)
    if problem:
        raise ConfigError(f'the model card {path} is malformed: {problem}. {hint}')
    return ModelCard(**content)


def write_model_card(folder: str | os.PathLike, card: ModelCard) -> Path:
    """Write ``card`` into ``folder`` (which must exist) and return the file's path."""
    path = Path(folder) / CARD_NAME
    path.write_text(json.dumps(card.to_json(), indent=2) + '\n', encoding='utf-8')
    return path


def _problem(fields: Mapping[str, Any]) -> str:
    """Describe the first of a card's ``fields`` with a wrong type; empty when all are right."""
    untrained = fields.get('untrained', False)
    trained_on = fields.get('trained_on', '')
    recommended = fields.get('recommended', {})
    details = fields.get('details', {})
    if not isinstance(untrained, bool):
        return f'"untrained" must be true or false, not {untrained!r}'
    if not isinstance(trained_on, str):
        return f'"trained_on" must be a string, not {trained_on!r}'
    if not isinstance(recommended, Mapping):
        return (f'"recommended" must be an object of parameter names and values, not '
                f'{recommended!r}')
    for name, value in recommended.items():
        if not isinstance(name, str) or not name.strip():
            return f'"recommended" has an empty parameter name {name!r}'
        if not _is_param_value(value):
            return (f'"recommended" gives {name} the value {value!r}; use a string, a number or '
                    f'true/false')
    if not isinstance(details, Mapping):
        return f'"details" must be an object, not {details!r}'
    return ''


def _is_param_value(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))
