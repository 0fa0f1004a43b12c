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

"""Run a local video VLM through Hugging Face transformers.

Any model folder that loads with ``AutoModelForImageTextToText`` and ``AutoProcessor`` and has a
chat template works: Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision, VideoLLaMA3, SmolVLM2, ...
Nothing is downloaded; the folder must hold ``config.json`` and safetensors weights.

Frames go to the processor as numpy arrays, already subsampled to ``max_frames`` and shrunk to
``max_pixels`` here, so the cost of a prompt is bounded whatever the camera delivers.

How each architecture wants its video is absorbed in :mod:`.hf_prompt`. Besides:

* A generation prompt that ends without a space or newline (SmolVLM2's ``Assistant:``) makes the
  model answer `` A`` rather than ``A``: letter scores then count both tokens
  (:func:`_letter_token_groups`).

Optional 4-bit or 8-bit weights (``quantization``) load through bitsandbytes on a CUDA GPU.

A LoRA adapter folder (``adapter_config.json`` and ``adapter_model.safetensors``, as
``vlm-planner finetune --save-adapter`` writes) loads like a model folder: its base model, the
folder recorded in ``adapter_config.json`` (``base_model_name_or_path``, relative to the adapter
folder or absolute), is loaded and the adapter merged into it (kept separate on quantized
weights); the processor comes from the adapter folder when it holds one, else from the base.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
from pathlib import Path
import re
import threading
import time
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from transformers import (AutoModelForImageTextToText, AutoProcessor, StoppingCriteria,
                          StoppingCriteriaList)

from vlm_planner.core.chat import Generation, Message
from vlm_planner.errors import ConfigError, InferenceError, ModelLoadError
from vlm_planner.models.base import check_generation_args, VLMBackend
from vlm_planner.models.hf_prompt import (media_kwargs, sends_clips_as_images, temporal_patch_size,
                                          to_hf_chat)
from vlm_planner.models.model_card import ModelCard, read_model_card
from vlm_planner.models.prefix_cache import accepts, keep_logits, prefill, rope_holder
from vlm_planner.models.prepared_prompt import PreparedPrompt, PromptPreparer
from vlm_planner.models.prompt_reuse import PromptReuse
from vlm_planner.models.sampling import generate_samples
from vlm_planner.models.stage_times import StageTimes

logger = logging.getLogger(__name__)

DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16, 'float32': torch.float32}
#: Short spellings users type for the same dtypes.
DTYPE_ALIASES = {'bf16': 'bfloat16', 'fp16': 'float16', 'fp32': 'float32'}


_DEVICE_PATTERN = re.compile(r'auto|cpu|cuda(:\d+)?')

# BitsAndBytesConfig options of each ``quantization`` value (NF4 is the usual 4-bit format).
_QUANTIZATION_OPTIONS: dict[str, dict[str, Any]] = {
    '4bit': {'load_in_4bit': True, 'bnb_4bit_quant_type': 'nf4',
             'bnb_4bit_use_double_quant': True},
    '8bit': {'load_in_8bit': True},
}


_HINT = ('Run `vlm-planner make-tiny-model` for an offline test model, or point model.path at a '
         'folder with config.json, safetensors weights and the processor files.')

ADAPTER_CONFIG = 'adapter_config.json'
#: Longest prompt (tokens) whose KV cache is kept for the next decision by default.
DEFAULT_PROMPT_REUSE_TOKENS = 32768
#: Prepared media units kept per frame of the progress video (images, temporal patches, slack).
UNITS_PER_FRAME = 4
ADAPTER_WEIGHTS = 'adapter_model.safetensors'


class TransformersBackend(VLMBackend):
    """A video VLM from a local folder, run with transformers; safe to call from several threads.

    Attributes:
        name: the model folder's name.
        path: the model folder.
        device: the torch device the model runs on.
        dtype: the torch dtype of the weights.
        card: the folder's model card (:mod:`.model_card`): untrained or not, what it was trained
            on, how it is best asked.
        model: the loaded ``transformers`` model.
        processor: the loaded processor.
    """

    stages: StageTimes

    def __init__(self, *, path: str | Path, device: str = 'auto', dtype: str = 'auto',
                 attn_implementation: str = '', max_frames: int = 8, max_pixels: int = 448 * 448,
                 trust_remote_code: bool = False, quantization: str = '',
                 keyframe_cache: bool = True,
                 prompt_reuse_tokens: int = DEFAULT_PROMPT_REUSE_TOKENS,
                 video_fps: float = 0.0) -> None:
        """Load the model and processor in ``path``.

        Args:
            path: local model folder.
            device: ``'auto'`` (CUDA when available), ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
            dtype: ``'auto'`` (bfloat16 on CUDA, float32 on CPU), ``'bfloat16'``, ``'float16'``
                or ``'float32'``.
            attn_implementation: attention kernel such as ``'sdpa'`` or ``'flash_attention_2'``;
                empty for the model's default.
            max_frames: most video frames sent; longer clips are evenly subsampled keeping the
                last frame.
            max_pixels: pixel budget per frame or image; larger ones are shrunk to fit first.
            trust_remote_code: allow code shipped in the model folder to run.
            quantization: ``''`` (weights as ``dtype``), ``'4bit'`` (NF4) or ``'8bit'``; both
                need the bitsandbytes package and a CUDA device.
            keyframe_cache: prepare each keyframe once and keep its pixels and vision features
                for later decisions (architectures whose frames are encoded independently:
                Qwen2-VL, Qwen2.5-VL, Qwen3-VL prompts without a video; the others prepare every
                prompt whole).
            prompt_reuse_tokens: keep the KV cache of the last prompt up to this many tokens and
                run the next prompt from where they differ (needs ``keyframe_cache``); 0: off.
            video_fps: frame rate the progress video is said to have; 0: the mean rate of its
                keyframes (see :func:`~.hf_prompt.plan_clip`).

        Raises:
            ConfigError: an argument is invalid, quantization lacks bitsandbytes or CUDA, or the
                folder's model card is malformed.
            ModelLoadError: the folder is missing, is not a model folder, or fails to load.
        """
        if max_frames < 1:
            raise ConfigError(f'model.max_frames must be at least 1, got {max_frames}.')
        if max_pixels < 1:
            raise ConfigError(f'model.max_pixels must be at least 1, got {max_pixels}.')
        if video_fps < 0:
            raise ConfigError(f'model.video_fps must be 0 or more, got {video_fps}.')
        if prompt_reuse_tokens < 0:
            raise ConfigError(f'model.prompt_reuse_tokens must be 0 or more, got '
                              f'{prompt_reuse_tokens}.')
        self.path = Path(path).expanduser()
        self.name = self.path.name
        self.device = torch.device(_resolve_device(device))
        self.dtype = _resolve_dtype(dtype, self.device)
        quantization_config = _quantization_config(quantization, self.device, self.dtype)
        self.max_frames = max_frames
        self.max_pixels = max_pixels
        self.video_fps = video_fps
        self._lock = threading.Lock()
        self._interrupted_at = float('-inf')  # monotonic time of the last interrupt()
        _check_model_folder(self.path)
        self.card = read_model_card(self.path)
        self.processor, self.model = _load(
            self.path, self.device, self.dtype, attn_implementation, trust_remote_code,
            quantization_config)
        self._attach(keyframe_cache, prompt_reuse_tokens)

    @classmethod
    def from_model(cls, model: Any, processor: Any, *, name: str, card: ModelCard | None = None,
                   max_frames: int = 8, max_pixels: int = 448 * 448,
                   video_fps: float = 0.0) -> 'TransformersBackend':
        """Wrap a model already in memory, such as one being fine-tuned, as a backend.

        The model is used as it is (its device, dtype and mode); the caller switches it to
        ``eval()`` before asking and owns it afterwards (:meth:`close` only drops the reference).
        Its weights may change between calls (fine-tuning), so nothing that depends on them is
        kept: no vision features, no KV cache.

        Args:
            model: a loaded ``transformers`` image-text-to-text model.
            processor: its processor.
            name: the name decision records give the model.
            card: its model card (default: trained, nothing recommended).
            max_frames: most video frames sent.
            max_pixels: pixel budget per frame or image.
            video_fps: frame rate the progress video is said to have (0: its mean rate).
        """
        backend = cls.__new__(cls)
        backend.path = Path(name)
        backend.name = name
        parameter = next(model.parameters())
        backend.device, backend.dtype = parameter.device, parameter.dtype
        backend.max_frames, backend.max_pixels = max_frames, max_pixels
        backend.video_fps = video_fps
        backend._lock = threading.Lock()
        backend._interrupted_at = float('-inf')
        backend.card = card or ModelCard()
        backend.processor, backend.model = processor, model
        backend._attach(keyframe_cache=False, prompt_reuse_tokens=0)
        return backend

    def _attach(self, keyframe_cache: bool, prompt_reuse_tokens: int) -> None:
        """Derive what scoring and generation need from the loaded model and processor."""
        self._tokenizer = self.processor.tokenizer
        self._clips_as_images = sends_clips_as_images(self.processor)
        self._eos_ids = _eos_ids(self.model, self._tokenizer)
        self._cache_options = (keyframe_cache, prompt_reuse_tokens)
        if not isinstance(getattr(self, 'stages', None), StageTimes):
            self.stages = StageTimes()
        vision = _vision_tower(self.model)
        if vision is not None and vision is not getattr(self, '_watched', None):
            self.stages.watch(vision, 'vision')
            self._watched = vision
        self._inputs_checked = False
        self._preparer: PromptPreparer | None = None
        self._reuse: PromptReuse | None = None
        if not keyframe_cache:
            return
        preparer = PromptPreparer(self.processor, max_frames=self.max_frames,
                                  max_pixels=self.max_pixels,
                                  capacity=UNITS_PER_FRAME * (self.max_frames + 2),
                                  video_fps=self.video_fps)
        if not preparer.supported:
            logger.info('%s prepares every prompt whole: %s.', self.name, preparer.reason)
            return
        self._preparer = preparer
        if accepts(self.model.forward, 'mm_encoder_outputs') and \
                callable(getattr(getattr(self.model, 'model', None), 'get_rope_index', None)):
            self._reuse = PromptReuse(prompt_reuse_tokens)
        else:
            logger.info('%s cannot take precomputed vision features; every decision encodes '
                        'its frames.', self.name)

    def reset_caches(self, keyframe_cache: bool | None = None,
                     prompt_reuse_tokens: int | None = None) -> None:
        """Forget prepared keyframes, vision features and the kept prompt; optionally re-set them.

        Call it after the model's weights or the processor's settings changed; the next assembled
        prompt is checked against the processor again.

        Args:
            keyframe_cache: the new ``keyframe_cache`` setting (None: unchanged).
            prompt_reuse_tokens: the new ``prompt_reuse_tokens`` setting (None: unchanged).
        """
        cached, tokens = self._cache_options
        with self._lock:
            self._attach(cached if keyframe_cache is None else keyframe_cache,
                         tokens if prompt_reuse_tokens is None else prompt_reuse_tokens)

    @property
    def caching(self) -> str:
        """What this backend keeps between decisions, in words (for diagnostics and docs)."""
        if self._preparer is None:
            return 'nothing'
        if self._reuse is None:
            kept = 'prepared keyframes'
        elif self._reuse.max_tokens == 0:
            kept = 'prepared keyframes, vision features'
        else:
            kept = 'prepared keyframes, vision features, prompt prefix'
        reason = self._preparer.video_reason
        return f'{kept} (prompts with a video: nothing, {reason})' if reason else kept

    def score_letters(self, messages: Sequence[Message], letters: Sequence[str]) -> np.ndarray:
        """Return log-probabilities of ``letters`` as the reply's first token.

        One forward pass: the logits at the last prompt position are restricted to the letters'
        tokens before the softmax, so the exponentials of the result sum to 1. A letter's token is
        the letter itself; after a prompt that ends without whitespace, also the letter after a
        space where that is one token (see :func:`_letter_token_groups`).

        Raises:
            InferenceError: a letter is not a single token, or the model fails.
        """
        ids = self._letter_ids(letters)
        with self._lock, torch.inference_mode():
            prompt = self._prompt(messages)
            groups = _letter_token_groups(
                self._tokenizer, letters, ids, int(prompt.inputs['input_ids'][0, -1]))
            try:
                with self._prefill(prompt) as (output, _):
                    logits = output.logits[0, -1]
            except Exception as error:  # noqa: BLE001 - any failure inside the model
                raise _inference_error(error) from error
            scores = _letter_log_probs(logits, groups)
        return scores.cpu().numpy()

    def generate(self, messages: Sequence[Message], *, num_samples: int = 1,
                 temperature: float = 0.0, max_new_tokens: int = 128,
                 share_prefix: bool = True) -> list[Generation]:
        """Generate ``num_samples`` replies in one batched call, the prompt run once for all.

        Greedy when ``temperature`` is 0 (every reply is then the same); otherwise plain
        temperature sampling: the model's own top-k / top-p defaults are switched off, since some
        (Qwen2.5-VL-Instruct ships ``top_k=1``) would make every sample identical. The samples
        continue one shared run of the prompt (see :mod:`vlm_planner.models.sampling`);
        ``share_prefix=False`` copies the prompt for each instead (for comparison).

        Raises:
            ValueError: an argument is out of range.
            InferenceError: the model fails.
        """
        check_generation_args(num_samples, temperature, max_new_tokens)
        options: dict[str, Any]
        if temperature > 0:
            options = {'do_sample': True, 'temperature': float(temperature), 'top_k': 0,
                       'top_p': 1.0}
            count = num_samples
        else:
            options = {'do_sample': False, 'temperature': None, 'top_k': None, 'top_p': None}
            count = 1  # greedy decoding gives one reply; all requested samples are that reply
        started = time.monotonic()
        with self._lock, torch.inference_mode():
            if temperature > 0 and self.sampling_seed is not None:
                torch.manual_seed(self.sampling_seed)
            inputs = self._full_inputs(self._prompt(messages))
            try:
                with self.stages.time('decode'):
                    new_tokens = generate_samples(
                        self.model, inputs, count, share_prefix=share_prefix, **options,
                        max_new_tokens=max_new_tokens,
                        stopping_criteria=StoppingCriteriaList([_Interrupted(self, started)]),
                        pad_token_id=_pad_id(self.model, self._tokenizer))
            except Exception as error:  # noqa: BLE001 - any failure inside the model
                raise _inference_error(error) from error
            replies = [self._decode(row) for row in new_tokens]
        return replies if count == num_samples else replies * num_samples

    def interrupt(self) -> None:
        """Stop a generation under way at its next token (see :meth:`VLMBackend.interrupt`).

        A generation that starts within :data:`INTERRUPT_GRACE_S` after the call stops at once
        too, so a decision caught between two model calls ends as quickly.
        """
        self._interrupted_at = time.monotonic()

    def close(self) -> None:
        """Drop the model and free its GPU memory."""
        with self._lock:
            self.model = None
            if self.device.type == 'cuda':
                torch.cuda.empty_cache()

    @property
    def batches(self) -> bool:
        """Whether several prompts go through one forward pass (``*_many``).

        Models with multimodal rotary positions (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) place the
        tokens of a left-padded row from its attention mask; the others would number padding as
        positions, so their prompts are asked one by one.
        """
        holder = rope_holder(self.model)
        return holder is not None and callable(getattr(holder, 'get_rope_index', None))

    def score_letters_many(self, prompts: Sequence[Sequence[Message]],
                           letters: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Return :meth:`score_letters` of several prompts, from one batched forward pass.

        Models that cannot batch (:attr:`batches`) are asked one prompt at a time.

        Raises:
            InferenceError: a letter is not a single token, or the model fails.
        """
        if len(prompts) < 2 or not self.batches:
            return super().score_letters_many(prompts, letters)
        ids = [self._letter_ids(row) for row in letters]
        with self._lock, torch.inference_mode():
            inputs = self._batch(prompts)
            try:
                with self.stages.time('prefill'):
                    logits = self.model(**inputs, **keep_logits(self.model, 1)).logits[:, -1]
            except Exception as error:  # noqa: BLE001 - any failure inside the model
                raise _inference_error(error) from error
            self.stages.add_tokens(int(inputs['attention_mask'].sum()), 0)
            return [_letter_log_probs(logits[row], _letter_token_groups(
                self._tokenizer, letters[row], ids[row], int(inputs['input_ids'][row, -1])))
                .cpu().numpy() for row in range(len(prompts))]

    def score_continuations_many(self, prompts: Sequence[Sequence[Message]],
                                 continuations: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Return :meth:`score_continuations` of several prompts, from two batched passes.

        The prompts in one, then every continuation of every prompt in one more; models that
        cannot batch (:attr:`batches`) are asked one prompt at a time.

        Raises:
            InferenceError: a continuation has no tokens, or the model fails.
        """
        from vlm_planner.models.likelihood import (encode_continuations, score_after_prompts,
                                                   UNSHAREABLE)

        if len(prompts) < 2 or not self.batches or self.model in UNSHAREABLE:
            return super().score_continuations_many(prompts, continuations)
        ids = [encode_continuations(self._tokenizer, row) for row in continuations]
        with self._lock, torch.inference_mode():
            inputs = self._batch(prompts)
            try:
                with self.stages.time('prefill'):
                    output, cache = prefill(self.model, inputs)
                with self.stages.time('decode'):
                    scores = score_after_prompts(self.model, output, cache, ids,
                                                 inputs['attention_mask'])
            except Exception as error:  # noqa: BLE001 - any failure inside the model
                raise _inference_error(error) from error
            self.stages.add_tokens(int(inputs['attention_mask'].sum()), 0)
        if scores is None:
            return super().score_continuations_many(prompts, continuations)
        return scores

    def _batch(self, prompts: Sequence[Sequence[Message]]) -> dict[str, Any]:
        """The prompts' inputs, one left-padded row each, on the model's device."""
        if self.model is None:
            raise InferenceError(f'the backend of {self.name} is closed.')
        with self.stages.time('prepare'):
            return self._on_device(dict(batch_inputs(
                self.processor, prompts, max_frames=self.max_frames, max_pixels=self.max_pixels,
                name=self.name, video_fps=self.video_fps)))

    def _letter_ids(self, letters: Sequence[str]) -> list[int]:
        if not letters:
            raise InferenceError('no answer letters to score.')
        ids = []
        for letter in letters:
            encoded = self._tokenizer.encode(letter, add_special_tokens=False)
            if len(encoded) != 1:
                raise InferenceError(
                    f'answer letter {letter!r} is {len(encoded)} tokens for the tokenizer of '
                    f'{self.name}, not one; use single-character letters such as A, B, C, D.')
            ids.append(encoded[0])
        if len(set(ids)) != len(ids):
            raise InferenceError(f'answer letters {list(letters)} are not distinct tokens.')
        return ids

    def _prompt(self, messages: Sequence[Message]) -> PreparedPrompt:
        """The prompt's inputs on the model's device (pixels in the weights' dtype).

        Assembled from prepared keyframes where the architecture allows; the first such prompt is
        checked against the processor's own output, and a mismatch switches assembly off.
        """
        if self.model is None:
            raise InferenceError(f'the backend of {self.name} is closed.')
        with self.stages.time('prepare'):
            prompt = self._preparer.prepare(messages) if self._preparer is not None else None
            if prompt is not None and not self._inputs_checked:
                self._check_assembly(messages, prompt)
                if self._preparer is None:
                    prompt = None
            if prompt is None:
                inputs = prompt_inputs(self.processor, messages, max_frames=self.max_frames,
                                       max_pixels=self.max_pixels, name=self.name,
                                       video_fps=self.video_fps)
                prompt = PreparedPrompt(dict(inputs), [], [], inputs['input_ids'][0])
            prompt.inputs = self._on_device(prompt.inputs)
        return prompt

    def _on_device(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """``inputs`` on the model's device, pixels in the weights' dtype (the vision tower's)."""
        moved = {}
        for key, value in inputs.items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if key.startswith('pixel_values') and torch.is_floating_point(value):
                    value = value.to(self.dtype)
            moved[key] = value
        return moved

    def _full_inputs(self, prompt: PreparedPrompt) -> dict[str, Any]:
        """The prompt's inputs with its pixels, for a forward pass that encodes them itself."""
        return self._on_device(prompt.full_inputs())

    def _check_assembly(self, messages: Sequence[Message], prompt: PreparedPrompt) -> None:
        """Compare an assembled prompt with the processor's; switch assembly off if they differ."""
        self._inputs_checked = True
        reference = prompt_inputs(self.processor, messages, max_frames=self.max_frames,
                                  max_pixels=self.max_pixels, name=self.name,
                                  video_fps=self.video_fps)
        assembled = prompt.full_inputs()
        differing = sorted(set(reference) ^ set(assembled)) or [
            key for key in reference if not torch.equal(reference[key], assembled[key])]
        if differing:
            logger.warning('%s: prompts assembled from prepared keyframes differ from the '
                           "processor's (%s); preparing every prompt whole instead.",
                           self.name, ', '.join(differing))
            self._preparer = self._reuse = None

    @contextlib.contextmanager
    def _prefill(self, prompt: PreparedPrompt, logits: int = 1) -> Iterator[tuple[Any, Any]]:
        """Run the prompt (from the kept prefix where possible); yield (output, KV cache)."""
        if self._reuse is None or not prompt.videos and not prompt.images:
            with self.stages.time('prefill'):
                output, cache = prefill(self.model, self._full_inputs(prompt), logits)
            self.stages.add_tokens(int(prompt.inputs['input_ids'].shape[1]), 0)
            yield output, cache
            return
        with self.stages.time('prefill'):
            output, cache = self._reuse.run(self.model, prompt, self.dtype, logits)
        stats = self._reuse.last
        self.stages.add_tokens(stats.tokens - stats.reused, stats.reused)
        yield output, cache
        self._reuse.keep(cache)

    def _decode(self, tokens: torch.Tensor) -> Generation:
        tokens = tokens.tolist()
        length = next((i + 1 for i, t in enumerate(tokens) if t in self._eos_ids), len(tokens))
        text = self._tokenizer.decode(tokens[:length], skip_special_tokens=True)
        return Generation(text=text.strip(), num_tokens=length)

    def score_continuations(self, messages: Sequence[Message], continuations: Sequence[str], *,
                            share_prefix: bool = True) -> np.ndarray:
        """Return the mean log-probability per token of each continuation as the reply.

        The prompt, video and image included, runs once; all continuations are then scored in one
        batched pass over its KV cache (see :mod:`vlm_planner.models.likelihood`).

        Args:
            messages: the conversation; the assistant's reply starts right after it.
            continuations: candidate replies, for example the action labels.
            share_prefix: False scores each continuation with its own full forward pass over
                prompt + continuation (the reference path of the tests and benchmarks).

        Raises:
            InferenceError: a continuation has no tokens, or the model fails.
        """
        from vlm_planner.models.likelihood import (encode_continuations, score_after_prompt,
                                                   score_continuations_naive, UNSHAREABLE)

        ids = encode_continuations(self._tokenizer, continuations)
        with self._lock, torch.inference_mode():
            prompt = self._prompt(messages)
            try:
                scores = None
                if share_prefix and self.model not in UNSHAREABLE:
                    with self._prefill(prompt) as (output, cache):
                        with self.stages.time('decode'):
                            scores = score_after_prompt(self.model, output, cache, ids)
                if scores is None:
                    with self.stages.time('decode'):
                        scores = score_continuations_naive(self.model, self._full_inputs(prompt),
                                                           ids)
            except Exception as error:  # noqa: BLE001 - any failure inside the model
                raise _inference_error(error) from error
            return scores


def prompt_inputs(processor: Any, messages: Sequence[Message], *, max_frames: int,
                  max_pixels: int, name: str = 'the model', video_fps: float = 0.0) -> Any:
    """Return the processor's inputs (on the CPU) for ``messages``, ready for the reply.

    What every backend call sends, and what fine-tuning appends its target tokens to: the chat
    template with the generation prompt, frames subsampled to ``max_frames`` and shrunk to
    ``max_pixels``.

    Raises:
        InferenceError: the processor rejects the prompt.
    """
    return batch_inputs(processor, [messages], max_frames=max_frames, max_pixels=max_pixels,
                        name=name, video_fps=video_fps)


def batch_inputs(processor: Any, prompts: Sequence[Sequence[Message]], *, max_frames: int,
                 max_pixels: int, name: str = 'the model', video_fps: float = 0.0) -> Any:
    """The processor's inputs for several prompts, one row each, padded on the left.

    Left padding ends every row with its own last prompt token, so the last position's logits
    and the KV cache continue each prompt (see :func:`prompt_inputs` for one prompt).

    Raises:
        InferenceError: the processor rejects a prompt.
    """
    clips_as_images = sends_clips_as_images(processor)
    conversations, images, clips = [], [], []
    for messages in prompts:
        conversation, prompt_images, prompt_clips = to_hf_chat(
            messages, max_frames, max_pixels, temporal_patch_size(processor), clips_as_images,
            video_fps)
        conversations.append(conversation)
        images += prompt_images
        clips += prompt_clips
    try:
        texts = [processor.apply_chat_template(conversation, add_generation_prompt=True,
                                               tokenize=False) for conversation in conversations]
        kwargs = media_kwargs(processor, images, clips, clips_as_images)
        padding = {'padding': True, 'padding_side': 'left'} if len(texts) > 1 else {}
        return processor(text=texts, return_tensors='pt', **padding, **kwargs)
    except Exception as error:  # noqa: BLE001 - processors raise many kinds of errors
        raise InferenceError(f'the processor of {name} rejected the prompt: {error}') from error


def is_adapter_folder(path: str | Path) -> bool:
    """Whether ``path`` holds a LoRA adapter (``adapter_config.json``) rather than a model."""
    return (Path(path) / ADAPTER_CONFIG).is_file()


def adapter_base(path: str | Path) -> Path:
    """Return the base model folder recorded in the adapter folder ``path``.

    Raises:
        ModelLoadError: the adapter config is unreadable or names no base folder that exists.
    """
    path = Path(path)
    config = path / ADAPTER_CONFIG
    try:
        recorded = json.loads(config.read_text(encoding='utf-8'))['base_model_name_or_path']
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f'{config} is not a readable LoRA adapter config with '
                             f'base_model_name_or_path ({error}).') from error
    base = Path(str(recorded)).expanduser()
    base = base if base.is_absolute() else (path / base)
    if not base.is_dir():
        raise ModelLoadError(
            f'the LoRA adapter in {path} was trained on the base model {recorded!r}, and no such '
            f'folder exists here; copy the base model there, or set base_model_name_or_path in '
            f'{config} to where it is.')
    return base


def load_pretrained(path: str | Path, *, dtype: torch.dtype,
                    attn_implementation: str = '', trust_remote_code: bool = False,
                    quantization_config: Any = None, device: torch.device | None = None,
                    merge_adapter: bool = True) -> tuple[Any, Any]:
    """Load the processor and model of a model folder or of a LoRA adapter folder.

    An adapter folder's base model is loaded and the adapter applied: merged into the weights
    (``merge_adapter``, not possible on quantized weights) or kept as LoRA layers.

    Args:
        path: model or adapter folder.
        dtype: torch dtype of the weights.
        attn_implementation: attention kernel; empty for the model's default.
        trust_remote_code: allow code shipped in the folder to run.
        quantization_config: a ``BitsAndBytesConfig``, or None for full weights.
        device: where quantized weights are placed (the others load on the CPU).
        merge_adapter: merge an adapter into the base weights.

    Raises:
        ModelLoadError: the folder, its base or its adapter fails to load.
    """
    path = Path(path)
    adapter = is_adapter_folder(path)
    base = adapter_base(path) if adapter else path
    options: dict[str, Any] = {'local_files_only': True, 'trust_remote_code': trust_remote_code}
    quantized: dict[str, Any] = {}
    if quantization_config is not None:
        # bitsandbytes places the quantized weights itself; they cannot be moved afterwards.
        quantized = {'quantization_config': quantization_config,
                     'device_map': {'': str(device or 'cuda')}}
    has_processor = any((path / name).is_file() for name in (
        'processor_config.json', 'preprocessor_config.json', 'tokenizer_config.json'))
    try:
        processor = AutoProcessor.from_pretrained(path if has_processor else base, **options)
        model = AutoModelForImageTextToText.from_pretrained(
            base, dtype=dtype, use_safetensors=True,
            attn_implementation=attn_implementation or None, **quantized, **options)
    except Exception as error:  # noqa: BLE001 - transformers raises many kinds of errors
        raise ModelLoadError(f'cannot load the model in {base}: {error}. {_HINT}') from error
    if adapter:
        model = _with_adapter(model, path, merge=merge_adapter and not quantized)
    return processor, model


def _with_adapter(model: Any, path: Path, merge: bool) -> Any:
    """``model`` with the LoRA adapter in ``path`` applied (merged, or as LoRA layers)."""
    try:
        from peft import PeftModel
    except ImportError as error:
        raise ModelLoadError(f'{path} is a LoRA adapter folder, and loading it needs the peft '
                             'package: pip install peft.') from error
    try:
        peft_model = PeftModel.from_pretrained(model, path, is_trainable=False)
    except Exception as error:  # noqa: BLE001 - peft raises many kinds of errors
        raise ModelLoadError(f'cannot apply the LoRA adapter in {path} to its base model: '
                             f'{error}') from error
    return peft_model.merge_and_unload() if merge else peft_model.get_base_model()


def _resolve_device(device: str) -> str:
    if not _DEVICE_PATTERN.fullmatch(device):
        raise ConfigError(
            f'model.device is {device!r}; use auto, cpu, cuda or cuda:N (for example cuda:0).')
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError(
            f'model.device is {device!r} but torch sees no CUDA device; use cpu or auto.')
    return device


def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == 'auto':
        return torch.bfloat16 if device.type == 'cuda' else torch.float32
    dtype = DTYPE_ALIASES.get(dtype, dtype)
    if dtype not in DTYPES:
        raise ConfigError(f'model.dtype is {dtype!r}; use auto, {", ".join(DTYPES)} '
                          f'(or {", ".join(DTYPE_ALIASES)}).')
    return DTYPES[dtype]


def _check_model_folder(path: Path) -> None:
    if not path.is_dir():
        raise ModelLoadError(f'model folder {path} does not exist. {_HINT}')
    if is_adapter_folder(path):
        if not (path / ADAPTER_WEIGHTS).is_file():
            raise ModelLoadError(f'{path} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}: the '
                                 'LoRA adapter is incomplete; train or copy it again.')
        _check_model_folder(adapter_base(path))
        return
    if not (path / 'config.json').is_file():
        raise ModelLoadError(f'{path} is not a model folder: it has no config.json. {_HINT}')
    if not any(path.glob('*.safetensors')):
        raise ModelLoadError(f'{path} has no safetensors weights (*.safetensors). {_HINT}')


def _quantization_config(quantization: str, device: torch.device, dtype: torch.dtype) -> Any:
    """Return the ``BitsAndBytesConfig`` of ``quantization``, or ``None`` for full weights.

    Raises:
        ConfigError: the value is unknown, or bitsandbytes or a CUDA device is missing.
    """
    if not quantization:
        return None
    if quantization not in _QUANTIZATION_OPTIONS:
        raise ConfigError(f'model.quantization is {quantization!r}; use an empty string (none), '
                          f'{", ".join(_QUANTIZATION_OPTIONS)}.')
    missing = []
    if importlib.util.find_spec('bitsandbytes') is None:
        missing.append('the bitsandbytes package (pip install bitsandbytes)')
    if device.type != 'cuda':
        missing.append(f'a CUDA GPU (model.device is {device.type})')
    if missing:
        raise ConfigError(f'model.quantization {quantization} needs {" and ".join(missing)}; '
                          f'or set model.quantization to an empty string for full weights.')
    from transformers import BitsAndBytesConfig

    options = dict(_QUANTIZATION_OPTIONS[quantization])
    if quantization == '4bit':
        options['bnb_4bit_compute_dtype'] = dtype
    return BitsAndBytesConfig(**options)


def _load(path: Path, device: torch.device, dtype: torch.dtype, attn_implementation: str,
          trust_remote_code: bool, quantization_config: Any = None) -> tuple[Any, Any]:
    processor, model = load_pretrained(
        path, dtype=dtype, attn_implementation=attn_implementation,
        trust_remote_code=trust_remote_code, quantization_config=quantization_config,
        device=device)
    quantized = quantization_config is not None
    if not getattr(processor, 'chat_template', None) or not hasattr(processor, 'tokenizer'):
        raise ModelLoadError(
            f'the processor in {path} has no chat template or tokenizer; an instruction-tuned '
            f'video VLM (with chat_template.jinja) is needed. {_HINT}')
    try:
        if not quantized:
            model.to(device)
    except RuntimeError as error:  # CUDA out of memory included
        raise ModelLoadError(
            f'cannot move the model in {path} to {device}: {error}. Try a smaller dtype or '
            f'model.device: cpu.') from error
    model.eval()
    logger.info('loaded %s (%s) on %s as %s', path.name, type(model).__name__, device, dtype)
    return processor, model


def _vision_tower(model: Any) -> Any:
    """The model's vision encoder module (for timing), or None where it has none we know."""
    for owner in (getattr(model, 'model', None), model):
        for name in ('visual', 'vision_tower', 'vision_model'):
            module = getattr(owner, name, None)
            if module is not None and callable(getattr(module, 'register_forward_hook', None)):
                return module
    return None


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = getattr(model.generation_config, 'eos_token_id', None)
    if eos is None:
        eos = tokenizer.eos_token_id
    return set(eos) if isinstance(eos, (list, tuple)) else ({eos} if eos is not None else set())


def _pad_id(model: Any, tokenizer: Any) -> int | None:
    pad = getattr(model.generation_config, 'pad_token_id', None)
    if pad is None:
        pad = tokenizer.pad_token_id
    if pad is None:
        pad = next(iter(sorted(_eos_ids(model, tokenizer))), None)
    return pad


def _inference_error(error: Exception) -> InferenceError:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return InferenceError(
            f'out of GPU memory while answering: {error}. Lower model.max_frames or '
            f'model.max_pixels, or use a smaller dtype.')
    return InferenceError(f'the model failed while answering: {error}')


def _letter_token_groups(tokenizer: Any, letters: Sequence[str], ids: Sequence[int],
                         last_prompt_token: int) -> list[list[int]]:
    """Per-template quirk: the tokens each answer letter can start the reply with.

    A letter's own token; after a generation prompt that ends without whitespace (SmolVLM2's
    ``Assistant:``), where models answer with a space, also its space-prefixed token (`` A``) if
    the tokenizer has that as one token distinct from all others.

    Args:
        tokenizer: the model's tokenizer.
        letters: the answer letters.
        ids: the single token of each letter.
        last_prompt_token: the last token of the prompt.
    """
    ends_in_space = tokenizer.decode([last_prompt_token])[-1:].isspace()
    if ends_in_space:
        return [[i] for i in ids]
    taken = set(ids)
    groups = []
    for letter, bare in zip(letters, ids):
        group = [bare]
        spaced = tokenizer.encode(' ' + letter, add_special_tokens=False)
        if len(spaced) == 1 and spaced[0] not in taken:
            taken.add(spaced[0])
            group.append(spaced[0])
        groups.append(group)
    return groups


def _letter_log_probs(logits: torch.Tensor, groups: Sequence[Sequence[int]]) -> torch.Tensor:
    """Log-probability of each token group, normalised over the tokens of all groups."""
    log_probs = torch.log_softmax(logits[[i for group in groups for i in group]].double(), dim=-1)
    return torch.stack([torch.logsumexp(part, dim=0)
                        for part in log_probs.split([len(group) for group in groups])])


#: Seconds before a generation's start during which an interrupt still stops it.
INTERRUPT_GRACE_S = 1.0


class _Interrupted(StoppingCriteria):
    """Ends generation at the next token once the backend was interrupted (checked per token)."""

    def __init__(self, backend: 'TransformersBackend', started: float) -> None:
        self.backend = backend
        self.started = started

    def __call__(self, input_ids, scores, **kwargs) -> 'torch.Tensor':
        stop = self.backend._interrupted_at >= self.started - INTERRUPT_GRACE_S
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool,
                          device=input_ids.device)
