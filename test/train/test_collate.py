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

"""Encoded items are the backend's prompt plus the reply, labelled on the reply only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlm_planner.core.actions import Action
from vlm_planner.core.frames import Frame
from vlm_planner.core.prompts import PromptTemplate
from vlm_planner.core.strategies import StrategyConfig
from vlm_planner.data.items import EvalItem
from vlm_planner.models.hf import prompt_inputs, TransformersBackend
from vlm_planner.models.tiny import ensure_tiny_model, SUPPORTED_ARCHS
from vlm_planner.train.collate import collate, Encoder, IGNORE
from vlm_planner.train.items import Prompter, without_options
from vlm_planner.train.trainer import reply_loss

LABELS = ('pick up the red block', 'pick up the blue block', 'put the held block in the bin')


def item(history: int, answer: int) -> EvalItem:
    frames = []
    for i in range(history + 1):
        image = np.zeros((64, 64, 3), np.uint8)
        image[..., i % 3] = 60 * i + 40
        frames.append(Frame(image, float(i)))
    return EvalItem('d', f'i{history}', 't', 'put the red block in the bin',
                    tuple(Action(label) for label in LABELS), answer, tuple(frames),
                    history + 0.5)


@pytest.fixture(scope='module', params=SUPPORTED_ARCHS)
def backend(request, tiny_model_cache):
    return TransformersBackend(path=ensure_tiny_model(arch=request.param), device='cpu')


def encoded(backend, kinds=('action', 'letter', 'action'), template=None):
    prompter = Prompter(StrategyConfig(), template or PromptTemplate.default())
    encoder = Encoder(backend.processor, max_frames=backend.max_frames,
                      max_pixels=backend.max_pixels)
    items = [prompter.training_item(item(h, a), kind)
             for (h, a), kind in zip(((0, 0), (3, 2), (2, 1)), kinds)]
    return encoder, items, [encoder.encode(i) for i in items]


def test_labels_are_the_reply_after_the_backends_own_prompt(backend):
    encoder, items, examples = encoded(backend)
    for training, example in zip(items, examples):
        prompt = prompt_inputs(backend.processor, training.messages,
                               max_frames=backend.max_frames, max_pixels=backend.max_pixels)
        width = prompt['input_ids'].shape[1]
        ids = example['input_ids'][0]
        labels = example['labels'][0]
        assert torch.equal(ids[:width], prompt['input_ids'][0])
        assert (labels[:width] == IGNORE).all()
        assert torch.equal(labels[width:], ids[width:])
        reply = backend.processor.tokenizer.encode(training.target, add_special_tokens=False)
        assert ids[width:].tolist() == reply + [backend.processor.tokenizer.eos_token_id]
        for key, value in prompt.items():
            if key not in ('input_ids', 'attention_mask', 'mm_token_type_ids'):
                assert torch.equal(example[key], value)


def test_a_batch_has_the_loss_of_its_items_one_by_one(backend):
    encoder, _, examples = encoded(backend)
    with torch.no_grad():
        alone = [reply_loss(backend.model, example) for example in examples]
        batches = collate(examples, encoder.pad_id)
        together = [reply_loss(backend.model, batch) for batch in batches]
    assert sum(count for _, count in together) == sum(count for _, count in alone)
    assert float(sum(loss for loss, _ in together)) == pytest.approx(
        float(sum(loss for loss, _ in alone)), rel=1e-4)
    if backend.model.config.model_type in ('qwen2_5_vl', 'qwen3_vl', 'video_llama_3'):
        assert len(batches) == 1  # media of these processors always stack


def test_the_action_loss_is_what_likelihood_scoring_reads(backend):
    template = without_options(PromptTemplate.default())
    _, items, examples = encoded(backend, kinds=('action',) * 3, template=template)
    for training, example in zip(items, examples):
        example['labels'][0, -1] = IGNORE  # the end-of-turn token is trained, not scored
        with torch.no_grad():
            loss, count = reply_loss(backend.model, example)
        score = backend.score_continuations(list(training.messages), [training.target])[0]
        assert float(loss) / count == pytest.approx(-score, rel=1e-3, abs=1e-4)
