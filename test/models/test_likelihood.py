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

"""Full-answer scoring on the tiny Qwen2.5-VL: prefix-shared scores equal naive ones, cheaper."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from test.models.conftest import sharpened
from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.errors import ConfigError, InferenceError
from vlm_planner.models import likelihood, prefix_cache
from vlm_planner.models.base import check_scoring, VLMBackend

QUESTION = 'My current task is to stack all blocks into one tower. What should be my next action?'

# Twenty candidate actions of different token lengths (one to a dozen tokens and more).
CANDIDATES = (
    'A', 'stack', 'open the drawer', 'pick up the red block',
    'put the red block in the blue bin', 'stack the green block on the yellow block',
    'close the drawer and push the bin to the corner', 'move the small cube to the right side',
    'unstack the top block and put it on the table', 'grasp the handle', 'lift the lid',
    'put the blue block in the left bin', 'sort the blocks by colour into the three bins',
    'place the cup inside', 'push the bin', 'the task is done', 'pick up the green cube',
    'put it down next to the box', 'open the drawer, then place the cup inside', 'first, left',
)


@pytest.fixture(scope='module')
def sharp_backend(tiny_model_path):
    """Load the tiny Qwen2.5-VL with sharpened attention."""
    return sharpened(tiny_model_path)


@pytest.fixture(scope='module')
def prompt(make_frame):
    """Build a prompt with a video of 3 frames, the current image and a question."""
    video = VideoPart(tuple(make_frame('noise', stamp=t) for t in (0.0, 1.0, 2.0)))
    image = ImagePart(make_frame('stripes', 3.0))
    return [Message('user', (video, image, TextPart(QUESTION)))]


class LanguageModelCounter:
    """Count the forward calls and tokens fed to the language model and to the vision tower."""

    def __init__(self, model) -> None:
        self.tokens = self.calls = self.vision_calls = 0
        self._handles = [
            model.model.language_model.register_forward_pre_hook(self._count, with_kwargs=True),
            model.model.visual.register_forward_pre_hook(self._count_vision),
        ]

    def _count(self, module, args, kwargs) -> None:
        embeds = kwargs['inputs_embeds']
        self.calls += 1
        self.tokens += embeds.shape[0] * embeds.shape[1]

    def _count_vision(self, module, args) -> None:
        self.vision_calls += 1

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def count(model, function):
    """Run ``function`` and return its result and the counter of what it fed ``model``."""
    counter = LanguageModelCounter(model)
    try:
        return function(), counter
    finally:
        counter.close()


def count_passes(model, function):
    """Run ``function`` and return its result and the number of top-level forward passes."""
    calls = []
    handle = model.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        return function(), len(calls)
    finally:
        handle.remove()


def test_candidates_have_different_lengths(backend):
    lengths = [len(ids) for ids in likelihood.encode_continuations(backend._tokenizer, CANDIDATES)]

    assert min(lengths) == 1 and max(lengths) >= 8 and len(set(lengths)) >= 6


@pytest.mark.parametrize('k', [1, 4, 20])
def test_shared_scores_equal_naive_scores(sharp_backend, prompt, k):
    candidates = CANDIDATES[-k:] if k == 1 else CANDIDATES[:k]

    shared = sharp_backend.score_continuations(prompt, candidates)
    naive = sharp_backend.score_continuations(prompt, candidates, share_prefix=False)

    assert shared.shape == (k,) and shared.dtype == np.float64
    assert np.isfinite(shared).all() and (shared < 0).all()
    np.testing.assert_allclose(shared, naive, rtol=0, atol=1e-4)


def test_positions_matter_at_that_tolerance(sharp_backend, prompt, monkeypatch):
    naive = sharp_backend.score_continuations(prompt, CANDIDATES[:4], share_prefix=False)
    # Dropping the multimodal rotary offset of the video and image must break the equality.
    monkeypatch.setattr(prefix_cache, 'rope_offsets',
                        lambda holder, rows, device: torch.zeros(rows, dtype=torch.long))
    wrong = sharp_backend.score_continuations(prompt, CANDIDATES[:4])

    assert np.abs(wrong - naive).max() > 1e-3


def test_text_only_prompt_after_a_video_prompt(sharp_backend, prompt):
    text_only = [Message.text('user', QUESTION)]
    sharp_backend.score_continuations(prompt, CANDIDATES[:3])  # leaves Qwen's rope offset set

    shared = sharp_backend.score_continuations(text_only, CANDIDATES[:3])
    naive = sharp_backend.score_continuations(text_only, CANDIDATES[:3], share_prefix=False)

    np.testing.assert_allclose(shared, naive, rtol=0, atol=1e-4)


def test_the_prefix_is_processed_once(backend, prompt):
    backend.reset_caches()  # the session's backend may keep this prompt from an earlier test
    ids = likelihood.encode_continuations(backend._tokenizer, CANDIDATES)
    prompt_length = backend._prompt(prompt).inputs['input_ids'].shape[1]
    widest = max(len(i) for i in ids)

    _, shared = count(backend.model, lambda: backend.score_continuations(prompt, CANDIDATES))
    _, naive = count(backend.model, lambda: backend.score_continuations(
        prompt, CANDIDATES, share_prefix=False))

    # The vision tower runs once for the video and once for the image of each prompt pass.
    assert (shared.calls, shared.vision_calls) == (2, 2)
    assert (naive.calls, naive.vision_calls) == (20, 40)
    # The prompt once, then every candidate but its last token, padded to the longest.
    assert shared.tokens == prompt_length + len(ids) * (widest - 1)
    assert naive.tokens == len(ids) * prompt_length + sum(len(i) for i in ids)
    assert shared.tokens * 5 < naive.tokens


def test_single_token_candidates_need_only_the_prefix(backend, prompt):
    _, counter = count(backend.model,
                       lambda: backend.score_continuations(prompt, ['A', 'B', 'C', 'D']))

    assert counter.calls == 1


def test_single_token_score_is_the_first_token_log_probability(backend, prompt):
    scores = backend.score_continuations(prompt, ['A', 'B'])
    letters = backend.score_letters(prompt, ['A', 'B'])

    # Letter scores are normalised over the letters; the difference between two is not.
    assert scores[0] - scores[1] == pytest.approx(letters[0] - letters[1], abs=1e-5)
    assert np.exp(scores).sum() < 1


def test_scores_are_deterministic(backend, prompt):
    first = backend.score_continuations(prompt, CANDIDATES[:5])
    second = backend.score_continuations(prompt, CANDIDATES[:5])

    np.testing.assert_array_equal(first, second)


def test_fallback_to_naive_warns_once(sharp_backend, prompt, monkeypatch, caplog):
    monkeypatch.setattr(likelihood.UNSHAREABLE, 'classes', set())
    monkeypatch.setattr(prefix_cache, 'expandable', lambda cache: False)
    naive = sharp_backend.score_continuations(prompt, CANDIDATES[:4], share_prefix=False)

    with caplog.at_level(logging.WARNING, logger=prefix_cache.__name__):
        first = sharp_backend.score_continuations(prompt, CANDIDATES[:4])
        _, counter = count(sharp_backend.model,
                           lambda: sharp_backend.score_continuations(prompt, CANDIDATES[:4]))

    warnings = [r for r in caplog.records if 'cannot share the prompt' in r.getMessage()]
    assert len(warnings) == 1
    np.testing.assert_array_equal(first, naive)
    assert counter.calls == 4  # the second call skips the useless prefill


@pytest.mark.parametrize('continuations', [[], ['pick', '']])
def test_empty_continuations_are_rejected(backend, prompt, continuations):
    with pytest.raises(InferenceError, match='continuation'):
        backend.score_continuations(prompt, continuations)


class LettersOnly(VLMBackend):
    name = 'letters-only'

    def score_letters(self, messages, letters):
        return np.zeros(len(letters))

    def generate(self, messages, *, num_samples=1, temperature=0.0, max_new_tokens=128):
        return []


def test_the_default_protocol_method_raises_a_config_error_that_says_what_to_do(prompt):
    assert LettersOnly().supports_likelihood is False
    with pytest.raises(ConfigError, match="strategy.scoring 'likelihood' needs a backend that "
                                          'scores whole answers, and backend letters-only '
                                          r'\(LettersOnly\) cannot. Set strategy.scoring:=letter'):
        LettersOnly().score_continuations(prompt, ['pick up the red block'])


def test_scoring_is_checked_against_the_backend_before_any_question(backend):
    check_scoring(LettersOnly(), 'letter')
    check_scoring(backend, 'likelihood')
    assert backend.supports_likelihood is True
    with pytest.raises(ConfigError, match='letters-only'):
        check_scoring(LettersOnly(), 'likelihood')


def test_every_arch_shares_the_prefix_exactly(arch_model_path, prompt, monkeypatch):
    backend = sharpened(arch_model_path)
    naive = backend.score_continuations(prompt, CANDIDATES[:6], share_prefix=False)
    shared, passes = count_passes(
        backend.model, lambda: backend.score_continuations(prompt, CANDIDATES[:6]))
    # Positions one too far must show at the tolerance the equality is checked at.
    offsets = prefix_cache.rope_offsets
    monkeypatch.setattr(prefix_cache, 'rope_offsets',
                        lambda holder, rows, device: offsets(holder, rows, device) + 1)
    shifted = backend.score_continuations(prompt, CANDIDATES[:6])

    assert passes == 2
    np.testing.assert_allclose(shared, naive, rtol=0, atol=1e-4)
    assert np.abs(shifted - naive).max() > 1e-3
