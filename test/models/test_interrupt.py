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

"""A generation under way stops at its next token when the backend is interrupted."""

import threading
import time

from vlm_planner.core.chat import Message
from vlm_planner.models import hf

PROMPT = [Message.text('user', 'Think step by step: which block comes next?')]


def test_an_interrupt_stops_a_generation_at_its_next_token(backend, monkeypatch):
    full = backend.generate(PROMPT, max_new_tokens=64)[0]
    assert full.num_tokens > 2, 'the tiny model must write more than two tokens here'
    backend.interrupt()
    started = time.perf_counter()
    cut = backend.generate(PROMPT, max_new_tokens=64)[0]
    assert cut.num_tokens <= 1 and time.perf_counter() - started < 5.0


def test_an_interrupt_from_another_thread_reaches_a_running_generation(backend, monkeypatch):
    monkeypatch.setattr(hf, 'INTERRUPT_GRACE_S', 0.0)
    tokens = []
    original = hf._Interrupted.__call__

    def slow(self, input_ids, scores, **kwargs):
        tokens.append(1)
        if len(tokens) == 2:
            threading.Thread(target=backend.interrupt).start()
            time.sleep(0.2)
        return original(self, input_ids, scores, **kwargs)
    monkeypatch.setattr(hf._Interrupted, '__call__', slow)
    cut = backend.generate(PROMPT, max_new_tokens=64)[0]
    assert 2 <= cut.num_tokens <= 3


def test_later_generations_run_normally(backend, monkeypatch):
    monkeypatch.setattr(hf, 'INTERRUPT_GRACE_S', -1.0)  # every interrupt is long ago
    full = backend.generate(PROMPT, max_new_tokens=64)[0]
    backend.interrupt()
    assert backend.generate(PROMPT, max_new_tokens=64)[0].num_tokens == full.num_tokens
