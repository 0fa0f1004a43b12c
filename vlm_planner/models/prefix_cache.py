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


"""Run a prompt once and reuse its KV cache for a batch of continuations.

The prompt of a planning question (a video, an image and the question: hundreds to thousands of
tokens) costs far more than anything that follows it. Likelihood scoring
(:mod:`~vlm_planner.models.likelihood`) and self-consistency sampling
(:mod:`~vlm_planner.models.sampling`) both run it once, expand its cache to a batch, and continue
every row from there. This module holds what they share: the prefill, the checks that a model's
cache can be shared, and the multimodal rotary offset of Qwen-VL models.

Models with multimodal rotary embeddings (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) number the tokens after
a video or image with an offset the prefill stores on the model as ``rope_deltas``; it is reset
before each prefill, so that the offset of an earlier prompt never leaks into a text-only one.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Mapping

import torch

logger = logging.getLogger(__name__)

#: Prompt tensors holding one entry per token: ids, masks (1 = attend) and token types (0 = text).
TOKEN_IDS = 'input_ids'
TOKEN_MASKS = ('attention_mask',)
TOKEN_TYPES = ('token_type_ids', 'mm_token_type_ids')
PER_TOKEN = (TOKEN_IDS, *TOKEN_MASKS, *TOKEN_TYPES)


def accepts(function: Callable, name: str) -> bool:
    """Whether ``function`` takes a parameter called ``name``."""
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def keep_logits(model: Any, count: int) -> dict[str, int]:
    """Ask for only the last ``count`` positions' logits where the model allows it."""
    return {'logits_to_keep': count} if accepts(model.forward, 'logits_to_keep') else {}


def cache_argument(model: Any) -> str | None:
    """The keyword the model's forward takes its KV cache under (transformers 5 renamed it)."""
    for name in ('cache', 'past_key_values'):
        if accepts(model.forward, name):
            return name
    return None


def output_cache(output: Any) -> Any:
    """The KV cache a forward pass returned."""
    cache = getattr(output, 'cache', None)
    return cache if cache is not None else getattr(output, 'past_key_values', None)


def expandable(cache: Any) -> bool:
    """Whether ``cache`` is a ``transformers`` cache whose every layer repeats along the batch."""
    layers = getattr(cache, 'layers', None)
    if not callable(getattr(cache, 'batch_repeat_interleave', None)) or not layers:
        return False
    return all(callable(getattr(layer, 'batch_repeat_interleave', None)) for layer in layers)


def rope_holder(model: Any) -> Any:
    """The module storing the multimodal rotary offset (``rope_deltas``), or None."""
    for module in (model, getattr(model, 'model', None)):
        if module is not None and hasattr(module, 'rope_deltas'):
            return module
    return None


def rope_offsets(holder: Any, rows: int, device: torch.device) -> torch.Tensor:
    """Each prompt row's multimodal rotary offset (zeros for plain rotary embeddings)."""
    deltas = None if holder is None else holder.rope_deltas
    if deltas is None:
        return torch.zeros(rows, dtype=torch.long, device=device)
    deltas = deltas.reshape(-1).to(device=device, dtype=torch.long)
    return deltas.expand(rows) if deltas.numel() == 1 else deltas


def prefill(model: Any, inputs: Mapping[str, Any], logits: int = 1) -> tuple[Any, Any]:
    """Run the prompt with its KV cache; return the output (last ``logits`` positions) and cache.

    Call it under ``torch.inference_mode()``.
    """
    holder = rope_holder(model)
    if holder is not None:
        holder.rope_deltas = None
    output = model(**inputs, use_cache=True, **keep_logits(model, logits))
    return output, output_cache(output)


def without_last_token(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The prompt's inputs with its last (text) token removed; media inputs kept."""
    return {key: value[:, :-1] if key in PER_TOKEN and value is not None else value
            for key, value in inputs.items()}


class Unshareable:
    """The model classes that turned out unable to share a prompt, warned about once each."""

    def __init__(self, consequence: str) -> None:
        """Set what is done instead, for the warning (``'scoring each candidate ...'``)."""
        self.consequence = consequence
        self.classes: set[type] = set()

    def __contains__(self, model: Any) -> bool:
        return type(model) in self.classes

    def add(self, model: Any, reason: str) -> None:
        """Remember that ``model``'s class cannot share its prompt, warning the first time."""
        if type(model) not in self.classes:
            self.classes.add(type(model))
            logger.warning('%s cannot share the prompt (%s); %s instead.',
                           type(model).__name__, reason, self.consequence)
