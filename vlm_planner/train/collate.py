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

"""Training items as model inputs: the planner's prompt, the reply appended, labels on the reply.

:class:`Encoder` runs a :class:`~vlm_planner.train.items.TrainingItem`'s messages through the
same code as every backend call (:func:`vlm_planner.models.hf.prompt_inputs`: chat template with
the generation prompt, frames subsampled and shrunk the same way), then appends the reply's tokens
exactly as likelihood scoring appends a candidate (:mod:`vlm_planner.models.likelihood`) and the
end-of-turn token. Labels are ``-100`` (ignored) everywhere but on the reply, so the loss is on
the assistant's reply tokens only.

:func:`collate` stacks encoded items into one batch: token rows right-padded (the padding
masked and unlabelled), media tensors concatenated along their first dimension, which is how
every supported processor lays out a batch. Items whose media tensors differ beyond the first
dimension (SmolVLM2 prompts with different numbers of images) cannot stack; they go as batches of
one and their losses add up the same way.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from vlm_planner.models import prefix_cache
from vlm_planner.models.hf import prompt_inputs
from vlm_planner.models.likelihood import _append as append_tokens
from vlm_planner.models.likelihood import encode_continuations
from vlm_planner.train.items import TrainingItem

IGNORE = -100
LABELS = 'labels'
#: Keys with one entry per token, and what pads them.
TOKEN_FILLS = {prefix_cache.TOKEN_IDS: 0, LABELS: IGNORE,
               **{key: 0 for key in (*prefix_cache.TOKEN_MASKS, *prefix_cache.TOKEN_TYPES)}}

Batch = dict[str, torch.Tensor]


class Encoder:
    """Turns training items into model inputs with labels (see module docstring).

    Args:
        processor: the model's processor.
        max_frames: most video frames sent (``model.max_frames``).
        max_pixels: pixel budget per frame (the planner's ``model.max_pixels`` in effect).
        name: the model's name, for messages.
    """

    def __init__(self, processor: Any, *, max_frames: int, max_pixels: int,
                 name: str = 'the model', video_fps: float = 0.0) -> None:
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.max_frames = max_frames
        self.max_pixels = max_pixels
        self.video_fps = video_fps
        self.name = name
        self.end_id = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.end_id or 0))

    def reply_ids(self, target: str) -> list[int]:
        """The reply's tokens as scoring reads them, then the end-of-turn token."""
        ids = encode_continuations(self.tokenizer, [target])[0]
        return ids + ([int(self.end_id)] if self.end_id is not None else [])

    def encode(self, item: TrainingItem) -> Batch:
        """Return the inputs of ``item`` (a batch of one, on the CPU) with ``labels``.

        Raises:
            InferenceError: the processor rejects the prompt, or the reply has no tokens.
        """
        inputs = prompt_inputs(self.processor, item.messages, max_frames=self.max_frames,
                               max_pixels=self.max_pixels, name=self.name,
                               video_fps=self.video_fps)
        prompt_length = inputs[prefix_cache.TOKEN_IDS].shape[1]
        encoded = dict(append_tokens(inputs, self.reply_ids(item.target)))
        labels = encoded[prefix_cache.TOKEN_IDS].clone()
        labels[:, :prompt_length] = IGNORE
        encoded[LABELS] = labels
        return encoded


def collate(examples: Sequence[Batch], pad_id: int = 0) -> list[Batch]:
    """Stack encoded items into one batch, or return them as batches of one (see module doc).

    Args:
        examples: encoded items (batches of one), each with ``labels``.
        pad_id: token id written into padding (masked, so any id does).
    """
    examples = list(examples)
    if len(examples) < 2 or not _stackable(examples):
        return examples
    width = max(example[prefix_cache.TOKEN_IDS].shape[1] for example in examples)
    batch: Batch = {}
    for key in dict.fromkeys(key for example in examples for key in example):
        tensors = [example[key] for example in examples if key in example]
        if key in TOKEN_FILLS:
            fill = pad_id if key == prefix_cache.TOKEN_IDS else TOKEN_FILLS[key]
            tensors = [_pad_right(tensor, width, fill) for tensor in tensors]
        batch[key] = torch.cat(tensors, dim=0)
    return [batch]


def _stackable(examples: Sequence[Batch]) -> bool:
    """Whether every key is in all items or (media) has equal shapes beyond the first dim."""
    keys = {key for example in examples for key in example}
    for key in keys:
        tensors = [example[key] for example in examples if key in example]
        if key in TOKEN_FILLS:
            if len(tensors) != len(examples):
                return False
        elif any(t.shape[1:] != tensors[0].shape[1:] for t in tensors):
            return False
    return True


def _pad_right(tensor: torch.Tensor, width: int, fill: int) -> torch.Tensor:
    missing = width - tensor.shape[1]
    if not missing:
        return tensor
    padding = torch.full((tensor.shape[0], missing), fill, dtype=tensor.dtype)
    return torch.cat([tensor, padding], dim=1)
