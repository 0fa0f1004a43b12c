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
import shutil

import pytest

from vlm_planner.core.chat import Message
from vlm_planner.errors import ConfigError, ModelLoadError
from vlm_planner.models.base import VLMBackend
from vlm_planner.models.factory import load_backend, ModelConfig
from vlm_planner.models.model_card import CARD_NAME, ModelCard, write_model_card


def test_defaults():
    config = ModelConfig()

    assert (config.backend, config.path, config.device, config.dtype) == (
        'demo', '', 'auto', 'auto')
    assert config.max_frames == 8 and config.max_pixels == 0 and config.pixel_budget > 0
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
    backend = load_backend(ModelConfig(backend='transformers', path=str(tiny_model_path),
                                       device='cpu'))

    assert backend.name == tiny_model_path.name
    # The folder's model card says untrained, so even this route says so.
    assert backend.untrained is True


def test_a_model_folder_reports_its_card(tiny_model_path, tmp_path, caplog):
    folder = tmp_path / 'fine-tuned'
    shutil.copytree(tiny_model_path, folder)
    write_model_card(folder, ModelCard(trained_on='tabletop demos, train.py --epochs 2',
                                       recommended={'strategy.scoring': 'likelihood'}))

    with caplog.at_level(logging.WARNING, logger='vlm_planner.models.factory'):
        backend = load_backend(ModelConfig(backend='transformers', path=str(folder), device='cpu'))

    assert backend.untrained is False and 'untrained' not in caplog.text
    assert backend.card.trained_on == 'tabletop demos, train.py --epochs 2'
    assert backend.card.recommended == {'strategy.scoring': 'likelihood'}


def test_a_malformed_card_fails_the_load_with_its_file_named(tiny_model_path, tmp_path):
    folder = tmp_path / 'broken'
    shutil.copytree(tiny_model_path, folder)
    (folder / CARD_NAME).write_text('{"untrained": "no"}')

    with pytest.raises(ConfigError, match=f'model card {folder / CARD_NAME} is malformed'):
        load_backend(ModelConfig(backend='transformers', path=str(folder), device='cpu'))


def test_transformers_backend_needs_a_path():
    with pytest.raises(ConfigError, match="model.path.*'tiny'"):
        load_backend(ModelConfig(backend='transformers'))


def test_transformers_backend_with_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError, match='does not exist'):
        load_backend(ModelConfig(backend='transformers', path=str(tmp_path / 'missing'),
                                 device='cpu'))


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ConfigError, match='tiny, transformers'):
        load_backend(ModelConfig(backend='onnx'))


def test_unknown_tiny_arch_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv('VLM_PLANNER_CACHE', str(tmp_path))

    with pytest.raises(ConfigError, match='qwen2_5_vl'):
        load_backend(ModelConfig(backend='tiny', tiny_arch='nope'))


@pytest.mark.parametrize('field, value', [('max_frames', 0), ('max_pixels', -1)])
def test_out_of_range_limits_are_config_errors(field, value):
    with pytest.raises(ConfigError, match=field):
        ModelConfig(**{field: value})


def test_unknown_quantization_is_a_config_error():
    assert ModelConfig().quantization == ''
    with pytest.raises(ConfigError, match="model.quantization is '2bit'.*4bit, 8bit"):
        ModelConfig(quantization='2bit')


def test_quantization_reaches_the_backend(tiny_model_path):
    with pytest.raises(ConfigError, match='model.quantization 8bit needs .*CUDA GPU'):
        load_backend(ModelConfig(backend='transformers', path=str(tiny_model_path), device='cpu',
                                 quantization='8bit'))
