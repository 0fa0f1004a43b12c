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

"""Full-answer log-likelihood of candidate replies, with the prompt computed once for all of them.

EgoPlan-Bench ranks candidate actions by the loss of each candidate's text as the assistant's reply
and picks the lowest. The score here is the negative of that loss: the mean log-probability per
token of the candidate given the prompt (higher is better).

Scoring K candidates naively costs K forward passes over prompt + candidate, and the prompt (a
video, an image and a question: hundreds to thousands of tokens) dominates each of them. The shared
path runs the prompt once with its KV cache, expands that cache to a batch of K, and scores all
candidates in one batched pass over it:

* the first token of each candidate is predicted by the prompt's last logits;
* the candidates, right-padded to the longest, are fed after the cached prompt with an attention
  mask hiding the padding; only their first ``max_len - 1`` tokens are fed, as the last token of a
  candidate predicts nothing that is scored;
* their position ids continue the prompt's. Models with multimodal rotary embeddings (Qwen2-VL,
  Qwen2.5-VL, Qwen3-VL) number the tokens after a video or image with an offset the prefill
  stores on the model as ``rope_deltas``; the continuation's positions add that offset and are
  given for all three rotary sections (time, height, width), which are equal for text tokens.
  ``cache_position`` is given too where the model's forward takes it (transformers 5 reads the
  write position off the cache).

:func:`score_continuations_naive` is the reference: one full forward pass over prompt + candidate
per candidate. Models whose cache cannot be expanded to a batch fall back to it, with one warning
per model class.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from vlm_planner.errors import InferenceError
from vlm_planner.models import prefix_cache

# Padding token of the continuation batch: any valid id works, the attention mask hides it.
_PAD_ID = 0

UNSHAREABLE = prefix_cache.Unshareable('scoring each candidate with its own full forward pass')


def encode_continuations(tokenizer: Any, continuations: Sequence[str]) -> list[list[int]]:
    """Tokenise each continuation as the text of the assistant's reply (no special tokens).

    Args:
        tokenizer: the model's tokenizer.
        continuations: candidate replies, for example action labels.

    Raises:
        InferenceError: there is no continuation, or one has no tokens.
    """
    if not continuations:
        raise InferenceError('no continuations to score.')
    encoded = []
    for text in continuations:
        ids = list(tokenizer.encode(text, add_special_tokens=False))
        if not ids:
            raise InferenceError(
                f'continuation {text!r} has no tokens; every candidate needs text.')
        encoded.append(ids)
    return encoded


def score_continuations(model: Any, inputs: Mapping[str, Any],
                        continuations: Sequence[Sequence[int]], *,
                        share_prefix: bool = True) -> np.ndarray:
    """Return the mean log-probability per token of each continuation after the prompt.

    Call it under ``torch.inference_mode()``.

    Args:
        model: a causal ``transformers`` (vision-)language model.
        inputs: the processor's output for the prompt (batch of one), on the model's device and
            ending with the generation prompt, so that a continuation is the assistant's reply.
        continuations: the token ids of each continuation, none empty.
        share_prefix: compute the prompt once and score all continuations in one batched pass
            over its KV cache; False scores each with its own full forward pass.

    Returns:
        A float64 array with one score per continuation (the negative of EgoPlan-Bench's loss).
    """
    _check_continuations(continuations)
    if share_prefix and model not in UNSHAREABLE:
        scores = _score_shared(model, inputs, continuations)
        if scores is not None:
            return scores
    return score_continuations_naive(model, inputs, continuations)


def score_continuations_naive(model: Any, inputs: Mapping[str, Any],
                              continuations: Sequence[Sequence[int]]) -> np.ndarray:
    """Score each continuation with one full forward pass over prompt + continuation.

    The reference :func:`score_continuations` is checked against; it costs one prompt pass (video
    and image included) per continuation. Arguments and result as for
    :func:`score_continuations`.
    """
    _check_continuations(continuations)
    scores = []
    for ids in continuations:
        length = len(ids)
        # Logits at the prompt's last position and at all but the continuation's last token.
        output = model(**_append(inputs, ids), use_cache=False,
                       **prefix_cache.keep_logits(model, length + 1))
        logits = output.logits[0, -(length + 1):-1].float()
        targets = torch.as_tensor(ids, device=logits.device)
        token_logp = torch.log_softmax(logits, dim=-1).gather(-1, targets[:, None])
        scores.append(token_logp.double().mean().item())
    return np.asarray(scores, dtype=np.float64)


def _check_continuations(continuations: Sequence[Sequence[int]]) -> None:
    if not continuations:
        raise InferenceError('no continuations to score.')
    if any(len(ids) == 0 for ids in continuations):
        raise InferenceError('a continuation has no tokens; every candidate needs text.')


def _score_shared(model: Any, inputs: Mapping[str, Any],
                  continuations: Sequence[Sequence[int]]) -> np.ndarray | None:
    """Prefix-shared scores, or None when the model cannot share its prompt's cache."""
    if prefix_cache.cache_argument(model) is None:
        UNSHAREABLE.add(model, 'its forward pass takes no KV cache')
        return None
    output, cache = prefix_cache.prefill(model, inputs)
    return score_after_prompt(model, output, cache, continuations)


def score_after_prompt(model: Any, output: Any, cache: Any,
                       continuations: Sequence[Sequence[int]]) -> np.ndarray | None:
    """Score the continuations over a prompt already run: its ``output`` and KV ``cache``.

    The cache is extended and repeated along the batch in place. Returns None (and remembers the
    model class in :data:`UNSHAREABLE`) when the model cannot share its cache this way.
    """
    scores = score_after_prompts(model, output, cache, [continuations])
    return None if scores is None else scores[0]


def score_after_prompts(model: Any, output: Any, cache: Any,
                        continuations: Sequence[Sequence[Sequence[int]]],
                        prompt_mask: torch.Tensor | None = None) -> list[np.ndarray] | None:
    """Score each prompt's continuations over a batch of prompts already run (left-padded).

    Row ``i`` of the prompts' ``output`` and KV ``cache`` is followed by each continuation of
    ``continuations[i]``: the cache's rows are repeated accordingly (in place) and every
    continuation of every prompt is scored in one batched pass. ``prompt_mask`` is the prompts'
    attention mask (None: no padding). Returns None (and remembers the model class in
    :data:`UNSHAREABLE`) when the model cannot share its cache this way.
    """
    for group in continuations:
        _check_continuations(group)
    cache_argument = prefix_cache.cache_argument(model)
    if cache_argument is None or not prefix_cache.expandable(cache):
        UNSHAREABLE.add(model, f'its cache ({type(cache).__name__}) cannot be expanded to a batch')
        return None
    device = output.logits.device
    counts = torch.as_tensor([len(group) for group in continuations], device=device)
    rows = torch.repeat_interleave(torch.arange(len(continuations), device=device), counts)
    targets, lengths = _right_pad([ids for group in continuations for ids in group], device)
    token_logp = torch.zeros(targets.shape, dtype=torch.float32, device=device)
    first = torch.log_softmax(output.logits[:, -1].float(), dim=-1)[rows]
    token_logp[:, 0] = first.gather(-1, targets[:, :1]).squeeze(-1)
    if targets.shape[1] > 1:
        holder = prefix_cache.rope_holder(model)
        offsets = prefix_cache.rope_offsets(holder, len(continuations), device)[rows]
        if len(continuations) == 1:
            cache.batch_repeat_interleave(len(rows))
        else:
            cache.batch_select_indices(rows)
        mask = None if prompt_mask is None else prompt_mask[rows]
        token_logp[:, 1:] = _later_token_logp(
            model, cache, cache_argument, targets, lengths, offsets, holder is not None, mask)
    return np.split(_masked_mean(token_logp, lengths), np.cumsum(counts.tolist())[:-1])


def _later_token_logp(model: Any, cache: Any, cache_argument: str, targets: torch.Tensor,
                      lengths: torch.Tensor, offsets: torch.Tensor, multimodal_rope: bool,
                      prompt_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Log-probabilities of the continuations' tokens after the first, in one batched pass.

    Args:
        model: the model.
        cache: the prompts' KV cache, one row per continuation already.
        cache_argument: the name under which the model's forward takes the cache.
        targets: right-padded continuation ids, K x W.
        lengths: each continuation's length.
        offsets: each row's multimodal rotary offset (0 for plain rotary embeddings).
        multimodal_rope: give position ids for the three rotary sections of Qwen-VL models.
        prompt_mask: each row's prompt attention mask (None: the prompt has no padding).

    Returns:
        K x (W - 1) log-probabilities of ``targets[:, 1:]`` (padding positions hold garbage).
    """
    count, width = targets.shape[0], targets.shape[1] - 1
    prefix = cache.get_seq_length()
    steps = torch.arange(width, device=targets.device)
    if prompt_mask is None:
        prompt_mask = torch.ones(count, prefix, dtype=torch.long, device=targets.device)
    mask = torch.cat([prompt_mask.long(), (steps[None] < lengths[:, None]).long()], dim=1)
    # A row's positions go on from its own prompt tokens: padding takes none.
    positions = (prompt_mask.long().sum(-1) + offsets)[:, None] + steps[None]
    if multimodal_rope:
        positions = positions[None].expand(3, count, width)
    kwargs = {cache_argument: cache}
    if prefix_cache.accepts(model.forward, 'cache_position'):
        kwargs['cache_position'] = prefix + steps
    output = model(input_ids=targets[:, :-1], attention_mask=mask, position_ids=positions,
                   use_cache=True, **kwargs)
    logp = torch.log_softmax(output.logits[:, -width:].float(), dim=-1)
    return logp.gather(-1, targets[:, 1:, None]).squeeze(-1)


def _right_pad(continuations: Sequence[Sequence[int]],
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.as_tensor([len(ids) for ids in continuations], device=device)
    targets = torch.full((len(continuations), int(lengths.max())), _PAD_ID, dtype=torch.long,
                         device=device)
    for row, ids in enumerate(continuations):
        targets[row, :len(ids)] = torch.as_tensor(ids, device=device)
    return targets, lengths


def _masked_mean(token_logp: torch.Tensor, lengths: torch.Tensor) -> np.ndarray:
    valid = torch.arange(token_logp.shape[1], device=token_logp.device)[None] < lengths[:, None]
    totals = torch.where(valid, token_logp.double(), 0.0).sum(dim=1)
    return (totals / lengths.double()).cpu().numpy()


def _append(inputs: Mapping[str, Any], ids: Sequence[int]) -> dict[str, Any]:
    """The prompt's inputs with ``ids`` appended as text tokens."""
    prompt = inputs[prefix_cache.TOKEN_IDS]
    extra = torch.as_tensor([list(ids)], dtype=prompt.dtype, device=prompt.device)
    appended = dict(inputs)
    appended[prefix_cache.TOKEN_IDS] = torch.cat([prompt, extra], dim=1)
    fills = [(k, 1) for k in prefix_cache.TOKEN_MASKS] + [(k, 0) for k in prefix_cache.TOKEN_TYPES]
    for key, fill in fills:
        if inputs.get(key) is not None:
            appended[key] = torch.cat([inputs[key], torch.full_like(extra, fill)], dim=1)
    return appended
