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

"""Where a decision's time went: input preparation, vision encoding, prefill and decoding.

A backend adds to a :class:`StageTimes` as it works; the planner resets it before a decision and
reads it after, so the figures cover every model call of the decision (self-reflection makes two,
for example). Decision records and the node's diagnostics carry them.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

#: The stages, in the order a model call passes through them.
STAGES = ('prepare', 'vision', 'prefill', 'decode')


class StageTimes:
    """Seconds per stage and prompt tokens, summed since the last :meth:`reset`."""

    def __init__(self) -> None:
        """Start at zero."""
        self.reset()

    def reset(self) -> None:
        """Set every stage and count to zero."""
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._current: list[str] = []  # the stages being timed, innermost last
        self.prefilled_tokens = 0
        self.reused_tokens = 0

    @contextlib.contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """Add the time the ``with`` block takes to ``stage``."""
        began = time.perf_counter()
        self._current.append(stage)
        try:
            yield
        finally:
            self._current.pop()
            self.seconds[stage] += time.perf_counter() - began

    def add_inner(self, stage: str, seconds: float) -> None:
        """Count ``seconds`` spent inside the stage being timed as ``stage`` instead.

        The vision tower runs inside a prefill; hooks on it report its time here.
        """
        if self._current:
            self.seconds[self._current[-1]] -= seconds
        self.seconds[stage] += seconds

    def watch(self, module: Any, stage: str) -> None:
        """Count the time of every forward pass of ``module`` (a torch module) as ``stage``."""
        started: list[float] = []
        module.register_forward_pre_hook(lambda *_: started.append(time.perf_counter()))
        module.register_forward_hook(
            lambda *_: self.add_inner(stage, time.perf_counter() - started.pop()))

    def add_tokens(self, prefilled: int, reused: int) -> None:
        """Count prompt tokens run through the model and tokens taken from a kept prefix."""
        self.prefilled_tokens += prefilled
        self.reused_tokens += reused

    def as_dict(self) -> dict[str, float]:
        """Milliseconds per stage (``prepare_ms``...) and the token counts."""
        values: dict[str, float] = {f'{stage}_ms': round(seconds * 1000, 3)
                                    for stage, seconds in self.seconds.items()}
        values['prefilled_tokens'] = self.prefilled_tokens
        values['reused_tokens'] = self.reused_tokens
        return values


def stage_summary(stages: dict[str, float]) -> str:
    """One line for diagnostics: ``prepare 1.2 ms, ...; tokens prefilled 120, reused 300``."""
    times = ', '.join(f'{stage} {stages.get(f"{stage}_ms", 0.0):.1f} ms' for stage in STAGES)
    return (f'{times}; tokens prefilled {int(stages.get("prefilled_tokens", 0))}, '
            f'reused {int(stages.get("reused_tokens", 0))}')
