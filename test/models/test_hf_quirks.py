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

"""The per-architecture adaptations of TransformersBackend, and optional quantized loading."""

from __future__ import annotations

import importlib.util
import types

import numpy as np
import pytest
import torch

from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.errors import ConfigError
from vlm_planner.models import hf
from vlm_planner.models.framing import fit_pixels
from vlm_planner.models.hf import (_letter_log_probs, _letter_token_groups, _quantization_config,
                                   TransformersBackend)
from vlm_planner.models.hf_prompt import (frame_image_options, media_kwargs, sends_clips_as_images,
                                          to_hf_chat, video_clip)
from vlm_planner.models.tiny import ensure_tiny_model

#: Architectures whose processor cannot hold a video and an image in one prompt.
CLIPS_AS_IMAGES = {'smolvlm'}


def ask(*parts) -> list[Message]:
    """Build a one-message user prompt."""
    return [Message('user', tuple(parts))]


@pytest.fixture
def video(make_frame):
    """Return a video of three frames one second apart."""
    return VideoPart(tuple(make_frame('noise', stamp=float(t)) for t in range(3)))


class LetterTokenizer:
    """A tokenizer stub: known strings encode to fixed ids, everything else to two tokens."""

    def __init__(self, table: dict[str, list[int]], last: str) -> None:
        self.table = table
        self.last = last

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self.table.get(text, [998, 999])

    def decode(self, ids: list[int]) -> str:
        return self.last


def test_clips_go_as_images_only_where_the_processor_needs_it(arch_backend, arch):
    assert arch_backend._clips_as_images is (arch in CLIPS_AS_IMAGES)


def test_a_processor_without_video_processor_gets_images():
    image_only = types.SimpleNamespace(
        image_processor=types.SimpleNamespace(model_input_names=['pixel_values']))

    assert sends_clips_as_images(image_only) is True


def test_clip_metadata_gives_the_processor_frame_timestamps(video):
    paired = video_clip(video.frames, 8, 56 * 56, temporal_patch_size=2)
    single = video_clip(video.frames, 8, 56 * 56, temporal_patch_size=1)

    assert paired.indices == (0, 1, 2, 2) and paired.frames.shape[0] == 4
    np.testing.assert_array_equal(paired.frames[3], paired.frames[2])
    assert single.indices == (0, 1, 2) and single.fps == pytest.approx(1.0)
    metadata = paired.metadata()
    assert metadata['frames_indices'] == [0, 1, 2, 2] and metadata['fps'] == pytest.approx(1.0)
    assert metadata['total_num_frames'] == 4 and metadata['duration'] == pytest.approx(2.0)
    assert (metadata['height'], metadata['width']) == paired.frames.shape[1:3]


def test_videos_reach_the_processor_unsampled_with_metadata(video):
    clip = video_clip(video.frames, 8, 56 * 56, temporal_patch_size=1)

    kwargs = media_kwargs(object(), [], [clip], clips_as_images=False)

    assert kwargs['do_sample_frames'] is False
    assert kwargs['videos'][0] is clip.frames
    assert kwargs['video_metadata'] == [clip.metadata()]
    assert 'images' not in kwargs


def test_clip_as_images_uses_smolvlm_video_wording(video, make_frame):
    current = make_frame('stripes', 3.0)

    conversation, images, clips = to_hf_chat(
        ask(video, ImagePart(current), TextPart('Next?')), 8, 56 * 56, 2, clips_as_images=True)

    content = conversation[0]['content']
    assert len(images) == 4 and len(clips) == 1 and clips[0].indices == (0, 1, 2)
    assert [part['type'] for part in content].count('image') == 4
    texts = [part['text'] for part in content if part['type'] == 'text']
    assert texts[0].startswith('You are provided the following series of three frames')
    assert '0:00:02 [H:MM:SS] video' in texts[0]
    assert texts[1:4] == ['\nFrame from 00:00:', '\nFrame from 00:01:', '\nFrame from 00:02:']
    assert texts[-1] == 'Next?'
    np.testing.assert_array_equal(images[-1], fit_pixels(current.image, 56 * 56))


def test_frames_as_images_are_not_split_into_tiles():
    splitting = types.SimpleNamespace(
        image_processor=types.SimpleNamespace(do_image_splitting=True))
    plain = types.SimpleNamespace(image_processor=types.SimpleNamespace())

    assert frame_image_options(splitting) == {'do_image_splitting': False}
    assert frame_image_options(plain) == {}
    frame = np.zeros((4, 4, 3), np.uint8)
    kwargs = media_kwargs(splitting, [frame], [object()], clips_as_images=True)
    assert kwargs.keys() == {'images', 'do_image_splitting'} and kwargs['images'][0] is frame


def test_smolvlm_prompt_holds_every_frame_and_the_image(tiny_cache, video, make_frame):
    backend = TransformersBackend(
        path=ensure_tiny_model(cache_dir=tiny_cache, arch='smolvlm'), device='cpu')

    inputs = backend._prompt(ask(video, ImagePart(make_frame('white')), TextPart('Next?'))).inputs

    text = backend._tokenizer.decode(inputs['input_ids'][0])
    assert 'series of three frames' in text and 'Frame from 00:02:' in text
    # Three frames and the current image, one tile each, in one batch of images.
    assert inputs['pixel_values'].shape[:2] == (1, 4)
    assert text.endswith('Assistant:')


def test_spaced_letters_count_after_a_prompt_without_whitespace():
    table = {'A': [1], 'B': [2], 'C': [3], ' A': [11], ' B': [12], ' C': [1]}

    after_colon = _letter_token_groups(LetterTokenizer(table, ':'), 'ABCD', [1, 2, 3, 4], 0)
    after_newline = _letter_token_groups(LetterTokenizer(table, '\n'), 'ABCD', [1, 2, 3, 4], 0)

    # ' C' is taken by 'A' and ' D' is two tokens: those letters keep their own token only.
    assert after_colon == [[1, 11], [2, 12], [3], [4]]
    assert after_newline == [[1], [2], [3], [4]]


def test_letter_log_probs_add_up_each_letters_tokens():
    logits = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])

    scores = _letter_log_probs(logits, [[1, 3], [2]])

    probs = torch.softmax(torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64), dim=0)
    assert np.exp(scores.numpy()).sum() == pytest.approx(1.0)
    assert scores.tolist() == pytest.approx(
        [float(torch.log(probs[0] + probs[1])), float(torch.log(probs[2]))])


def test_no_quantization_loads_full_weights():
    assert _quantization_config('', torch.device('cpu'), torch.float32) is None


def test_unknown_quantization_lists_the_choices():
    with pytest.raises(ConfigError, match="'3bit'.*4bit, 8bit"):
        _quantization_config('3bit', torch.device('cuda'), torch.float16)


def test_quantization_on_cpu_without_bitsandbytes_names_both(tiny_model_path, monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', fake_find_spec(installed=False))

    with pytest.raises(ConfigError) as info:
        TransformersBackend(path=tiny_model_path, device='cpu', quantization='4bit')

    assert 'pip install bitsandbytes' in str(info.value) and 'CUDA GPU' in str(info.value)


def test_quantization_needs_bitsandbytes(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', fake_find_spec(installed=False))

    with pytest.raises(ConfigError, match='pip install bitsandbytes') as info:
        _quantization_config('8bit', torch.device('cuda'), torch.float16)

    assert 'CUDA' not in str(info.value)


def test_quantization_needs_a_cuda_gpu(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', fake_find_spec(installed=True))

    with pytest.raises(ConfigError, match='needs a CUDA GPU') as info:
        _quantization_config('4bit', torch.device('cpu'), torch.float32)

    assert 'bitsandbytes package' not in str(info.value)


def test_quantization_configs(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', fake_find_spec(installed=True))

    four = _quantization_config('4bit', torch.device('cuda'), torch.bfloat16)
    eight = _quantization_config('8bit', torch.device('cuda:1'), torch.float16)

    assert four.load_in_4bit and four.bnb_4bit_quant_type == 'nf4'
    assert four.bnb_4bit_compute_dtype == torch.bfloat16
    assert eight.load_in_8bit and not eight.load_in_4bit


def test_quantized_weights_are_placed_by_the_loader(tiny_model_path, monkeypatch):
    calls = []
    original = hf.AutoModelForImageTextToText.from_pretrained

    def spy(path, **kwargs):
        calls.append(dict(kwargs))
        kwargs.pop('quantization_config')
        kwargs.pop('device_map')
        model = original(path, **kwargs)
        model.to = lambda *args, **kw: pytest.fail('a quantized model must not be moved')
        return model

    monkeypatch.setattr(hf.AutoModelForImageTextToText, 'from_pretrained', spy)
    marker = object()

    _, model = hf._load(tiny_model_path, torch.device('cuda'), torch.float16, '', False, marker)

    assert calls[0]['quantization_config'] is marker
    assert calls[0]['device_map'] == {'': 'cuda'}
    assert model.training is False


def fake_find_spec(*, installed: bool):
    """Return a ``find_spec`` that reports bitsandbytes as ``installed`` and others as they are."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == 'bitsandbytes':
            return object() if installed else None
        return real(name, *args, **kwargs)

    return find_spec
