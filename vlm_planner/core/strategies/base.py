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

"""``base``: one forward pass, the answer with the highest probability (Akiyama et al., 2024).

``scoring: letter`` reads the answer letters' probabilities; ``likelihood`` scores each option's
whole label as the reply (EgoPlan-Bench's lowest loss) with the prompt computed once for all.
Confidence: the probability of the chosen option. Never ends without a choice.
"""

from __future__ import annotations

from typing import Sequence, TYPE_CHECKING

from vlm_planner.core.prompts import PlanningQuestion, build_messages
from vlm_planner.core.strategies.interface import Strategy, StrategyResult, register_strategy

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend


@register_strategy('base', order=10)
class BaseStrategy(Strategy):
    """Direct answer: the most probable option."""

    def decide(self, backend: 'VLMBackend', question: PlanningQuestion) -> StrategyResult:
        """Score every option in one pass and take the best."""
        messages = build_messages(self.template, question, self.scored_instruction)
        index, probs = self._scored(backend, messages, question)
        return StrategyResult(index, float(probs[index]), scores=probs.tolist())

    def decide_many(self, backend: 'VLMBackend',
                    questions: Sequence[PlanningQuestion]) -> list[StrategyResult]:
        """Score every option of every question in one batched call to the backend."""
        prompts = [build_messages(self.template, q, self.scored_instruction) for q in questions]
        return [StrategyResult(index, float(probs[index]), scores=probs.tolist())
                for index, probs in self._scored_many(backend, prompts, questions)]
