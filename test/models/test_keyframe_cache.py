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

"""Keyframes prepared and encoded once, prompts run from the kept prefix: same answers, less work.

A run of decisions over a growing, then sliding keyframe buffer (the live node's pattern) is asked
of a backend with the caches and of one without; inputs must be identical and scores equal up to
the order of float sums, while the processor and the vision tower see each new frame once.
"""

from __future__ import annotations

import logging

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
import torch

from test.models.conftest import sharpened, synthetic_frame
from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.core.planner import Planner
from vlm_planner.core.strategies import make_strategy, StrategyConfig
from vlm_planner.models.hf import prompt_inputs, TransformersBackend
from vlm_planner.models.prepared_prompt import PromptPreparer, SegmentTokens
from vlm_planner.models.stage_times import stage_summary

LABELS = ('pick up the red block', 'pick up the blue block', 'put the held block in the bin',
          'put the held block on the table')
GOAL = 'put the red block in the bin'


def camera(count: int, shape: tuple[int, int] = (96, 128)) -> list[Frame]:
    """``count`` distinct noise frames, half a second apart."""
    return [synthetic_frame('noise', stamp=0.5 * i + 0.001, shape=shape) for i in range(count)]


def prompt(history, current) -> list[Message]:
    """The planner's prompt layout: progress text and video, current image, question."""
    parts = [TextPart(f'{len(history)} keyframes so far.')] if history else []
    if history:
        parts.append(VideoPart(tuple(history)))
    parts += [TextPart('Now:'), ImagePart(current), TextPart(f'Task: {GOAL}. Next action?')]
    return [Message('user', tuple(parts))]


def decisions(frames, window: int = 6):
    """Prompts of a buffer that grows one keyframe per decision, then slides (oldest dropped)."""
    for end in range(1, len(frames) + 1):
        history = frames[max(0, end - 1 - window):end - 1]
        yield prompt(history, frames[end - 1])


@pytest.fixture(scope='module')
def pair(tiny_model_path):
    """Sharpened tiny Qwen2.5-VL twice: with the caches, and preparing every prompt whole."""
    return (sharpened(tiny_model_path, max_frames=8),
            sharpened(tiny_model_path, max_frames=8, keyframe_cache=False))


def test_assembled_inputs_equal_the_processors_on_every_architecture(arch_model_path, arch):
    backend = TransformersBackend(path=arch_model_path, device='cpu', max_frames=4)
    preparer = PromptPreparer(backend.processor, max_frames=4, max_pixels=backend.max_pixels,
                              capacity=32)
    if arch == 'qwen3_vl':
        # Images are prepared one by one; a prompt with a video goes to the processor whole.
        assert not preparer.reason and 'prompts with a video: nothing' in backend.caching
        frames = camera(4)
        image_prompt = [Message('user', (ImagePart(frames[0]), TextPart('Then:'),
                                         ImagePart(frames[1]), TextPart('Next?')))]
        assert preparer.prepare(prompt(frames[:2], frames[2])) is None
        expected = prompt_inputs(backend.processor, image_prompt, max_frames=4,
                                 max_pixels=backend.max_pixels)
        actual = preparer.prepare(image_prompt).full_inputs()
        assert set(actual) == set(expected)
        assert all(torch.equal(actual[key], value) for key, value in expected.items())
        return
    if arch != 'qwen2_5_vl':
        # The others cannot split a prompt into independent units; they say why and fall back.
        assert preparer.reason and backend.caching == 'nothing'
        return
    assert backend.caching == 'prepared keyframes, vision features, prompt prefix'
    frames = camera(9) + [synthetic_frame('stripes', 9.0, shape=(40, 300)),  # new size, wide
                          synthetic_frame('white', 9.5, shape=(7, 5))]       # tiny
    for messages in decisions(frames, window=5):
        expected = prompt_inputs(backend.processor, messages, max_frames=4,
                                 max_pixels=backend.max_pixels)
        actual = preparer.prepare(messages).full_inputs()
        assert set(actual) == set(expected)
        for key, value in expected.items():
            assert actual[key].dtype == value.dtype, key
            assert torch.equal(actual[key], value), key


def test_each_keyframe_is_prepared_once(tiny_model_path):
    backend = TransformersBackend(path=tiny_model_path, device='cpu', max_frames=8)
    preparer = PromptPreparer(backend.processor, max_frames=8, max_pixels=backend.max_pixels,
                              capacity=64)
    calls = {'video': 0, 'image': 0}
    processor = backend.processor
    original_videos, original_images = processor._process_videos, processor._process_images

    def count_videos(videos, **kwargs):
        calls['video'] += len(videos[0])
        return original_videos(videos, **kwargs)

    def count_images(images, **kwargs):
        calls['image'] += len(images)
        return original_images(images, **kwargs)

    processor._process_videos, processor._process_images = count_videos, count_images
    try:
        frames = camera(8)
        for messages in decisions(frames, window=8):
            preparer.prepare(messages)
    finally:
        processor._process_videos, processor._process_images = original_videos, original_images
    # Every frame but the last entered the progress video once, and was the current image once.
    assert calls == {'video': 7, 'image': 8}


def test_cached_scores_equal_fresh_ones_over_a_run_of_decisions(pair):
    cached, fresh = pair
    for messages in decisions(camera(12)):
        np.testing.assert_allclose(cached.score_letters(messages, 'ABCD'),
                                   fresh.score_letters(messages, 'ABCD'), rtol=0, atol=1e-5)
        np.testing.assert_allclose(cached.score_continuations(messages, LABELS),
                                   fresh.score_continuations(messages, LABELS), rtol=0, atol=1e-5)


def test_the_vision_tower_sees_only_new_temporal_patches(tiny_model_path):
    backend = TransformersBackend(path=tiny_model_path, device='cpu', max_frames=8)
    patches = []
    hook = backend.model.model.visual.register_forward_pre_hook(
        lambda module, args: patches.append(int(args[0].shape[0])))
    frames = camera(6)
    try:
        backend.score_letters(prompt(frames[:4], frames[4]), 'AB')
        first = sum(patches)
        patches.clear()
        # One more keyframe: the video's first two pairs are unchanged; the third pair (frame 4
        # and its padding) and the new current image are new.
        backend.score_letters(prompt(frames[:5], frames[5]), 'AB')
    finally:
        hook.remove()
    per_frame = first // 6  # the first call encoded two pairs (4 frames) and one image (2)
    assert sum(patches) == 4 * per_frame


def test_the_kept_prefix_is_reused_and_only_the_tail_prefilled(pair):
    cached, _ = pair
    frames = camera(6)
    cached.score_letters(prompt(frames[:4], frames[4]), 'AB')
    cached.stages.reset()
    cached.score_letters(prompt(frames[:4], frames[5]), 'AB')  # same video, new current image
    stages = cached.stages.as_dict()
    assert stages['reused_tokens'] > 0
    assert stages['reused_tokens'] + stages['prefilled_tokens'] == \
        cached._prompt(prompt(frames[:4], frames[5])).inputs['input_ids'].shape[1]


def reused_on_repeat(backend, between=lambda backend, messages: None) -> int:
    """Tokens the second of two identical prompts reuses, ``between`` run between them."""
    frames = camera(4)
    messages = prompt(frames[:2], frames[2])
    backend.score_letters(messages, 'AB')
    between(backend, messages)
    backend.stages.reset()
    backend.score_letters(messages, 'AB')
    return backend.stages.as_dict()['reused_tokens']


def test_prompts_longer_than_the_bound_are_not_kept(tiny_model_path):
    assert reused_on_repeat(TransformersBackend(path=tiny_model_path, device='cpu')) > 0
    bounded = TransformersBackend(path=tiny_model_path, device='cpu', prompt_reuse_tokens=10)
    assert reused_on_repeat(bounded) == 0


def test_a_failed_call_drops_the_kept_prompt(tiny_model_path, monkeypatch):
    def fail(backend, messages):
        def broken(*args, **kwargs):
            raise RuntimeError('boom')

        with monkeypatch.context() as patch:
            patch.setattr(backend.model.model.language_model, 'forward', broken)
            with pytest.raises(Exception, match='boom'):
                backend.score_continuations(messages, LABELS)

    assert reused_on_repeat(TransformersBackend(path=tiny_model_path, device='cpu'), fail) == 0


def test_an_assembly_that_differs_from_the_processor_is_switched_off(tiny_model_path, caplog):
    backend = TransformersBackend(path=tiny_model_path, device='cpu')
    frames = camera(4)
    messages = prompt(frames[:2], frames[2])
    original = backend._preparer._inputs

    def wrong(*args, **kwargs):
        inputs = original(*args, **kwargs)
        inputs['second_per_grid_ts'] = inputs['second_per_grid_ts'] * 2
        return inputs

    backend._preparer._inputs = wrong
    with caplog.at_level(logging.WARNING):
        scores = backend.score_letters(messages, 'AB')
    assert 'second_per_grid_ts' in caplog.text and backend.caching == 'nothing'
    reference = TransformersBackend(path=tiny_model_path, device='cpu', keyframe_cache=False)
    np.testing.assert_array_equal(scores, reference.score_letters(messages, 'AB'))


def test_decisions_record_where_their_time_went(tiny_model_path):
    backend = TransformersBackend(path=tiny_model_path, device='cpu')
    library = ActionLibrary([Action(label) for label in LABELS])
    planner = Planner(backend, library, make_strategy(StrategyConfig(name='base')))
    frames = camera(4)
    decision = planner.decide(GOAL, frames)
    stages = decision.stages
    assert set(stages) == {'prepare_ms', 'vision_ms', 'prefill_ms', 'decode_ms',
                           'prefilled_tokens', 'reused_tokens'}
    assert stages['prefill_ms'] > 0 and stages['prefilled_tokens'] > 0
    assert decision.to_record()['stages'] == stages
    assert stage_summary(stages).startswith('prepare ')


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(min_size=1, max_size=12),
                          st.sampled_from(['<|im_start|>', '<|im_end|>', '<|vision_start|>',
                                           '<|video_pad|>', '\n', ' ', '  A.'])), max_size=12))
def test_text_tokenised_piece_by_piece_equals_the_tokeniser(tiny_processor, pieces):
    text = ''.join(pieces)
    tokenizer = tiny_processor.tokenizer
    assert SegmentTokens(tokenizer).ids(text) == tokenizer(text)['input_ids']


@pytest.fixture(scope='module')
def tiny_processor(tiny_model_path):
    from transformers import AutoProcessor
    return AutoProcessor.from_pretrained(tiny_model_path, local_files_only=True)


def test_qwen3_vl_image_prompts_reuse_features_and_prefix_with_equal_scores(tiny_cache):
    from vlm_planner.models.tiny import ensure_tiny_model
    path = ensure_tiny_model(cache_dir=tiny_cache, arch='qwen3_vl')
    cached, fresh = sharpened(path), sharpened(path, keyframe_cache=False)
    frames = camera(6)
    for index in range(1, 6):
        messages = [Message('user', (TextPart(f'Task: {GOAL}.'), ImagePart(frames[index - 1]),
                                     TextPart('Now:'), ImagePart(frames[index]),
                                     TextPart('Next?')))]
        cached.stages.reset()
        np.testing.assert_allclose(cached.score_letters(messages, 'ABC'),
                                   fresh.score_letters(messages, 'ABC'), rtol=0, atol=1e-5)
        np.testing.assert_allclose(cached.score_continuations(messages, LABELS),
                                   fresh.score_continuations(messages, LABELS), rtol=0,
                                   atol=1e-5)
        # Its deepstack features go in precomputed too; the text before the frames is reused.
        assert cached.stages.as_dict()['reused_tokens'] > 0
