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

"""``cot``: chain of thought. The model reasons ("Think step by step"), the answer is parsed.

The answer is read from the reasoning by :func:`vlm_planner.core.answers.parse_answer`. Then the
options are scored right after the reasoning (letters, or whole labels with ``scoring:
likelihood``), and the confidence is the probability the scorer gives the *parsed* choice: a
reply whose text and scores disagree keeps its parsed choice with that low confidence, so
``min_confidence`` holds it back.

A backend that cannot score (a model server without logprobs) keeps the parsed answer with a
confidence of 0 (``answer_method`` ends in ``not scored``), so a ``min_confidence`` above 0 holds
it back.

When the reasoning names no candidate the invalid answer is counted, and ``on_invalid`` decides:
``no_action`` ends without a choice (confidence 0, the scores kept for the record);
``fallback`` takes the best-scored option after the reasoning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlm_planner.core.answers import parse_answer
from vlm_planner.core.chat import Message
from vlm_planner.core.prompts import PlanningQuestion, build_messages
from vlm_planner.core.strategies.interface import Strategy, StrategyResult, register_strategy
from vlm_planner.errors import ConfigError, InferenceError

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend


@register_strategy('cot', order=20)
class ChainOfThoughtStrategy(Strategy):
    """Reason first, then answer."""

    def decide(self, backend: 'VLMBackend', question: PlanningQuestion) -> StrategyResult:
        """Generate reasoning greedily, parse the answer from it, and score it after it."""
        messages = build_messages(self.template, question, self.template.cot_instruction)
        reply = backend.generate(messages, max_new_tokens=self.config.max_new_tokens)[0]
        parsed = parse_answer(reply.text, question.candidates)
        followup = messages + [Message.text('assistant', reply.text),
                               Message.text('user', self.scored_instruction)]
        try:
            best, probs = self._scored(backend, followup, question)
        except (InferenceError, ConfigError):
            # A backend that cannot score (a model server without logprobs): the parsed answer
            # stands, with a confidence of 0, so that a min_confidence above 0 holds it back.
            if parsed.index is not None:
                return StrategyResult(parsed.index, 0.0, rationale=reply.text,
                                      tokens=reply.num_tokens,
                                      answer_method=f'{parsed.method}, not scored')
            if self.config.on_invalid == 'fallback':
                raise
            return self._no_choice('the reasoning named no candidate action (on_invalid: '
                                   'no_action)', rationale=reply.text, tokens=reply.num_tokens,
                                   invalid_answers=1)
        if parsed.index is not None:
            return StrategyResult(parsed.index, float(probs[parsed.index]),
                                  scores=probs.tolist(), rationale=reply.text,
                                  tokens=reply.num_tokens, answer_method=parsed.method)
        if self.config.on_invalid == 'fallback':
            return StrategyResult(best, float(probs[best]), scores=probs.tolist(),
                                  rationale=reply.text, tokens=reply.num_tokens,
                                  invalid_answers=1, answer_method='scored after reasoning')
        return self._no_choice('the reasoning named no candidate action (on_invalid: no_action)',
                               scores=probs.tolist(), rationale=reply.text,
                               tokens=reply.num_tokens, invalid_answers=1)
