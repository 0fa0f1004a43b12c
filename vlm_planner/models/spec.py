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

"""One way to name a model, parsed in one place for ``plan``, ``eval``, the node and launch file.

A model specification is one of:

* ``tiny`` or ``tiny:ARCH``: the untrained tiny model (``model.backend`` ``tiny``);
* a local model folder, or ``transformers:FOLDER``: the ``transformers`` backend;
* ``openai:URL`` or ``openai:URL#SERVED_NAME``, or just the ``http(s)://`` URL: a model served
  over an OpenAI-compatible API, such as ``openai:http://localhost:8000/v1#Qwen2.5-VL-7B``;
* the name of any other registered backend, configured by its own ``model.*`` parameters.

A backend's name always means the backend: a folder called ``tiny`` is given as ``./tiny``.

:func:`parse_model_spec` turns the text into planner parameters (``model.*``) and a short name;
:func:`apply_model_spec` merges them into the other parameters, refusing a contradiction;
:func:`spec_from_parameters` names the model that parameters alone select.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import re
from typing import Any, Mapping
import urllib.parse

from vlm_planner.errors import ConfigError
from vlm_planner.models.factory import DEFAULT_TINY_ARCH
from vlm_planner.models.registry import backend_names

#: The forms a model specification takes, for messages and help texts.
FORMS = ('tiny', 'tiny:ARCH', 'demo', 'FOLDER', 'transformers:FOLDER', 'openai:URL[#SERVED_NAME]',
         'http(s)://URL')

#: The parameters that say which model runs; a specification and ``-p`` must agree on them.
SELECTORS = ('model.backend', 'model.path', 'model.url')

_SCHEME = re.compile(r'^([A-Za-z][A-Za-z0-9_+.-]*):')


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed model specification.

    Attributes:
        text: the specification as given.
        name: short name for results and reports: ``tiny-ARCH``, the folder's name, or the
            server's ``host:port`` followed by ``/SERVED_NAME`` when one is given.
        parameters: the planner parameters (``model.*``) that select the model.
    """

    text: str
    name: str
    parameters: Mapping[str, Any]


def parse_model_spec(text: str) -> ModelSpec:
    """Parse a model specification (see the module documentation).

    Raises:
        ConfigError: the text is empty, names an unknown backend or scheme, a folder that does not
            exist, or a malformed server URL; the message lists the accepted forms.
    """
    spec = text.strip()
    if not spec:
        raise _error(text, 'it is empty')
    if spec.startswith(('http://', 'https://')):
        parameters = _openai(text, spec)
    else:
        match = _SCHEME.match(spec)
        scheme = match.group(1) if match else ''
        argument = spec[len(scheme) + 1:] if match else ''
        if spec in backend_names():
            parameters = _bare(text, spec)
        elif scheme == 'tiny':
            parameters = {'model.backend': 'tiny', 'model.tiny_arch': _required(text, argument)}
        elif scheme == 'openai':
            parameters = _openai(text, _required(text, argument))
        elif scheme == 'transformers':
            parameters = _folder(text, _required(text, argument))
        elif scheme in backend_names():
            raise _error(text, f'backend {scheme} takes nothing after the colon here; give '
                               f'{scheme} alone and set its model.* parameters')
        elif scheme and not Path(spec).expanduser().exists():
            raise _error(text, f'{scheme!r} is not a backend (backends: '
                               f'{", ".join(backend_names())}), and no folder {spec} exists')
        else:
            parameters = _folder(text, spec)
    return ModelSpec(text=text, name=model_name(parameters), parameters=parameters)


def model_parameters(text: str) -> dict[str, Any]:
    """Return the planner parameters (``model.*``) a model specification selects.

    Raises:
        ConfigError: see :func:`parse_model_spec`.
    """
    return dict(parse_model_spec(text).parameters)


def apply_model_spec(values: Mapping[str, Any], spec: ModelSpec | str,
                     source: str = '--model') -> dict[str, Any]:
    """Return ``values`` with the model ``spec`` selects, refusing parameters that contradict it.

    A parameter contradicts the specification when it is one it sets with another value, or one
    of :data:`SELECTORS` the specification leaves empty, set to something else (such as
    ``model.url`` beside ``--model tiny``). Parameters that only refine the choice
    (``model.tiny_arch`` beside ``tiny``, ``model.api_model`` beside a URL, ``model.device``...)
    are kept.

    Args:
        values: planner parameters by name (for example the ``-p`` overrides).
        spec: the model specification, parsed or as text.
        source: how the user gave ``spec``, for the message (``--model``, ``model:=``).

    Raises:
        ConfigError: a parameter contradicts ``spec``; the message says which to drop.
    """
    if isinstance(spec, str):
        spec = parse_model_spec(spec)
    for name in dict.fromkeys([*spec.parameters, *SELECTORS]):
        wanted = spec.parameters.get(name, '')
        if name in values and values[name] != wanted:
            given = f'{source} {spec.text}'
            raise ConfigError(
                f'{given} selects {name} {wanted!r}, but the parameter {name} is also set, to '
                f'{values[name]!r}. Name the model once: drop {given} or drop the parameter '
                f'{name} (-p {name}:=...).')
    return {**values, **spec.parameters}


def spec_from_parameters(values: Mapping[str, Any]) -> ModelSpec:
    """Return the specification of the model complete planner ``values`` select.

    For runs that name no model and let the parameters (``-p model.*``) choose it.

    Raises:
        ConfigError: the backend's model is not given (empty ``model.path`` or ``model.url``), or
            does not exist.
    """
    backend = values['model.backend']
    if backend == 'tiny':
        text = f'tiny:{values.get("model.tiny_arch") or DEFAULT_TINY_ARCH}'
    elif backend == 'transformers':
        if not values.get('model.path'):
            raise ConfigError("model.backend is 'transformers' but model.path is empty: set "
                              '-p model.path:=FOLDER, or name the model (--model FOLDER).')
        text = f'transformers:{values["model.path"]}'
    elif backend == 'openai':
        if not values.get('model.url'):
            raise ConfigError("model.backend is 'openai' but model.url is empty: set "
                              '-p model.url:=URL, or name the model (--model openai:URL).')
        served = values.get('model.api_model')
        text = f'openai:{values["model.url"]}' + (f'#{served}' if served else '')
    else:
        text = str(backend)
    return parse_model_spec(text)


def model_name(parameters: Mapping[str, Any]) -> str:
    """Return the short name of the model ``parameters`` select (see :class:`ModelSpec`).

    Args:
        parameters: planner parameters; ``model.backend`` must be among them.
    """
    backend = str(parameters['model.backend'])
    if backend == 'tiny':
        return f'tiny-{parameters.get("model.tiny_arch") or DEFAULT_TINY_ARCH}'
    if backend == 'transformers':
        path = str(parameters.get('model.path', ''))
        return Path(path).name or path or backend
    if backend == 'openai':
        url = urllib.parse.urlparse(str(parameters.get('model.url', '')))
        served = str(parameters.get('model.api_model', ''))
        host = url.netloc or backend
        return f'{host}/{served}' if served else host
    return backend


def _bare(text: str, backend: str) -> dict[str, Any]:
    """A registered backend's bare name: its other parameters come from the configuration."""
    if backend == 'openai':
        raise _error(text, 'the server is missing: give openai:URL, such as '
                           'openai:http://localhost:8000/v1')
    if backend == 'transformers':
        raise _error(text, 'the folder is missing: give transformers:FOLDER or the folder itself')
    return {'model.backend': backend}


def _required(text: str, argument: str) -> str:
    if not argument.strip():
        raise _error(text, 'nothing follows the colon')
    return argument.strip()


def _folder(text: str, folder: str) -> dict[str, Any]:
    path = Path(folder).expanduser()
    if not path.exists():
        raise _error(text, f'the model folder {path} does not exist')
    if not path.is_dir():
        raise _error(text, f'{path} is a file, not a model folder')
    return {'model.backend': 'transformers', 'model.path': str(path)}


def _openai(text: str, url: str) -> dict[str, Any]:
    url, _, served = url.partition('#')
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ('http', 'https') or not parsed.hostname:
        raise _error(text, f'{url!r} is not an http(s) URL of a model server, such as '
                           'http://localhost:8000/v1')
    parameters: dict[str, Any] = {'model.backend': 'openai', 'model.url': url}
    if served:
        parameters['model.api_model'] = served
    return parameters


def _error(text: str, problem: str) -> ConfigError:
    return ConfigError(f'model {text!r}: {problem}. Name a model as one of: '
                       f'{", ".join(FORMS)}.')
