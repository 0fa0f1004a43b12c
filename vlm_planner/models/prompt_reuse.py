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

"""Run a prompt from where the previous one stopped agreeing with it: KV prefix reuse.

Two decisions in a row send mostly the same prompt: the chat header, and every keyframe that is
still in the buffer, come before what changed. In the spirit of vLLM's automatic prefix caching,
:class:`PromptReuse` keeps the language model's KV cache of the last prompt and, for the next one,
keeps the longest prefix whose tokens, media units and rotary positions all agree, dropping the
rest; only the new tail is run (its vision features encoded only where its units have none,
:mod:`.vision_cache`). A causal model's keys and values at a position depend only on what came
before it, so the result equals a fresh run of the whole prompt (tested).

One prompt is kept, and only one no longer than ``max_tokens``: the memory it holds is bounded by
what a single prefill of that length needs anyway. Works with prompts assembled by
:class:`~.prepared_prompt.PromptPreparer` (Qwen2-VL, Qwen2.5-VL).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from vlm_planner.models import prefix_cache
from vlm_planner.models.prepared_prompt import PreparedPrompt
from vlm_planner.models.vision_cache import encode_missing, encoder_outputs


@dataclasses.dataclass
class PrefillStats:
    """What a prefill cost.

    Attributes:
        tokens: tokens of the prompt.
        reused: tokens whose keys and values came from the previous prompt.
        encoded: media units run through the vision tower.
    """

    tokens: int = 0
    reused: int = 0
    encoded: int = 0


class PromptReuse:
    """Keeps the last prompt's KV cache and runs the next prompt from where they differ.

    Not thread-safe: the backend calls it under its lock.
    """

    def __init__(self, max_tokens: int) -> None:
        """Keep prompts of at most ``max_tokens`` tokens (0: keep none, always run afresh)."""
        self.max_tokens = max_tokens
        self._kept: tuple[torch.Tensor, torch.Tensor, Any] | None = None  # keys, positions, cache
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None
        self.last = PrefillStats()

    def clear(self) -> None:
        """Forget the kept prompt (the model's weights changed, or memory is needed)."""
        self._kept = self._pending = None

    def run(self, model: Any, prompt: PreparedPrompt, dtype: torch.dtype,
            logits: int = 1) -> tuple[Any, Any]:
        """Run ``prompt``, reusing what agrees with the kept one; return (output, cache).

        The caller may extend the cache and repeat it along the batch (candidate scoring), then
        hands it to :meth:`keep`. Call it under ``torch.inference_mode()``; ``prompt.inputs``
        must be on the model's device.

        Args:
            model: a Qwen2-VL or Qwen2.5-VL model.
            prompt: the prompt, assembled from media units.
            dtype: the dtype of the vision tower's input.
            logits: how many last positions' logits the output holds.
        """
        inputs = prompt.inputs
        ids = inputs['input_ids']
        positions, deltas = model.model.get_rope_index(
            ids, inputs.get('mm_token_type_ids'), image_grid_thw=inputs.get('image_grid_thw'),
            video_grid_thw=inputs.get('video_grid_thw'),
            second_per_grid_ts=inputs.get('second_per_grid_ts'),
            attention_mask=inputs.get('attention_mask'))
        keys = prompt.keys.to(ids.device)
        kept, self._kept = self._kept, None
        start, cache = _reusable(kept, keys, positions)
        tail = set((-keys[start:][keys[start:] < 0]).tolist())
        units = [unit for modality in ('image', 'video') for unit in prompt.units(modality)
                 if unit.serial in tail]
        self.last = PrefillStats(tokens=ids.shape[1], reused=start,
                                 encoded=encode_missing(model, units, dtype))
        kwargs = {prefix_cache.cache_argument(model) or 'past_key_values': cache}
        output = model(input_ids=ids[:, start:], attention_mask=inputs.get('attention_mask'),
                       position_ids=positions[..., start:], use_cache=True,
                       mm_encoder_outputs=encoder_outputs(units) or None,
                       **prefix_cache.keep_logits(model, logits), **kwargs)
        prefix_cache.rope_holder(model).rope_deltas = deltas
        self._pending = (keys, positions)
        return output, prefix_cache.output_cache(output)

    def keep(self, cache: Any) -> None:
        """Keep the cache of the prompt :meth:`run` last ran, cut back to that prompt."""
        pending, self._pending = self._pending, None
        if pending is None or cache is None or len(pending[0]) > self.max_tokens:
            return
        length = len(pending[0])
        if cache.get_seq_length() > length:
            cache.crop(length - cache.get_seq_length())
        if _batch_size(cache) > 1:
            cache.batch_select_indices(torch.tensor([0], device=pending[0].device))
        self._kept = (*pending, cache)


def _reusable(kept: tuple[torch.Tensor, torch.Tensor, Any] | None, keys: torch.Tensor,
              positions: torch.Tensor) -> tuple[int, Any]:
    """How many leading tokens of the new prompt the kept cache holds, and that cache cut to it.

    At least the last token is always run (its logits are needed); a cut inside a media unit's
    tokens moves back to the unit's start, since a unit's features go in whole.
    """
    if kept is None:
        return 0, None
    old_keys, old_positions, cache = kept
    length = min(len(old_keys), len(keys) - 1)
    same = (old_keys[:length] == keys[:length]) & \
        (old_positions[:, 0, :length] == positions[:, 0, :length]).all(dim=0)
    start = int(same.long().cumprod(0).sum())
    while 0 < start < len(keys) and keys[start] < 0 and keys[start - 1] == keys[start]:
        start -= 1
    if start == 0:
        return 0, None
    cache.crop(start - cache.get_seq_length())
    return start, cache


def _batch_size(cache: Any) -> int:
    layers = getattr(cache, 'layers', None) or ()
    keys = getattr(layers[0], 'keys', None) if layers else None
    return 1 if keys is None else int(keys.shape[0])
