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

"""Larger tiny builds (TinySize) for training from scratch; the default build is unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest

from vlm_planner.errors import ConfigError
from vlm_planner.models.model_card import read_model_card
from vlm_planner.models.tiny import ensure_tiny_model, SUPPORTED_ARCHS, TinySize

BIG = TinySize(hidden_size=128, layers=3, vision_hidden_size=48, vision_layers=3)


def test_the_default_size_is_the_test_build(tiny_cache):
    path = ensure_tiny_model(cache_dir=tiny_cache)
    config = json.loads((path / 'config.json').read_text())

    assert TinySize().is_default and path.name == 'qwen2_5_vl-seed0'
    assert (config['text_config']['hidden_size'], config['text_config']['num_hidden_layers'],
            config['vision_config']['hidden_size'], config['vision_config']['depth']) == (
                64, 2, 32, 2)
    assert 'size' not in read_model_card(path).details


@pytest.mark.parametrize('arch', SUPPORTED_ARCHS)
def test_a_larger_size_builds_every_architecture_into_its_own_folder(tmp_path, arch):
    from transformers import AutoModelForImageTextToText

    small = ensure_tiny_model(cache_dir=tmp_path, arch=arch)
    big = ensure_tiny_model(cache_dir=tmp_path, arch=arch, size=BIG)

    assert big != small and big.name == f'{arch}-seed0-h128l3-v48l3'
    assert read_model_card(big).details['size'] == {
        'hidden_size': 128, 'layers': 3, 'vision_hidden_size': 48, 'vision_layers': 3,
        'attention_init_std': 0.0, 'max_pixels': 0}
    assert ensure_tiny_model(cache_dir=tmp_path, arch=arch, size=BIG) == big  # cached
    counts = [sum(p.numel() for p in AutoModelForImageTextToText.from_pretrained(
        folder).parameters()) for folder in (small, big)]
    assert counts[1] > 2 * counts[0]
    config = json.loads((big / 'config.json').read_text())
    assert config['text_config']['hidden_size'] == 128
    assert config['text_config']['num_hidden_layers'] == 3


def test_sharper_attention_redraws_only_the_language_models_queries_and_keys(tmp_path):
    import torch
    from transformers import AutoModelForImageTextToText

    plain = ensure_tiny_model(cache_dir=tmp_path, size=BIG)
    sharp_size = dataclasses.replace(BIG, attention_init_std=0.2)
    sharp = ensure_tiny_model(cache_dir=tmp_path, size=sharp_size)

    assert sharp.name.endswith('-a0.2') and sharp != plain
    weights = [dict(AutoModelForImageTextToText.from_pretrained(folder).named_parameters())
               for folder in (plain, sharp)]
    redrawn = [name for name in weights[0]
               if not torch.equal(weights[0][name], weights[1][name])]
    assert redrawn and all(name.endswith(('q_proj.weight', 'k_proj.weight')) for name in redrawn)
    assert not any('visual' in name for name in redrawn)
    assert len(redrawn) == 2 * BIG.layers
    for name in redrawn:
        assert float(weights[0][name].detach().std()) == pytest.approx(0.02, rel=0.2)
        assert float(weights[1][name].detach().std()) == pytest.approx(0.2, rel=0.2)


def test_a_larger_frame_limit_reaches_the_processor(tmp_path):
    from transformers import AutoProcessor

    size = dataclasses.replace(BIG, max_pixels=196 * 252)
    folder = ensure_tiny_model(cache_dir=tmp_path, size=size)
    processor = AutoProcessor.from_pretrained(folder)

    assert folder.name.endswith('-p49392')
    assert processor.image_processor.size['longest_edge'] == 196 * 252
    with pytest.raises(ConfigError, match='not for llava_onevision'):
        ensure_tiny_model(cache_dir=tmp_path, arch='llava_onevision', size=size)


@pytest.mark.parametrize('fields, words', [
    ({'hidden_size': 48}, 'multiple of 32'),
    ({'vision_hidden_size': 40}, 'multiple of 16'),
    ({'layers': 0}, 'layers must be at least 1'),
    ({'attention_init_std': -1.0}, 'attention_init_std must be within'),
    ({'max_pixels': 100}, 'max_pixels must be 0 or at least'),
])
def test_impossible_sizes_are_config_errors(fields, words):
    with pytest.raises(ConfigError, match=words):
        TinySize(**fields)
