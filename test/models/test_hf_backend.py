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

"""TransformersBackend on every tiny architecture: letter scores, generation, inputs, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from vlm_planner.core.chat import Generation, ImagePart, Message, TextPart, VideoPart
from vlm_planner.errors import ConfigError, InferenceError, ModelLoadError
from vlm_planner.models.framing import fit_pixels as _fit_pixels
from vlm_planner.models.framing import subsample_indices as _subsample_indices
from vlm_planner.models.hf import TransformersBackend

QUESTION = 'What should be my next action? A. pick B. put C. stack D. open'


def ask(*parts) -> list[Message]:
    """Build a one-message user prompt."""
    return [Message('user', tuple(parts))]


def clip(make_frame, count: int = 3, kind: str = 'noise') -> VideoPart:
    """Build a video of ``count`` frames one second apart."""
    return VideoPart(tuple(make_frame(kind, stamp=float(t)) for t in range(count)))


@pytest.fixture
def full_prompt(make_frame):
    """Build a prompt with a video of the task so far, the current image and a question."""
    return ask(clip(make_frame), ImagePart(make_frame('stripes', 3.0)), TextPart(QUESTION))


def test_backend_identity(arch_backend, arch_model_path):
    assert arch_backend.name == arch_model_path.name
    assert arch_backend.untrained is True
    assert arch_backend.device == torch.device('cpu') and arch_backend.dtype == torch.float32


def test_scores_are_a_distribution_over_the_letters(arch_backend, full_prompt):
    scores = arch_backend.score_letters(full_prompt, ['A', 'B', 'C', 'D'])

    assert scores.shape == (4,)
    assert np.isfinite(scores).all()
    assert np.exp(scores).sum() == pytest.approx(1.0, abs=1e-9)


def test_scores_are_deterministic(arch_backend, full_prompt):
    first = arch_backend.score_letters(full_prompt, 'ABCDE')
    second = arch_backend.score_letters(full_prompt, 'ABCDE')

    # The second call runs only the last token over the kept prompt (Qwen2.5-VL): the same
    # numbers up to the order of float sums.
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)


def test_scores_of_video_image_and_text_depend_on_the_image(arch_backend, make_frame):
    video = clip(make_frame)

    black = arch_backend.score_letters(
        ask(video, ImagePart(make_frame('black')), TextPart(QUESTION)), 'ABCD')
    white = arch_backend.score_letters(
        ask(video, ImagePart(make_frame('white')), TextPart(QUESTION)), 'ABCD')

    assert np.isfinite(black).all() and np.isfinite(white).all()
    assert np.exp(black).sum() == pytest.approx(1.0, abs=1e-9)
    assert np.abs(black - white).max() > 1e-4


def test_scores_depend_on_the_video(arch_backend, make_frame):
    image = ImagePart(make_frame('stripes'))

    dark = arch_backend.score_letters(
        ask(clip(make_frame, 2, 'black'), image, TextPart(QUESTION)), 'ABCD')
    bright = arch_backend.score_letters(
        ask(clip(make_frame, 2, 'white'), image, TextPart(QUESTION)), 'ABCD')

    assert np.abs(dark - bright).max() > 1e-4


def test_image_only_and_text_only_prompts(arch_backend, make_frame):
    image = ImagePart(make_frame('noise'))
    image_only = arch_backend.score_letters(ask(image, TextPart(QUESTION)), 'AB')
    text_only = arch_backend.score_letters([Message.text('user', QUESTION)], 'AB')

    assert np.isfinite(image_only).all() and np.isfinite(text_only).all()
    assert arch_backend.generate(ask(image), max_new_tokens=4)[0].num_tokens > 0


@pytest.mark.parametrize('count', [1, 2, 3, 7])
def test_videos_of_any_length_work(arch_backend, make_frame, count):
    video = VideoPart(tuple(make_frame('noise', stamp=0.5 * i) for i in range(count)))

    scores = arch_backend.score_letters(ask(video, TextPart(QUESTION)), 'ABCD')

    assert np.isfinite(scores).all()


def test_system_prompt_and_several_turns(arch_backend, make_frame):
    messages = [Message.text('system', 'You are a robot.'),
                Message('user', (clip(make_frame, 2), ImagePart(make_frame('white')),
                                 TextPart(QUESTION))),
                Message.text('assistant', 'A'),
                Message.text('user', 'Is the previous answer correct?')]

    assert np.isfinite(arch_backend.score_letters(messages, 'AB')).all()


def test_long_video_is_subsampled_keeping_the_last_frame(arch_model_path, make_frame):
    backend = TransformersBackend(path=arch_model_path, device='cpu', max_frames=4)
    frames = tuple(make_frame('noise', stamp=float(i)) for i in range(10))
    kept = tuple(frames[i] for i in (0, 3, 6, 9))

    long = backend.score_letters(ask(VideoPart(frames), TextPart(QUESTION)), 'ABCD')
    short = backend.score_letters(ask(VideoPart(kept), TextPart(QUESTION)), 'ABCD')

    # The second prompt runs from the kept first one where it can: equal up to float sums.
    np.testing.assert_allclose(long, short, rtol=0, atol=1e-6)


def test_large_frames_are_shrunk_within_the_budget(arch_backend, make_frame):
    big = make_frame('noise', shape=(480, 640))

    small = _fit_pixels(big.image, 112 * 112)

    assert small.shape[0] * small.shape[1] <= 112 * 112
    assert small.shape[1] / small.shape[0] == pytest.approx(640 / 480, rel=0.05)
    assert small.dtype == np.uint8
    prompt = ask(VideoPart((big, big)), ImagePart(big), TextPart(QUESTION))
    assert np.isfinite(arch_backend.score_letters(prompt, 'AB')).all()


def test_subsample_indices_spread_evenly_and_keep_the_last():
    assert _subsample_indices(3, 8) == [0, 1, 2]
    assert _subsample_indices(10, 4) == [0, 3, 6, 9]
    assert _subsample_indices(10, 1) == [9]
    assert _subsample_indices(5, 2) == [0, 4]


def test_multi_token_letter_is_an_inference_error(arch_backend, full_prompt):
    with pytest.raises(InferenceError, match='§'):
        arch_backend.score_letters(full_prompt, ['A', '§'])
    with pytest.raises(InferenceError):
        arch_backend.score_letters(full_prompt, [])


def test_sampling_returns_the_samples_from_one_batched_call(arch_backend, full_prompt,
                                                            monkeypatch):
    calls = []
    original = arch_backend.model.generate

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(arch_backend.model, 'generate', spy)
    torch.manual_seed(0)

    replies = arch_backend.generate(full_prompt, num_samples=3, temperature=1.0, max_new_tokens=8)

    # One batched call over a cache holding the prompt, not one call per sample.
    assert len(calls) == 1 and calls[0]['input_ids'].shape[0] == 3
    assert len(replies) == 3
    assert all(isinstance(r, Generation) and 0 < r.num_tokens <= 8 for r in replies)
    assert all('<|' not in r.text and QUESTION not in r.text for r in replies)
    # The tiny Qwen2.5-VL ships Qwen's top_k=1; sampling must still give different replies.
    assert len({r.text for r in replies}) > 1


def test_greedy_generation_is_deterministic(arch_backend, full_prompt):
    first = arch_backend.generate(full_prompt, num_samples=2, temperature=0.0, max_new_tokens=6)
    second = arch_backend.generate(full_prompt, temperature=0.0, max_new_tokens=6)

    assert len(first) == 2 and first[0] == first[1] == second[0]
    assert 0 < first[0].num_tokens <= 6


def test_generate_rejects_bad_arguments(backend, full_prompt):
    with pytest.raises(ValueError):
        backend.generate(full_prompt, num_samples=0)
    with pytest.raises(ValueError):
        backend.generate(full_prompt, temperature=-1.0)


def test_empty_video_is_an_inference_error(arch_backend):
    with pytest.raises(InferenceError, match='no frames'):
        arch_backend.score_letters(ask(VideoPart(()), TextPart(QUESTION)), 'AB')


def test_concurrent_calls_agree(arch_backend, full_prompt):
    expected = arch_backend.score_letters(full_prompt, 'ABCD')
    results, errors = [], []

    def worker():
        try:
            results.append(arch_backend.score_letters(full_prompt, 'ABCD'))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == 3
    for result in results:  # equal up to float sums (later calls reuse the kept prompt)
        np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)


def test_missing_folder_is_a_load_error(tmp_path):
    missing = tmp_path / 'no-such-model'

    with pytest.raises(ModelLoadError, match='make-tiny-model') as info:
        TransformersBackend(path=missing, device='cpu')

    assert str(missing) in str(info.value)


def test_folder_without_config_is_a_load_error(tmp_path):
    (tmp_path / 'model.safetensors').write_bytes(b'')

    with pytest.raises(ModelLoadError, match='config.json') as info:
        TransformersBackend(path=tmp_path, device='cpu')

    assert str(tmp_path) in str(info.value)


def test_folder_without_weights_is_a_load_error(tmp_path):
    (tmp_path / 'config.json').write_text('{}')

    with pytest.raises(ModelLoadError, match='safetensors') as info:
        TransformersBackend(path=tmp_path, device='cpu')

    assert str(tmp_path) in str(info.value)


def test_broken_model_folder_is_a_load_error(tmp_path):
    (tmp_path / 'config.json').write_text('{"model_type": "qwen2_5_vl"}')
    (tmp_path / 'model.safetensors').write_bytes(b'not safetensors')

    with pytest.raises(ModelLoadError) as info:
        TransformersBackend(path=tmp_path, device='cpu')

    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize('options', [{'device': 'gpu'}, {'dtype': 'float8'},
                                     {'max_frames': 0}, {'max_pixels': 0},
                                     {'quantization': '3bit'}])
def test_bad_options_are_config_errors(tiny_model_path, options):
    with pytest.raises(ConfigError):
        TransformersBackend(path=tiny_model_path, **options)


@pytest.mark.parametrize('spelling, expected', [('bf16', torch.bfloat16), ('fp32', torch.float32),
                                                ('float16', torch.float16)])
def test_dtype_accepts_short_spellings(tiny_model_path, spelling, expected):
    backend = TransformersBackend(path=tiny_model_path, device='cpu', dtype=spelling)
    assert backend.dtype == expected
