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

"""Turn chat messages into a transformers processor's inputs, whatever the architecture.

Architectures take videos differently; small helpers below absorb each difference, found from the
processor rather than from the model's name, so that relatives of these models work too:

* Every processor gets the chosen frames as they are (``do_sample_frames=False``) with video
  metadata: frame rate and frame indices (:class:`_Clip`). Qwen3-VL, VideoLLaMA3 and SmolVLM2 write
  per-frame timestamps into the prompt from them and fail without them.
* Qwen2-VL, Qwen2.5-VL and Qwen3-VL embed frames in pairs (temporal patch 2): clips are padded to
  an even frame count (:func:`_pad_to_temporal_patch`); Qwen3-VL rejects a one-frame clip else.
* VideoLLaMA3 shares one pixel budget among a clip's frames and drops patches that repeat the
  previous frame; LLaVA-OneVision resizes every frame to its vision tower's square and lists a
  message's images before its videos. Their processors do that; nothing to adapt here.
* SmolVLM2's processor returns images and videos under one key (``pixel_values``), so a prompt with
  both would lose one of them. Its clips, and those of any model whose processor has no video
  processor, go as a sequence of images (:func:`_clip_as_images`) in SmolVLM2's own video wording:
  an intro, then ``Frame from MM:SS:`` before each frame. Image splitting into tiles is then
  switched off, as SmolVLM2 does for video frames, so every frame costs one tile.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Callable, Sequence

import numpy as np

from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.errors import InferenceError
from vlm_planner.models.framing import (fit_pixels, fit_size, pad_shape, padded_size, resize,
                                        subsample_indices)

# Frame rate reported for clips whose stamps give none (one frame, equal stamps); the rate
# qwen-vl-utils samples videos at.
DEFAULT_VIDEO_FPS = 2.0

# SmolVLM2's video wording, used for clips sent as a sequence of images.
_CLIP_INTRO = ('You are provided the following series of {count} frames from a {duration} '
               '[H:MM:SS] video.\n')
_CLIP_FRAME = '\nFrame from {minutes:02d}:{seconds:02d}:'
_CLIP_OUTRO = '\n\n'


def sends_clips_as_images(processor: Any) -> bool:
    """Whether clips go to ``processor`` as a sequence of images rather than as videos.

    True where it has no video processor, or one whose outputs would overwrite the image
    processor's (SmolVLM2 names both ``pixel_values``, so a prompt with both loses one).
    """
    video_processor = getattr(processor, 'video_processor', None)
    if video_processor is None:
        return True
    image_processor = getattr(processor, 'image_processor', None)
    image_outputs = set(getattr(image_processor, 'model_input_names', None) or ())
    return bool(image_outputs & set(getattr(video_processor, 'model_input_names', None) or ()))


@dataclasses.dataclass(frozen=True)
class _Clip:
    """A video as sent to the processor.

    Attributes:
        frames: T x H x W x 3 frames, all of the newest frame's size.
        indices: index of each frame at ``fps``; a frame repeated as padding repeats its index.
        fps: frame rate the indices count at.
    """

    frames: np.ndarray
    indices: tuple[int, ...]
    fps: float

    @property
    def timestamps(self) -> list[float]:
        """Seconds from the first frame to each frame."""
        return [index / self.fps for index in self.indices]

    def metadata(self) -> dict[str, Any]:
        """Return the processor's video metadata; processors derive frame timestamps from it."""
        return clip_metadata(self.indices, self.fps, self.frames.shape[1], self.frames.shape[2])


def clip_metadata(indices: Sequence[int], fps: float, height: int, width: int) -> dict[str, Any]:
    """The processor's video metadata of a clip of frames at ``indices`` (counted at ``fps``)."""
    return {'total_num_frames': len(indices), 'fps': fps, 'frames_indices': list(indices),
            'duration': indices[-1] / fps, 'height': height, 'width': width}


def to_hf_chat(messages: Sequence[Message], max_frames: int, max_pixels: int,
               temporal_patch_size: int, clips_as_images: bool = False, video_fps: float = 0.0,
               ) -> tuple[list[dict], list[np.ndarray], list[_Clip]]:
    """Turn our messages into the HF chat format plus the prompt's images and clips.

    Images and clips are listed in prompt order, the order the processor matches them to the
    placeholders of the chat template. With ``clips_as_images`` each clip's frames are listed
    among the images too (see :func:`_clip_as_images`). ``video_fps`` is the frame rate clips
    are said to have (0: each clip's mean rate, see :func:`plan_clip`).
    """
    images: list[np.ndarray] = []
    clips: list[_Clip] = []

    def media(part: ImagePart | VideoPart) -> list[dict]:
        if isinstance(part, ImagePart):
            images.append(fit_pixels(part.frame.image, max_pixels))
            return [{'type': 'image'}]
        if clips_as_images:
            clips.append(video_clip(part.frames, max_frames, max_pixels, 1, video_fps))
            parts, frames = _clip_as_images(clips[-1])
            images.extend(frames)
            return parts
        clips.append(video_clip(part.frames, max_frames, max_pixels, temporal_patch_size,
                                video_fps))
        return [{'type': 'video'}]

    return chat_structure(messages, media), images, clips


def chat_structure(messages: Sequence[Message],
                   media: Callable[[ImagePart | VideoPart], list[dict]]) -> list[dict]:
    """The HF chat format of ``messages``; ``media`` turns each image or video into its entries.

    Raises:
        InferenceError: a message holds a part of an unknown kind.
    """
    conversation = []
    for message in messages:
        content: list[dict] = []
        for part in message.content:
            if isinstance(part, TextPart):
                content.append({'type': 'text', 'text': part.text})
            elif isinstance(part, (ImagePart, VideoPart)):
                content.extend(media(part))
            else:
                raise InferenceError(f'unsupported message part {type(part).__name__}.')
        conversation.append({'role': message.role, 'content': content})
    return conversation


def _clip_as_images(clip: _Clip) -> tuple[list[dict], list[np.ndarray]]:
    """Per-architecture quirk: a clip as chat parts of text and images, in SmolVLM2's wording.

    SmolVLM2's own video prompt: an intro with the frame count and duration, then
    ``Frame from MM:SS:`` and the image of each frame.
    """
    duration = datetime.timedelta(seconds=int(clip.timestamps[-1]))
    content = [{'type': 'text',
                'text': _CLIP_INTRO.format(count=_number_words(len(clip.frames)),
                                           duration=duration)}]
    for stamp in clip.timestamps:
        minutes, seconds = divmod(int(stamp), 60)
        content.append({'type': 'text', 'text': _CLIP_FRAME.format(minutes=minutes,
                                                                   seconds=seconds)})
        content.append({'type': 'image'})
    content.append({'type': 'text', 'text': _CLIP_OUTRO})
    return content, list(clip.frames)


def _number_words(count: int) -> str:
    """``count`` in words (``three``) as SmolVLM2 writes it, in digits without num2words."""
    try:
        from num2words import num2words
    except ImportError:
        return str(count)
    return num2words(count)


def media_kwargs(processor: Any, images: list[np.ndarray], clips: list[_Clip],
                 clips_as_images: bool) -> dict[str, Any]:
    """Processor arguments for the prompt's images and clips."""
    kwargs: dict[str, Any] = {}
    if images:
        kwargs['images'] = images
    if clips and clips_as_images:
        kwargs.update(frame_image_options(processor))
    elif clips:
        # Frames are chosen already: the processor must not resample them.
        kwargs.update(videos=[clip.frames for clip in clips],
                      video_metadata=[clip.metadata() for clip in clips], do_sample_frames=False)
    return kwargs


def frame_image_options(processor: Any) -> dict[str, Any]:
    """Per-architecture quirk: image options for a prompt whose images include a clip's frames.

    Processors that split large images into tiles (SmolVLM2, Idefics3) keep video frames whole, one
    tile each; without this a clip of 8 frames could cost a hundred tiles.
    """
    image_processor = getattr(processor, 'image_processor', None)
    if getattr(image_processor, 'do_image_splitting', False):
        return {'do_image_splitting': False}
    return {}


@dataclasses.dataclass(frozen=True)
class ClipPlan:
    """Which frames a clip sends and at what size, decided before any pixel is touched.

    Attributes:
        frames: the chosen frames in time order, the last repeated to fill the temporal patch.
        indices: index of each frame at ``fps``; a frame repeated as padding repeats its index.
        fps: frame rate the indices count at.
        height: height every frame is sent at (the newest frame's, within the pixel budget).
        width: width every frame is sent at.
    """

    frames: tuple[Frame, ...]
    indices: tuple[int, ...]
    fps: float
    height: int
    width: int

    def metadata(self) -> dict[str, Any]:
        """Return the clip's video metadata, as the processor takes it."""
        return clip_metadata(self.indices, self.fps, self.height, self.width)

    def clip(self) -> _Clip:
        """The clip itself: every frame padded to a safe shape and resized."""
        return _Clip(np.stack([sized(frame, self.height, self.width) for frame in self.frames]),
                     self.indices, self.fps)


def plan_clip(frames: Sequence[Frame], max_frames: int, max_pixels: int,
              temporal_patch_size: int, video_fps: float = 0.0) -> ClipPlan:
    """Choose a clip's frames (subsampled, padded to the temporal patch) and their size.

    The clip's frame rate is ``video_fps``, or with 0 the mean rate of the chosen frames (one
    frame, or frames with equal stamps: :data:`DEFAULT_VIDEO_FPS`). Models with temporal rotary
    positions (Qwen2.5-VL) place frames by it; a fixed rate keeps the positions of the frames
    already sent unchanged when a keyframe is added, which lets the next prompt reuse them
    (:mod:`.prompt_reuse`).
    """
    if not frames:
        raise InferenceError('a video in the prompt has no frames.')
    chosen = [frames[i] for i in subsample_indices(len(frames), max_frames)]
    span = chosen[-1].stamp - chosen[0].stamp
    fps = (len(chosen) - 1) / span if len(chosen) > 1 and span > 0 else DEFAULT_VIDEO_FPS
    fps = video_fps or fps
    # All frames take the newest frame's (safe) size so that they stack into one array.
    height, width = fit_size(*padded_size(*chosen[-1].image.shape[:2]), max_pixels)
    indices = _pad_to_temporal_patch(list(range(len(chosen))), temporal_patch_size)
    return ClipPlan(tuple(chosen[i] for i in indices), tuple(indices), fps, height, width)


def video_clip(frames: Sequence[Frame], max_frames: int, max_pixels: int,
               temporal_patch_size: int, video_fps: float = 0.0) -> _Clip:
    """Return the clip sent for ``frames``: subsampled, resized, padded to the temporal patch."""
    return plan_clip(frames, max_frames, max_pixels, temporal_patch_size, video_fps).clip()


def image_size(frame: Frame, max_pixels: int) -> tuple[int, int]:
    """Height and width an image is sent at (see :func:`~.framing.fit_pixels`)."""
    return fit_size(*padded_size(*frame.image.shape[:2]), max_pixels)


def sized(frame: Frame, height: int, width: int) -> np.ndarray:
    """``frame``'s image padded to a safe shape and resized to ``height`` x ``width``."""
    return resize(pad_shape(frame.image), height, width)


def temporal_patch_size(processor: Any) -> int:
    """Frames the processor's video encoder takes per temporal patch (1 when it has none)."""
    video_processor = getattr(processor, 'video_processor', None)
    return int(getattr(video_processor, 'temporal_patch_size', None) or 1)


def _pad_to_temporal_patch(indices: list[int], temporal_patch_size: int) -> list[int]:
    """Per-architecture video quirk: make the frame count a multiple of the temporal patch.

    Qwen2-VL, Qwen2.5-VL and Qwen3-VL embed frames in pairs (``temporal_patch_size`` 2), so a clip
    needs an even number of frames; a single frame becomes two copies of itself (Qwen3-VL rejects
    a one-frame clip). The processors of transformers 5 pad the same way on their own, but padding
    here keeps the frame count given in the video metadata equal to what the model sees, on every
    version. Models without temporal patches (size 1) are left alone.

    Args:
        indices: indices of the clip's frames.
        temporal_patch_size: frames per temporal patch.

    Returns:
        ``indices`` with the last one repeated as often as needed.
    """
    missing = -len(indices) % temporal_patch_size
    return indices + [indices[-1]] * missing
