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

"""``reflect``: self-reflection. Answer, see the answer shown back, answer finally.

Both passes score the options (``scoring``); the first answer is shown back to the model, which
is asked whether it is correct, and the best option after that is final. Confidence: the
probability of the final answer in the second pass. Never ends without a choice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlm_planner.core.prompts import (PlanningQuestion, build_messages, format_choice,
                                      reflection_messages)
from vlm_planner.core.strategies.interface import Strategy, StrategyResult, register_strategy

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend


@register_strategy('reflect', order=30)
class SelfReflectionStrategy(Strategy):
    """Answer, look at the answer again, answer finally."""

    def decide(self, backend: 'VLMBackend', question: PlanningQuestion) -> StrategyResult:
        """Score a first answer, show it back, and score the reflected answer."""
        first_messages = build_messages(self.template, question, self.scored_instruction)
        first, _ = self._scored(backend, first_messages, question)
        final, probs = self._scored(backend, reflection_messages(
            self.template, question, first, self.scored_instruction), question)
        verdict = 'kept' if final == first else 'revised to ' + format_choice(
            self.template, question, final)
        rationale = f'first answer {format_choice(self.template, question, first)}; {verdict}'
        return StrategyResult(final, float(probs[final]), scores=probs.tolist(),
                              rationale=rationale)
