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

"""Embedder specifications, the planner model's vision tower and tokens, and CLIP."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

from vlm_planner import settings
from vlm_planner.distance import planner_model
from vlm_planner.distance.embedders import text_embedder, visual_embedder
from vlm_planner.distance.planner_model import check_vision_arch, model_folder, pooled_tokens
from vlm_planner.errors import ConfigError

VALUES = settings.complete({})


def frames(count, seed=0, height=48, width=64):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize('make, spec, message', [
    (visual_embedder, 'resnet:x', r"--embedder 'resnet:x': unknown embedder 'resnet'; "
                                  r'--embedder takes one of: vision:MODEL, clip:FOLDER'),
    (visual_embedder, 'fasttext:a.vec', r"unknown embedder 'fasttext' \(fasttext is given with "
                                        r'--text-embedder\)'),
    (visual_embedder, 'clip:', r'nothing follows "clip:"'),
    (visual_embedder, 'tiny', r"unknown embedder 'tiny'"),
    (text_embedder, 'vision:tiny', r"unknown embedder 'vision' \(vision is given with "
                                   r'--embedder\)'),
    (text_embedder, 'fasttext: ', r'nothing follows "fasttext:"'),
])
def test_malformed_specifications_say_which_forms_are_accepted(make, spec, message):
    with pytest.raises(ConfigError, match=message):
        make(spec, VALUES)


@pytest.mark.parametrize('spec, message', [
    ('clip:{missing}', r'the CLIP model folder {missing} does not exist; give a local CLIP model '
                       r'folder'),
    ('clip:{empty}', r'{empty} holds no config.json'),
    ('clip:{other}', r"config.json is of model type 'qwen2_5_vl', not 'clip'"),
    ('vision:{missing}', r'the model folder {missing} does not exist'),
    ('vision:openai:http://localhost:8000/v1', r"model 'openai:http://localhost:8000/v1' runs on "
                                               r'the openai backend, without local weights'),
])
def test_a_missing_or_wrong_model_is_an_error_naming_it(tmp_path, spec, message):
    paths = {'missing': tmp_path / 'no_model', 'empty': tmp_path / 'empty',
             'other': tmp_path / 'other'}
    paths['empty'].mkdir()
    paths['other'].mkdir()
    (paths['other'] / 'config.json').write_text(json.dumps({'model_type': 'qwen2_5_vl'}))
    with pytest.raises(ConfigError, match=message.format(**paths)) as error:
        visual_embedder(spec.format(**paths), VALUES)
    assert str(error.value).startswith(f'--embedder {spec.format(**paths)}: ')


def test_clip_embeds_frames_and_texts(tiny_clip):
    images = frames(3)
    visual = visual_embedder(f'clip:{tiny_clip}', VALUES)
    rows = visual.embed(images)
    assert rows.shape == (3, 8) and rows.dtype == np.float64
    np.testing.assert_allclose(visual.embed(images[1:2]), rows[1:2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(rows[0], rows[1])

    text = text_embedder(f'clip-text:{tiny_clip}', VALUES)
    rows = text.embed(['stack the red block', 'put all blocks in the bin'])
    assert rows.shape == (2, 8)
    assert not np.allclose(rows[0], rows[1])
    assert text.spec == f'clip-text:{tiny_clip}'


def test_the_vision_tower_embeds_each_frame_by_its_mean_output_token(tiny_model_cache):
    embedder = visual_embedder('vision:tiny', VALUES)
    images = frames(3, seed=1)
    rows = embedder.embed(images)
    assert rows.shape == (3, embedder.model.config.text_config.hidden_size)

    pixels = embedder.image_processor(images=[images[2]], return_tensors='pt')
    with torch.no_grad():
        output = embedder.model.model.visual(pixels['pixel_values'],
                                             grid_thw=pixels['image_grid_thw'])
    np.testing.assert_allclose(rows[2], output.pooler_output.mean(dim=0).numpy(), rtol=1e-5,
                               atol=1e-6)
    assert not np.allclose(rows[0], rows[1])


def test_tokens_embed_a_text_by_its_mean_input_embedding(tiny_model_cache):
    embedder = text_embedder('tokens:tiny', VALUES)
    rows = embedder.embed(['stack the red block', 'put all blocks in the bin'])
    _, model = planner_model.load_model(str(model_folder('tiny', VALUES)))
    ids = embedder.tokenizer('stack the red block', add_special_tokens=False)['input_ids']
    table = model.get_input_embeddings().weight.detach()
    np.testing.assert_allclose(rows[0], table[ids].mean(dim=0).numpy(), rtol=1e-6)
    assert not np.allclose(rows[0], rows[1])
    with pytest.raises(ConfigError, match=r"the text '' has no token"):
        embedder.embed([''])


def test_the_demo_model_is_found_where_the_demo_backend_keeps_it(monkeypatch, tmp_path):
    from vlm_planner.models.backends import demo
    monkeypatch.setattr(demo, 'demo_model_folder', lambda: tmp_path)
    assert model_folder('demo', VALUES) == tmp_path


def test_only_the_qwen_vl_vision_towers_are_supported():
    check_vision_arch('qwen2_5_vl', 'vision:tiny')
    check_vision_arch('qwen3_vl', 'vision:tiny:qwen3_vl')
    with pytest.raises(ConfigError, match=r'vision tower of llava_onevision models is not '
                                          r'supported \(supported: qwen2_vl, qwen2_5_vl, '
                                          r'qwen3_vl\); use clip:FOLDER'):
        check_vision_arch('llava_onevision', 'vision:tiny:llava_onevision')


def test_pooling_takes_the_merged_tokens_or_the_tensor_the_tower_returns():
    tokens = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    np.testing.assert_allclose(pooled_tokens(tokens).numpy(), [4.5, 5.5, 6.5])
    output = types.SimpleNamespace(pooler_output=tokens * 2, last_hidden_state=tokens)
    np.testing.assert_allclose(pooled_tokens(output).numpy(), [9.0, 11.0, 13.0])
    np.testing.assert_allclose(pooled_tokens((tokens[None],)).numpy(), [4.5, 5.5, 6.5])
