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

"""LoRA adapter folders load by path on their base model; a model in memory wraps as a backend."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vlm_planner.core.frames import Frame
from vlm_planner.core.prompts import build_messages, PlanningQuestion, PromptTemplate
from vlm_planner.errors import ModelLoadError
from vlm_planner.models.hf import load_pretrained, TransformersBackend

LABELS = ('pick up the red block', 'put the held block in the bin')


def messages():
    image = np.zeros((56, 56, 3), np.uint8)
    image[..., 0] = 200
    question = PlanningQuestion('put the red block in the bin', (Frame(image, 0.0),),
                                Frame(image, 1.0), LABELS)
    return build_messages(PromptTemplate.default(), question, 'Answer.')


@pytest.fixture(scope='module')
def adapter(tiny_model_path, tmp_path_factory):
    """An adapter folder with non-zero LoRA weights on the tiny Qwen2.5-VL."""
    from peft import get_peft_model, LoraConfig

    _, model = load_pretrained(tiny_model_path, dtype=torch.float32)
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=['q_proj', 'v_proj'],
                                                  init_lora_weights=False))
    folder = tmp_path_factory.mktemp('adapter') / 'adapter'
    peft_model.save_pretrained(folder)
    return folder


def test_an_adapter_folder_loads_merged_into_its_base(adapter, tiny_model_path):
    base = TransformersBackend(path=tiny_model_path, device='cpu')
    tuned = TransformersBackend(path=adapter, device='cpu')

    assert tuned.name == 'adapter' and tuned.untrained is False  # its own (default) card
    scores = tuned.score_continuations(messages(), list(LABELS))
    assert not np.allclose(scores, base.score_continuations(messages(), list(LABELS)))
    from peft import PeftModel
    _, model = load_pretrained(tiny_model_path, dtype=torch.float32)
    unmerged = TransformersBackend.from_model(
        PeftModel.from_pretrained(model, adapter).get_base_model().eval(), base.processor,
        name='unmerged')
    assert np.allclose(unmerged.score_continuations(messages(), list(LABELS)), scores,
                       atol=1e-5)


def test_a_relative_base_path_counts_from_the_adapter_folder(adapter, tiny_model_path, tmp_path):
    shutil.copytree(tiny_model_path, tmp_path / 'base')
    shutil.copytree(adapter, tmp_path / 'tuned')
    config_file = tmp_path / 'tuned' / 'adapter_config.json'
    config = json.loads(config_file.read_text())
    config['base_model_name_or_path'] = '../base'
    config_file.write_text(json.dumps(config))

    backend = TransformersBackend(path=tmp_path / 'tuned', device='cpu')
    assert backend.score_letters(messages(), ['A', 'B']).shape == (2,)


def test_a_missing_base_or_adapter_weights_are_clear_errors(adapter, tmp_path):
    shutil.copytree(adapter, tmp_path / 'moved')
    config_file = tmp_path / 'moved' / 'adapter_config.json'
    config = json.loads(config_file.read_text())
    config['base_model_name_or_path'] = str(tmp_path / 'gone')
    config_file.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match='no such folder exists here'):
        TransformersBackend(path=tmp_path / 'moved', device='cpu')

    shutil.copytree(adapter, tmp_path / 'half')
    (tmp_path / 'half' / 'adapter_model.safetensors').unlink()
    with pytest.raises(ModelLoadError, match='adapter is incomplete'):
        TransformersBackend(path=tmp_path / 'half', device='cpu')


def test_a_model_in_memory_answers_as_the_same_model_loaded_by_path(backend):
    wrapped = TransformersBackend.from_model(backend.model, backend.processor, name='memory',
                                             max_frames=backend.max_frames,
                                             max_pixels=backend.max_pixels)

    assert wrapped.name == 'memory' and not wrapped.untrained
    assert np.array_equal(wrapped.score_letters(messages(), ['A', 'B']),
                          backend.score_letters(messages(), ['A', 'B']))
