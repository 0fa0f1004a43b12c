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


"""Several sampled replies to one prompt, with the prompt run once for all of them.

Self-consistency asks the model N times. ``generate(num_return_sequences=N)`` batches the N
replies but copies the prompt N times first, so the video and image are encoded and the whole
prompt is run N times. Here the prompt but its last token is prefilled once, its KV cache expanded
to N rows, and ``generate`` continues all rows from it: it feeds the last prompt token, then
samples. Only the text tokens go to ``generate``: the media are already in the cache, and the
multimodal rotary offset the prefill stored on the model (Qwen-VL) carries the positions on.

Models whose cache cannot be expanded fall back to ``num_return_sequences``, with one warning per
model class.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from vlm_planner.models import prefix_cache

UNSHAREABLE = prefix_cache.Unshareable('copying the prompt for every sample')


def generate_samples(model: Any, inputs: Mapping[str, Any], num_samples: int, *,
                     share_prefix: bool = True, **options: Any) -> torch.Tensor:
    """Return ``num_samples`` replies to the prompt: the new token ids, one row per reply.

    Call it under ``torch.inference_mode()``.

    Args:
        model: a ``transformers`` (vision-)language model with ``generate``.
        inputs: the processor's output for the prompt (batch of one), on the model's device.
        num_samples: how many replies.
        share_prefix: run the prompt once for all replies; False copies it for each (the
            reference path of the tests and benchmarks).
        **options: passed to ``generate`` (sampling settings, ``max_new_tokens``, ...).
    """
    length = inputs[prefix_cache.TOKEN_IDS].shape[1]
    if share_prefix and num_samples > 1 and length > 1 and model not in UNSHAREABLE:
        rows = _generate_shared(model, inputs, num_samples, options)
        if rows is not None:
            return rows[:, length:]
    rows = model.generate(**inputs, num_return_sequences=num_samples, **options)
    return rows[:, length:]


def _generate_shared(model: Any, inputs: Mapping[str, Any], num_samples: int,
                     options: Mapping[str, Any]) -> torch.Tensor | None:
    """Prompt ids followed by each reply, or None when the model cannot share its prompt."""
    cache_argument = prefix_cache.cache_argument(model)
    if cache_argument is None:
        UNSHAREABLE.add(model, 'its forward pass takes no KV cache')
        return None
    _, cache = prefix_cache.prefill(model, prefix_cache.without_last_token(inputs))
    if not prefix_cache.expandable(cache):
        UNSHAREABLE.add(model, f'its cache ({type(cache).__name__}) cannot be expanded to a batch')
        return None
    cache.batch_repeat_interleave(num_samples)
    text = {key: inputs[key].repeat(num_samples, 1) for key in prefix_cache.PER_TOKEN
            if inputs.get(key) is not None}
    return model.generate(**text, **{cache_argument: cache}, **options)
