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

"""A scripted stand-in for a model, for tests that target the strategies and the planner."""

from __future__ import annotations

import numpy as np

from vlm_planner.core.chat import Generation, TextPart
from vlm_planner.models.base import VLMBackend


class ScriptedBackend(VLMBackend):
    """Returns preset letter probabilities and replies, and records every call.

    ``probs`` may be one list or a list of lists used in call order (the last one repeats);
    ``continuation_probs`` likewise for whole-label scores. ``replies`` are handed out in order,
    one per generated sample, starting over when used up.
    """

    name = 'scripted'

    def __init__(self, probs=None, replies=None, continuation_probs=None):
        self.probs = probs if probs and isinstance(probs[0], list) else [probs or [1.0]]
        self.replies = list(replies or [])
        self.score_calls = []
        self.generate_calls = []
        self.continuation_probs = (continuation_probs if continuation_probs
                                   and isinstance(continuation_probs[0], list)
                                   else [continuation_probs or [1.0]])
        self.continuation_calls = []
        self._next_reply = 0

    def score_letters(self, messages, letters):
        self.score_calls.append(list(messages))
        return _log_distribution(self.probs, len(self.score_calls), len(letters))

    def score_continuations(self, messages, continuations):
        self.continuation_calls.append((list(messages), list(continuations)))
        return _log_distribution(self.continuation_probs, len(self.continuation_calls),
                                 len(continuations))

    def generate(self, messages, *, num_samples=1, temperature=0.0, max_new_tokens=128):
        self.generate_calls.append((list(messages), num_samples, temperature))
        texts = []
        for _ in range(num_samples):
            texts.append(self.replies[self._next_reply % len(self.replies)]
                         if self.replies else '')
            self._next_reply += 1
        return [Generation(t, len(t.split())) for t in texts]


def _log_distribution(table, call, size):
    """Log-probabilities of row ``call`` (1-based, the last repeats) of ``table``, resized."""
    p = np.resize(np.asarray(table[min(call - 1, len(table) - 1)], float), size) + 1e-9
    return np.log(p / p.sum())


def message_text(messages) -> str:
    """All text parts of ``messages`` joined, for assertions on prompt content."""
    return '\n'.join(p.text for m in messages for p in m.content if isinstance(p, TextPart))
