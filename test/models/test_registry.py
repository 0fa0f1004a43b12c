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

"""Backends register themselves by name; a new backend is one new module in models/backends."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vlm_planner.core.chat import Message
from vlm_planner.errors import ConfigError
from vlm_planner.models import backends, registry
from vlm_planner.models.factory import load_backend, ModelConfig
from vlm_planner.models.registry import backend_names, get_backend_loader, register_backend
from vlm_planner.models.spec import parse_model_spec

# The whole of a new backend: a module dropped into vlm_planner/models/backends/.
EXAMPLE_BACKEND = textwrap.dedent('''
    """An example backend whose model always prefers the first option."""

    import numpy as np

    from vlm_planner.core.chat import Generation
    from vlm_planner.models.base import VLMBackend
    from vlm_planner.models.registry import register_backend


    class FirstOption(VLMBackend):
        name = 'first-option'

        def __init__(self, config):
            self.config = config

        def score_letters(self, messages, letters):
            scores = np.full(len(letters), -10.0)
            scores[0] = 0.0
            return scores - np.logaddexp.reduce(scores)

        def generate(self, messages, *, num_samples=1, temperature=0.0, max_new_tokens=128):
            return [Generation('A', 1)] * num_samples


    @register_backend('first_option')
    def load(config):
        return FirstOption(config)
''')


@pytest.fixture
def isolated_registry(monkeypatch):
    """Let a test register backends without leaving them behind."""
    backends_registry = registry.BACKEND_REGISTRY
    backends_registry.names()  # the shipped backends registered before the copy
    monkeypatch.setattr(backends_registry, '_entries', dict(backends_registry._entries))
    monkeypatch.setattr(backends_registry, '_searched', backends_registry._searched)
    monkeypatch.setattr(backends, '__path__', list(backends.__path__))


@pytest.fixture
def example_backend_file(tmp_path, monkeypatch, isolated_registry):
    """Drop the example backend module where the backends package looks for modules."""
    (tmp_path / 'first_option.py').write_text(EXAMPLE_BACKEND)
    backends.__path__.append(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'vlm_planner.models.backends.first_option', raising=False)
    yield tmp_path / 'first_option.py'
    sys.modules.pop('vlm_planner.models.backends.first_option', None)


def test_the_built_in_backends_come_first_in_a_stable_order():
    assert backend_names()[:3] == ('tiny', 'transformers', 'openai')
    assert backend_names() == backend_names()


def test_a_new_backend_is_one_module_found_without_any_list_to_edit(example_backend_file):
    assert 'first_option' in backend_names()
    assert backend_names()[:3] == ('tiny', 'transformers', 'openai')

    backend = load_backend(ModelConfig(backend='first_option', max_frames=3))

    assert type(backend).__name__ == 'FirstOption' and backend.config.max_frames == 3
    assert backend.score_letters([Message.text('user', 'Next?')], 'ABC').argmax() == 0
    assert backend.untrained is False and backend.supports_likelihood is False
    assert parse_model_spec('first_option').parameters == {'model.backend': 'first_option'}


def test_a_backend_registered_in_code_loads_by_name(isolated_registry):
    calls = []

    @register_backend('recording', order=5)
    def load(config):
        calls.append(config)
        return get_backend_loader('openai')(config)

    assert backend_names()[-1] == 'recording'  # after the built-ins (orders 0..3)
    backend = load_backend(ModelConfig(backend='recording', url='http://localhost:1/v1'))
    assert backend.name == 'http://localhost:1/v1' and len(calls) == 1


def test_a_name_registered_twice_is_refused(isolated_registry):
    register_backend('twice')(lambda config: None)
    with pytest.raises(ConfigError, match="backend name 'twice' is taken"):
        register_backend('twice')(lambda config: None)
    with pytest.raises(ConfigError, match='identifier'):
        register_backend('not a name')(lambda config: None)


def test_an_unknown_backend_lists_the_registered_ones():
    with pytest.raises(ConfigError, match="backend 'onnx' is unknown; choose one of tiny, "
                                          'transformers, openai'):
        get_backend_loader('onnx')


def test_listing_and_configuring_backends_imports_no_torch():
    code = ('import sys\n'
            'from vlm_planner.models.factory import ModelConfig\n'
            'from vlm_planner.models.registry import backend_names\n'
            'from vlm_planner.models.spec import parse_model_spec\n'
            'assert backend_names()[:3] == ("tiny", "transformers", "openai")\n'
            'ModelConfig(backend="tiny")\n'
            'parse_model_spec("openai:http://localhost:8000/v1")\n'
            'heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)\n'
            'assert not heavy, heavy\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_demo_backend_says_how_to_build_its_model_when_it_is_missing(tmp_path, monkeypatch):
    from vlm_planner.models.backends import demo

    class Files:
        def joinpath(self, relative):
            return tmp_path / relative
    monkeypatch.setattr(demo.resources, 'files', lambda package: Files())
    with pytest.raises(ConfigError, match='make demo-model'):
        load_backend(ModelConfig(backend='demo'))
    (tmp_path / 'resources' / 'demo_model').mkdir(parents=True)  # a folder without a model
    with pytest.raises(ConfigError, match='the demo model is missing'):
        demo.demo_model_folder()
