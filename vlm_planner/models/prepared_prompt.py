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

"""Prompt inputs assembled from keyframes that were each prepared once.

Between two decisions the keyframe buffer usually changes by a frame or two, yet the processor
would resize, normalise and patchify every frame again. Here each *media unit* is prepared once and
kept with its frames (in a cache keyed by the frames themselves, :class:`UnitCache`): an image, or
one temporal patch of a clip (Qwen-VL models embed a video's frames in pairs, and each pair's
patches and vision features depend on that pair alone). A decision renders the chat text, asks the
processor for the placeholder text of each image and clip from the assembled grids, tokenises, and
concatenates the units' tensors. The result equals the processor's own output for the same prompt
(tested per architecture); the vision features of each unit are cached on it too
(:mod:`.vision_cache`).

Only processors whose media split into independent units this way are assembled: Qwen2-VL and
Qwen2.5-VL (per-frame pixel budgets), and Qwen3-VL for prompts without a video (its images are
independent; it sizes a clip's frames from the clip's frame count, so a prompt with a video goes
to its processor whole, :attr:`PromptPreparer.video_reason`). Others prepare the whole prompt
through the processor on every call, and :attr:`PromptPreparer.reason` says why: VideoLLaMA3
shares one pixel budget among a clip's frames and drops repeated patches, LLaVA-OneVision pads
images to a common tile count, and SmolVLM2 batches images into one padded tensor.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import re
from typing import Any, Sequence
import weakref

import torch

from vlm_planner.core.chat import ImagePart, Message, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.errors import InferenceError
from vlm_planner.models.hf_prompt import (chat_structure, clip_metadata, ClipPlan, image_size,
                                          plan_clip, sized, temporal_patch_size)

#: Processor classes whose images and temporal patches are prepared one by one.
DECOMPOSABLE = frozenset({'Qwen2VLProcessor', 'Qwen2_5_VLProcessor'})
#: Processor classes whose images are prepared one by one, but not their videos: prompts with a
#: video go to the processor whole.
IMAGES_ONLY = frozenset({'Qwen3VLProcessor'})

#: Distinct placeholder replacement texts whose token ids are kept.
REPLACEMENTS_KEPT = 64
#: Distinct pieces of prompt text whose token ids are kept.
SEGMENTS_KEPT = 256

#: Why the other supported architectures prepare whole prompts, by processor class.
_WHY_NOT = {
    'Qwen3VLProcessor': "its video processor sizes a clip's frames from the clip's frame count",
    'VideoLlama3Processor': "it shares one pixel budget among a clip's frames and drops patches "
                            'that repeat the previous frame',
    'LlavaOnevisionProcessor': 'it pads the images of a prompt to a common tile count',
    'SmolVLMProcessor': 'it batches the images of a prompt into one padded tensor',
}


@dataclasses.dataclass(eq=False)
class MediaUnit:
    """An image, or one temporal patch of a clip, as the model takes it.

    Attributes:
        serial: a number no other unit of this cache has; prompts compare units by it.
        modality: ``'image'`` or ``'video'``.
        pixels: the processor's patches of the unit (rows x patch values).
        grid: its 1 x 3 (temporal, height, width) grid of patches.
        tokens: language-model tokens it stands for.
        features: its vision features once encoded (:mod:`.vision_cache`), else None.
    """

    serial: int
    modality: str
    pixels: torch.Tensor
    grid: torch.Tensor
    tokens: int
    features: Any = None
    deepstack: list[torch.Tensor] | None = None  # Qwen3-VL: its features for deeper layers
    output_type: type | None = None  # the class the vision tower's output came in


@dataclasses.dataclass
class PreparedPrompt:
    """A prompt's model inputs and the media units they were assembled from.

    Attributes:
        inputs: what the processor returns for the prompt (input ids, masks, grids...) but the
            pixels, which :meth:`full_inputs` adds: a forward pass over the units' cached vision
            features needs none.
        images: the units of each image, in prompt order.
        videos: the units of each clip, in prompt order.
        keys: one entry per token: the token id, or minus the serial of the unit a media token
            belongs to; two prompts agree up to where their keys first differ.
    """

    inputs: dict[str, torch.Tensor]
    images: list[list[MediaUnit]]
    videos: list[list[MediaUnit]]
    keys: torch.Tensor

    def units(self, modality: str) -> list[MediaUnit]:
        """Every unit of ``modality`` in prompt order."""
        groups = self.images if modality == 'image' else self.videos
        return [unit for group in groups for unit in group]

    def full_inputs(self) -> dict[str, torch.Tensor]:
        """The inputs with every unit's pixels, exactly as the processor returns them."""
        pixels = {}
        for modality, name in (('image', 'pixel_values'), ('video', 'pixel_values_videos')):
            units = self.units(modality)
            if units:
                pixels[name] = torch.cat([unit.pixels for unit in units])
        return {**self.inputs, **pixels}


class UnitCache:
    """Prepared units and frames, keyed by the frames they were made from (LRU order).

    An entry holds weak references to its frames: a frame that was dropped (and whose ``id`` a new
    frame may reuse) never matches again, so units live as long as their keyframes are in use.
    """

    def __init__(self, capacity: int) -> None:
        """Keep at most ``capacity`` entries (at least 1)."""
        self.capacity = max(1, capacity)
        self._entries: collections.OrderedDict[tuple, tuple[tuple, Any]] = \
            collections.OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, frames: Sequence[Frame], detail: tuple) -> Any:
        """What was made from ``frames`` with ``detail`` (kind, size), or None."""
        key = (tuple(id(frame) for frame in frames), detail)
        entry = self._entries.get(key)
        if entry is None or any(ref() is not frame for ref, frame in zip(entry[0], frames)):
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, frames: Sequence[Frame], detail: tuple, unit: Any) -> None:
        """Keep ``unit`` for ``frames`` and ``detail``, dropping the oldest beyond capacity."""
        key = (tuple(id(frame) for frame in frames), detail)
        self._entries[key] = (tuple(weakref.ref(frame) for frame in frames), unit)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every unit."""
        self._entries.clear()


class SegmentTokens:
    """Token ids of prompt texts, each piece between two special tokens tokenised once.

    A tokeniser splits its text at added (special) tokens before anything else, so a text's ids
    are its pieces' ids side by side. The fixed parts of a chat prompt (role headers, the
    wording around the frames) then cost a dictionary look-up per decision; only the text that
    changed (the goal, the progress times, the options) is tokenised.
    """

    def __init__(self, tokenizer: Any, capacity: int = SEGMENTS_KEPT) -> None:
        """Split at ``tokenizer``'s added tokens; keep the ids of ``capacity`` pieces."""
        self._tokenizer = tokenizer
        self._added: dict[str, int] = dict(tokenizer.get_added_vocab())
        names = sorted(self._added, key=len, reverse=True)
        self._split = re.compile('(' + '|'.join(map(re.escape, names)) + ')') if names else None
        self._capacity = capacity
        self._pieces: collections.OrderedDict[str, list[int]] = collections.OrderedDict()

    def ids(self, text: str) -> list[int]:
        """The token ids of ``text``, without the tokeniser's own special tokens around it."""
        ids: list[int] = []
        for piece in (self._split.split(text) if self._split else [text]):
            if piece in self._added:
                ids.append(self._added[piece])
            elif piece:
                ids += self._piece(piece)
        return ids

    def _piece(self, piece: str) -> list[int]:
        ids = self._pieces.get(piece)
        if ids is None:
            ids = list(self._tokenizer(piece, add_special_tokens=False)['input_ids'])
            self._pieces[piece] = ids
            if len(self._pieces) > self._capacity:
                self._pieces.popitem(last=False)
        else:
            self._pieces.move_to_end(piece)
        return ids


def why_not_decomposable(processor: Any, *, videos: bool = True) -> str:
    """Return '' when ``processor``'s prompts can be assembled from units, else the reason.

    With ``videos`` False, for prompts that hold images only.
    """
    name = type(processor).__name__
    if name in IMAGES_ONLY and not videos:
        return ''
    if name not in DECOMPOSABLE:
        return _WHY_NOT.get(name, f'{name} is not known to prepare frames independently')
    if getattr(getattr(processor, 'video_processor', None), 'cap_pixels_per_frame', False):
        return 'its video processor caps pixels per frame by the clip\'s frame count'
    return ''


class PromptPreparer:
    """Builds a prompt's model inputs, preparing every image and temporal patch once.

    Not thread-safe: the backend calls it under its lock.
    """

    def __init__(self, processor: Any, *, max_frames: int, max_pixels: int,
                 capacity: int, video_fps: float = 0.0) -> None:
        """Set up for ``processor``; :attr:`reason` is non-empty when it cannot assemble.

        Args:
            processor: the model's processor.
            max_frames: most frames of a clip.
            max_pixels: pixel budget per frame.
            capacity: most prepared units kept.
            video_fps: frame rate clips are said to have (0: each clip's mean rate).
        """
        self.processor = processor
        self.max_frames = max_frames
        self.max_pixels = max_pixels
        self.video_fps = video_fps
        self.reason = why_not_decomposable(processor, videos=False)
        #: Why prompts with a video go to the processor whole ('' when they are assembled too).
        self.video_reason = why_not_decomposable(processor)
        self.units = UnitCache(capacity)
        self._serials = itertools.count(1)
        if self.reason:
            return
        merged = processor._merge_kwargs(tokenizer_init_kwargs=processor.tokenizer.init_kwargs,
                                         return_tensors='pt', do_sample_frames=False)
        self._image_kwargs = merged['images_kwargs']
        self._video_kwargs = merged['videos_kwargs']
        self._token_types = bool(merged.get('return_mm_token_type_ids'))
        self._temporal_patch = temporal_patch_size(processor)
        self._merge = int(processor.video_processor.merge_size) ** 2
        self._patch_pixels = int(processor.video_processor.patch_size) ** 2
        self._second_per_grid = 'second_per_grid_ts' in processor.model_input_names
        tokenizer = processor.tokenizer
        self._token_ids = {'image': tokenizer.convert_tokens_to_ids(processor.image_token),
                           'video': tokenizer.convert_tokens_to_ids(processor.video_token)}
        # Token ids of each placeholder's replacement text (a few distinct grid sizes).
        self._replacement_ids: collections.OrderedDict[str, list[int]] = \
            collections.OrderedDict()
        self._segments = SegmentTokens(tokenizer)

    @property
    def supported(self) -> bool:
        """Whether prompts are assembled from prepared units."""
        return not self.reason

    def prepare(self, messages: Sequence[Message]) -> PreparedPrompt | None:
        """Return the model inputs of ``messages`` (on the CPU) and their units.

        None when the prompt holds a video this processor cannot assemble
        (:attr:`video_reason`): the caller prepares it whole.

        Raises:
            InferenceError: the processor rejects a frame or the prompt.
        """
        if self.video_reason and any(isinstance(part, VideoPart) for message in messages
                                     for part in message.content):
            return None
        images: list[list[MediaUnit]] = []
        clips: list[list[MediaUnit]] = []
        plans: list[ClipPlan] = []

        def media(part: ImagePart | VideoPart) -> list[dict]:
            if isinstance(part, ImagePart):
                images.append([self._image_unit(part.frame)])
                return [{'type': 'image'}]
            plans.append(plan_clip(part.frames, self.max_frames, self.max_pixels,
                                   self._temporal_patch, self.video_fps))
            clips.append(self._clip_units(plans[-1]))
            return [{'type': 'video'}]

        conversation = chat_structure(messages, media)
        try:
            inputs = self._inputs(conversation, images, clips, plans)
        except Exception as error:  # noqa: BLE001 - processors raise many kinds of errors
            raise InferenceError(f'the processor rejected the prompt: {error}') from error
        keys = inputs['input_ids'][0].clone()
        for modality, groups in (('image', images), ('video', clips)):
            units = [unit for group in groups for unit in group]
            if units:
                keys[keys == self._token_ids[modality]] = torch.cat(
                    [torch.full((unit.tokens,), -unit.serial) for unit in units])
        return PreparedPrompt(inputs, images, clips, keys)

    def _inputs(self, conversation: list[dict], images: list[list[MediaUnit]],
                clips: list[list[MediaUnit]], plans: list[ClipPlan]) -> dict[str, torch.Tensor]:
        """Replicate the processor's call from prepared units (see ``ProcessorMixin.__call__``)."""
        from transformers.video_utils import VideoMetadata

        processor = self.processor
        text = processor.apply_chat_template(conversation, add_generation_prompt=True,
                                             tokenize=False)
        media: dict[str, torch.Tensor] = {}
        if images:
            media['image_grid_thw'] = torch.cat([group[0].grid for group in images])
        if clips:
            media['video_grid_thw'] = torch.stack(
                [torch.cat([torch.tensor([len(group)]), group[0].grid[0, 1:]]) for group in clips])
        metadata = [VideoMetadata(**plan.metadata()) for plan in plans]
        described = dict(media, video_metadata=metadata)
        image_texts = [processor.replace_image_token(described, image_idx=i)
                       for i in range(len(images))]
        video_texts = [processor.replace_video_token(described, video_idx=i, **self._video_kwargs)
                       for i in range(len(clips))]
        inputs = {'input_ids': self._expanded(self._segments.ids(text), image_texts,
                                              video_texts)}
        inputs['attention_mask'] = torch.ones_like(inputs['input_ids'])
        if self._token_types:
            inputs['mm_token_type_ids'] = torch.as_tensor(
                processor.create_mm_token_type_ids(inputs['input_ids']))
        inputs.update(media)
        if clips and self._second_per_grid:
            inputs['second_per_grid_ts'] = torch.tensor(
                [self._temporal_patch / plan.fps for plan in plans])
        return inputs

    def _expanded(self, row: list[int], image_texts: list[str],
                  video_texts: list[str]) -> torch.Tensor:
        """``row`` (token ids) with each placeholder replaced by its replacement's tokens, 1 x n.

        What the processor gets by tokenising the text with the replacements in it: placeholders
        are special tokens, so the text on either side is tokenised alike.
        """
        replacements = {'image': iter(image_texts), 'video': iter(video_texts)}
        placeholder = {token: modality for modality, token in self._token_ids.items()}
        pieces: list[list[int]] = []
        start = 0
        for position, token in enumerate(row):
            modality = placeholder.get(token)
            if modality is None:
                continue
            pieces += [row[start:position], self._replacement(next(replacements[modality]))]
            start = position + 1
        pieces.append(row[start:])
        return torch.tensor([[token for piece in pieces for token in piece]], dtype=torch.long)

    def _replacement(self, text: str) -> list[int]:
        ids = self._replacement_ids.get(text)
        if ids is None:
            ids = self.processor.tokenizer(text, add_special_tokens=False)['input_ids']
            self._replacement_ids[text] = ids
            if len(self._replacement_ids) > REPLACEMENTS_KEPT:
                self._replacement_ids.popitem(last=False)
        return ids

    def _image_unit(self, frame: Frame) -> MediaUnit:
        height, width = image_size(frame, self.max_pixels)
        detail = ('image', height, width)
        unit = self.units.get((frame,), detail)
        if unit is None:
            processed, _ = self.processor._process_images([sized(frame, height, width)],
                                                          **self._image_kwargs)
            unit = self._unit('image', processed['pixel_values'], processed['image_grid_thw'])
            self.units.put((frame,), detail, unit)
        return unit

    def _clip_units(self, plan: ClipPlan) -> list[MediaUnit]:
        units = []
        step = self._temporal_patch
        for start in range(0, len(plan.frames), step):
            frames = plan.frames[start:start + step]
            detail = ('video', plan.height, plan.width)
            unit = self.units.get(frames, detail)
            if unit is None:
                patches = [self._frame_patches(frame, plan) for frame in frames]
                pixels = torch.stack([patch for patch, _ in patches], dim=2)
                unit = self._unit('video', pixels.reshape(pixels.shape[0], -1), patches[0][1])
                self.units.put(frames, detail, unit)
            units.append(unit)
        return units

    def _frame_patches(self, frame: Frame, plan: ClipPlan) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame's video patches (rows x channels x pixels of a patch) and its grid.

        The processor patchifies a one-frame clip (repeating the frame to fill the temporal
        patch); the first temporal slice of each patch is the frame's own, so a temporal patch of
        any frames is their slices side by side, the values the processor computes for the clip.
        """
        detail = ('frame', plan.height, plan.width)
        cached = self.units.get((frame,), detail)
        if cached is None:
            metadata = clip_metadata([0], plan.fps, plan.height, plan.width)
            processed, _ = self.processor._process_videos(
                [sized(frame, plan.height, plan.width)[None]], video_metadata=[metadata],
                **self._video_kwargs)
            rows = processed['pixel_values_videos']
            channels = rows.shape[1] // (self._temporal_patch * self._patch_pixels)
            patches = rows.reshape(rows.shape[0], channels, self._temporal_patch, -1)[:, :, 0]
            cached = (patches.contiguous(), processed['video_grid_thw'])
            self.units.put((frame,), detail, cached)
        return cached

    def _unit(self, modality: str, pixels: torch.Tensor, grid: torch.Tensor) -> MediaUnit:
        return MediaUnit(next(self._serials), modality, pixels, grid,
                         int(grid.prod()) // self._merge)
