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

"""Backend selection from ModelConfig."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from vlm_planner.core.chat import Message
from vlm_planner.errors import ConfigError, ModelLoadError
from vlm_planner.models.base import VLMBackend
from vlm_planner.models.factory import load_backend, ModelConfig


def test_defaults():
    config = ModelConfig()

    assert (config.backend, config.path, config.device, config.dtype) == (
        'transformers', '', 'auto', 'auto')
    assert config.max_frames == 8 and config.max_pixels > 0
    assert config.trust_remote_code is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.path = 'x'


def test_tiny_backend_is_flagged_untrained(tiny_cache, monkeypatch, caplog):
    monkeypatch.setenv('VLM_PLANNER_CACHE', str(tiny_cache))

    with caplog.at_level(logging.WARNING, logger='vlm_planner.models.factory'):
        backend = load_backend(ModelConfig(backend='tiny', device='cpu', max_frames=2))

    assert isinstance(backend, VLMBackend)
    assert backend.untrained is True
    assert backend.path == tiny_cache / 'tiny' / 'qwen2_5_vl-seed0'
    assert backend.max_frames == 2
    assert 'untrained' in caplog.text
    assert backend.score_letters([Message.text('user', 'Next?')], 'AB').shape == (2,)


def test_transformers_backend_on_a_model_folder(tiny_model_path):
    backend = load_backend(ModelConfig(path=str(tiny_model_path), device='cpu'))

    assert backend.name == tiny_model_path.name
    # The folder holds the tiny marker, so even this route says the model is untrained.
    assert backend.untrained is True


def test_transformers_backend_needs_a_path():
    with pytest.raises(ConfigError, match="model.path.*'tiny'"):
        load_backend(ModelConfig())


def test_transformers_backend_with_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError, match='does not exist'):
        load_backend(ModelConfig(path=str(tmp_path / 'missing'), device='cpu'))


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ConfigError, match='tiny, transformers'):
        load_backend(ModelConfig(backend='onnx'))


def test_unknown_tiny_arch_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv('VLM_PLANNER_CACHE', str(tmp_path))

    with pytest.raises(ConfigError, match='qwen2_5_vl'):
        load_backend(ModelConfig(backend='tiny', tiny_arch='nope'))


@pytest.mark.parametrize('field', ['max_frames', 'max_pixels'])
def test_non_positive_limits_are_config_errors(field):
    with pytest.raises(ConfigError, match=field):
        ModelConfig(**{field: 0})


def test_unknown_quantization_is_a_config_error():
    assert ModelConfig().quantization == ''
    with pytest.raises(ConfigError, match="model.quantization is '2bit'.*4bit, 8bit"):
        ModelConfig(quantization='2bit')


def test_quantization_reaches_the_backend(tiny_model_path):
    with pytest.raises(ConfigError, match='model.quantization 8bit needs .*CUDA GPU'):
        load_backend(ModelConfig(path=str(tiny_model_path), device='cpu', quantization='8bit'))
