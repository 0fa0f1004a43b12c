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


"""Tests of self-consistency sampling with the prompt run once for all samples."""

from __future__ import annotations

import logging

import pytest
import torch

from test.models.conftest import sharpened
from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.models import prefix_cache, sampling
from vlm_planner.models.hf import _pad_id

GREEDY = {'do_sample': False, 'temperature': None, 'top_k': None, 'top_p': None}
SAMPLE = {'do_sample': True, 'temperature': 1.5, 'top_k': 0, 'top_p': 1.0}
SAMPLES = 3
NEW_TOKENS = 10


@pytest.fixture(scope='module')
def prompt(make_frame):
    """A video of 3 frames, the current image and a question."""
    video = VideoPart(tuple(make_frame('noise', stamp=t) for t in (0.0, 1.0, 2.0)))
    image = ImagePart(make_frame('stripes', 3.0))
    return [Message('user', (video, image, TextPart('What should be my next action?')))]


@pytest.fixture(scope='module')
def sharp_arch_backend(arch_model_path):
    """The tiny model of each architecture, attention sharpened so positions show in outputs."""
    return sharpened(arch_model_path)


def replies(backend, prompt, shared=True, **options):
    """New token ids of SAMPLES replies, as lists, and the tokens fed to the model meanwhile."""
    model = backend.model
    fed = []

    def count(module, args, kwargs):
        ids = kwargs.get('input_ids')
        fed.append(ids.numel() if ids is not None else kwargs['inputs_embeds'].shape[:2].numel())

    handle = model.register_forward_pre_hook(count, with_kwargs=True)
    try:
        with torch.inference_mode():
            inputs = backend._prompt(prompt).inputs
            options = {**options, 'max_new_tokens': NEW_TOKENS,
                       'pad_token_id': _pad_id(model, backend._tokenizer)}
            if shared:
                rows = sampling.generate_samples(model, inputs, SAMPLES, **options)
            else:  # the usual path: the prompt copied for every reply (greedy gives one)
                copies = SAMPLES if options.get('do_sample') else 1
                rows = model.generate(**inputs, num_return_sequences=copies, **options)
                rows = rows[:, inputs['input_ids'].shape[1]:]
    finally:
        handle.remove()
    return rows.tolist(), sum(fed), inputs['input_ids'].shape[1]


def test_every_arch_continues_the_shared_prompt_exactly(sharp_arch_backend, prompt):
    # Greedy, so every row must equal the reply of the usual prompt-copying path token by token.
    shared, fed, length = replies(sharp_arch_backend, prompt, **GREEDY)
    [usual], _, _ = replies(sharp_arch_backend, prompt, shared=False, **GREEDY)

    assert shared == [usual] * SAMPLES
    assert len(usual) == NEW_TOKENS
    # The prompt went through the model once: less than two prompts' worth of tokens in all.
    assert fed <= length + SAMPLES * NEW_TOKENS < 2 * length


def test_the_rotary_offset_of_the_media_is_carried_on(tiny_model_path, prompt, monkeypatch):
    backend = sharpened(tiny_model_path)  # Qwen2.5-VL: multimodal rotary embeddings
    right, _, _ = replies(backend, prompt, **GREEDY)
    prefill = prefix_cache.prefill

    def shifted(model, inputs, logits=1):
        output, cache = prefill(model, inputs, logits)
        prefix_cache.rope_holder(model).rope_deltas += 3
        return output, cache

    monkeypatch.setattr(prefix_cache, 'prefill', shifted)
    wrong, _, _ = replies(backend, prompt, **GREEDY)

    assert wrong != right


def test_samples_differ_and_follow_the_seed(backend, prompt):
    torch.manual_seed(7)
    first, _, _ = replies(backend, prompt, **SAMPLE)
    torch.manual_seed(7)
    again, _, _ = replies(backend, prompt, **SAMPLE)

    assert first == again
    assert len({tuple(row) for row in first}) > 1


def test_a_cache_that_cannot_be_expanded_falls_back_with_one_warning(
        backend, prompt, monkeypatch, caplog):
    monkeypatch.setattr(sampling.UNSHAREABLE, 'classes', set())
    monkeypatch.setattr(prefix_cache, 'expandable', lambda cache: False)
    torch.manual_seed(3)
    expected, _, _ = replies(backend, prompt, shared=False, **SAMPLE)

    with caplog.at_level(logging.WARNING, logger=prefix_cache.__name__):
        replies(backend, prompt, **SAMPLE)
        torch.manual_seed(3)
        second, fed, length = replies(backend, prompt, **SAMPLE)

    warnings = [r for r in caplog.records if 'cannot share the prompt' in r.getMessage()]
    assert len(warnings) == 1 and 'copying the prompt' in warnings[0].getMessage()
    assert second == expected  # the same path, so the same samples from the same seed
    assert SAMPLES * length <= fed <= SAMPLES * (length + NEW_TOKENS)  # no useless prefill


def test_a_text_only_prompt_after_a_video_prompt(tiny_model_path, prompt):
    backend = sharpened(tiny_model_path)
    text_only = [Message.text('user', 'What should be my next action?')]
    replies(backend, prompt, **GREEDY)  # leaves Qwen's rotary offset of the media set
    shared, _, _ = replies(backend, text_only, **GREEDY)
    [usual], _, _ = replies(backend, text_only, shared=False, **GREEDY)

    assert shared == [usual] * SAMPLES
