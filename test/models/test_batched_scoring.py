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

"""Several prompts scored in one batched forward pass equal one by one, on every architecture."""

from __future__ import annotations

import numpy as np
import pytest

from test.models.conftest import sharpened, synthetic_frame
from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.models import prefix_cache

LABELS = ('pick up the red block', 'put the held block in the bin',
          'stack the green block on the yellow block', 'open the drawer')


def prompts():
    """Three prompts of different lengths: video and image, image only, a wide frame."""
    frames = [synthetic_frame('noise', stamp=t) for t in (0.0, 1.0, 2.0, 3.0)]
    return [
        [Message('user', (VideoPart(tuple(frames[:3])), ImagePart(frames[3]),
                          TextPart('Stack the blocks. Next?')))],
        [Message('user', (ImagePart(frames[1]), TextPart('Next?')))],
        [Message('user', (VideoPart(tuple(frames[:1])),
                          ImagePart(synthetic_frame('stripes', 4.0, shape=(48, 160))),
                          TextPart('Put the red block in the bin, then open the drawer.')))],
    ]


@pytest.fixture(scope='module')
def batching_backend(arch_model_path):
    return sharpened(arch_model_path, keyframe_cache=False)


def test_batched_scores_equal_one_by_one_on_every_architecture(batching_backend, arch):
    backend, messages = batching_backend, prompts()
    letters = [list('ABCD'), list('AB'), list('ABC')]
    candidates = [LABELS, LABELS[:2], LABELS[1:]]
    single = [backend.score_letters(m, l) for m, l in zip(messages, letters)]
    np.testing.assert_allclose(np.concatenate(backend.score_letters_many(messages, letters)),
                               np.concatenate(single), rtol=0, atol=1e-5)
    single = [backend.score_continuations(m, c) for m, c in zip(messages, candidates)]
    np.testing.assert_allclose(
        np.concatenate(backend.score_continuations_many(messages, candidates)),
        np.concatenate(single), rtol=0, atol=1e-4)
    # Qwen-VL models batch (their positions follow each row's attention mask); the others
    # would number the padding, so they are asked one by one.
    assert backend.batches == arch.startswith('qwen')


def test_padded_rows_continue_at_their_own_positions(tiny_model_path, monkeypatch):
    backend = sharpened(tiny_model_path, keyframe_cache=False)
    messages, candidates = prompts(), [LABELS, LABELS[:2], LABELS[1:]]
    good = np.concatenate(backend.score_continuations_many(messages, candidates))
    offsets = prefix_cache.rope_offsets
    monkeypatch.setattr(prefix_cache, 'rope_offsets',
                        lambda holder, rows, device: offsets(holder, rows, device) + 1)
    shifted = np.concatenate(backend.score_continuations_many(messages, candidates))
    assert np.abs(shifted - good).max() > 1e-3
