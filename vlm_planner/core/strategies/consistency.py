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

"""``consistency``: self-consistency. Sample reasoning paths, parse each, take the majority.

``samples`` replies are sampled at ``temperature`` in one batch and each answer is parsed
(:func:`vlm_planner.core.answers.parse_answer`); the most voted option wins, ties going to the
earlier option. Confidence: the winner's share of *all* samples, invalid ones included, so
replies that name nothing lower it.

When no sample names a candidate, ``on_invalid`` decides: ``no_action`` ends without a choice
(confidence 0); ``fallback`` scores the options on the plain prompt and takes the best.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlm_planner.core.answers import parse_answer
from vlm_planner.core.prompts import PlanningQuestion, build_messages
from vlm_planner.core.strategies.interface import Strategy, StrategyResult, register_strategy

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend


@register_strategy('consistency', order=40)
class SelfConsistencyStrategy(Strategy):
    """Sample several reasoning paths and take the majority answer."""

    def decide(self, backend: 'VLMBackend', question: PlanningQuestion) -> StrategyResult:
        """Sample ``samples`` replies in one batch and vote."""
        messages = build_messages(self.template, question, self.template.cot_instruction)
        replies = backend.generate(messages, num_samples=self.config.samples,
                                   temperature=self.config.temperature,
                                   max_new_tokens=self.config.max_new_tokens)
        votes = [0] * len(question.candidates)
        invalid = 0
        for reply in replies:
            parsed = parse_answer(reply.text, question.candidates)
            if parsed.index is not None:
                votes[parsed.index] += 1
            else:
                invalid += 1
        tokens = sum(r.num_tokens for r in replies)
        rationale = '\n---\n'.join(r.text for r in replies)
        if not any(votes):
            if self.config.on_invalid == 'no_action':
                return self._no_choice(
                    f'none of {len(replies)} samples named a candidate action '
                    '(on_invalid: no_action)', votes=votes, rationale=rationale, tokens=tokens,
                    invalid_answers=invalid)
            index, probs = self._scored(backend, build_messages(
                self.template, question, self.scored_instruction), question)
            return StrategyResult(index, float(probs[index]), scores=probs.tolist(), votes=votes,
                                  rationale=rationale, tokens=tokens, invalid_answers=invalid,
                                  answer_method='scored, no sample was valid')
        index = max(range(len(votes)), key=lambda i: (votes[i], -i))  # ties: earlier option
        return StrategyResult(index, votes[index] / max(len(replies), 1), votes=votes,
                              rationale=rationale, tokens=tokens, invalid_answers=invalid,
                              answer_method='vote')
