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

"""The four prompting strategies of Akiyama et al. (2024), behind one interface.

* ``base``: one forward pass, the answer letter with the highest probability.
* ``cot``: chain of thought. The model reasons ("Think step by step") and the answer is parsed
  from its text; when no answer can be parsed, the letters are scored after the reasoning and the
  invalid answer is counted, never hidden.
* ``reflect``: self-reflection. A first direct answer is shown back to the model, which is asked
  whether it is correct; the letter it gives then is final.
* ``consistency``: self-consistency. ``samples`` reasoning paths are sampled at ``temperature`` in
  one batch, each answer is parsed, and the majority wins (ties go to the earlier option).

Wherever a strategy scores the options rather than generating (base, both passes of reflect, the
fallbacks), ``scoring`` chooses how: ``letter`` reads the answer letters' probabilities from one
forward pass; ``likelihood`` scores each option's whole label as the reply (EgoPlan-Bench's
lowest loss, the mean log-probability per token) with the prompt computed once for all options.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from vlm_planner.core.answers import parse_answer
from vlm_planner.core.chat import Message
from vlm_planner.core.prompts import (PlanningQuestion, PromptTemplate, build_messages,
                                      format_choice, reflection_messages)
from vlm_planner.errors import ConfigError

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend

STRATEGIES = ('base', 'cot', 'reflect', 'consistency')
SCORINGS = ('letter', 'likelihood')


@dataclasses.dataclass(frozen=True)
class StrategyConfig:
    """Which strategy to use and its knobs."""

    name: str = 'base'
    samples: int = 5  # self-consistency only
    temperature: float = 0.7  # self-consistency only
    max_new_tokens: int = 128  # cot and self-consistency reasoning length
    scoring: str = 'letter'  # how options are scored: 'letter' or 'likelihood'

    def __post_init__(self) -> None:
        if self.scoring not in SCORINGS:
            raise ConfigError(f'strategy scoring {self.scoring!r} is unknown; choose one of '
                              f'{", ".join(SCORINGS)}.')
        if self.name not in STRATEGIES:
            raise ConfigError(f'strategy {self.name!r} is unknown; choose one of '
                              f'{", ".join(STRATEGIES)}.')
        if self.samples < 1:
            raise ConfigError(f'strategy samples must be at least 1, got {self.samples}.')
        if self.temperature <= 0 and self.name == 'consistency':
            raise ConfigError('self-consistency samples at a temperature above 0; '
                              f'got temperature {self.temperature}.')
        if self.max_new_tokens < 1:
            raise ConfigError(f'max_new_tokens must be at least 1, got {self.max_new_tokens}.')


@dataclasses.dataclass(frozen=True)
class StrategyResult:
    """What a strategy chose and why."""

    index: int  # chosen candidate
    confidence: float  # probability (scored) or vote share (sampled) of the choice
    scores: list[float] | None = None  # per-candidate probabilities, when scored
    votes: list[int] | None = None  # per-candidate votes, when sampled
    rationale: str = ''
    tokens: int = 0  # tokens generated
    invalid_answers: int = 0  # replies no candidate could be read from
    answer_method: str = 'scored'  # how the final answer was obtained


class Strategy(abc.ABC):
    """Asks a backend the planning question in one particular way."""

    name: str

    def __init__(self, config: StrategyConfig, template: PromptTemplate) -> None:
        self.config = config
        self.template = template

    @abc.abstractmethod
    def decide(self, backend: 'VLMBackend', question: PlanningQuestion) -> StrategyResult:
        """Return the chosen candidate for ``question``."""

    @property
    def scored_instruction(self) -> str:
        """The instruction that ends a prompt whose options are scored."""
        return (self.template.action_instruction if self.config.scoring == 'likelihood'
                else self.template.answer_instruction)

    def _scored(self, backend: 'VLMBackend', messages: list[Message],
                question: PlanningQuestion) -> tuple[int, np.ndarray]:
        """Score the options after ``messages``; return the best and the probabilities."""
        if self.config.scoring == 'likelihood':
            # Mean log-probability per token of each whole label, turned into a distribution.
            logits = np.asarray(backend.score_continuations(messages, question.candidates))
        else:
            logits = np.asarray(backend.score_letters(messages, question.letters))
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return int(np.argmax(probs)), probs


class BaseStrategy(Strategy):
    """Direct answer: the most probable letter."""

    name = 'base'

    def decide(self, backend, question):
        """Score every letter in one pass and take the best."""
        messages = build_messages(self.template, question, self.scored_instruction)
        index, probs = self._scored(backend, messages, question)
        return StrategyResult(index, float(probs[index]), scores=probs.tolist())


class ChainOfThoughtStrategy(Strategy):
    """Reason first, then answer."""

    name = 'cot'

    def decide(self, backend, question):
        """Generate reasoning greedily and parse the answer from it."""
        messages = build_messages(self.template, question, self.template.cot_instruction)
        reply = backend.generate(messages, max_new_tokens=self.config.max_new_tokens)[0]
        parsed = parse_answer(reply.text, question.candidates)
        if parsed.valid:
            return StrategyResult(parsed.index, 1.0, rationale=reply.text,
                                  tokens=reply.num_tokens, answer_method=parsed.method)
        # The reasoning named no option: ask for the letter right after it.
        followup = messages + [Message.text('assistant', reply.text),
                               Message.text('user', self.scored_instruction)]
        index, probs = self._scored(backend, followup, question)
        return StrategyResult(index, float(probs[index]), scores=probs.tolist(),
                              rationale=reply.text, tokens=reply.num_tokens, invalid_answers=1,
                              answer_method='scored after reasoning')


class SelfReflectionStrategy(Strategy):
    """Answer, look at the answer again, answer finally."""

    name = 'reflect'

    def decide(self, backend, question):
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


class SelfConsistencyStrategy(Strategy):
    """Sample several reasoning paths and take the majority answer."""

    name = 'consistency'

    def decide(self, backend, question):
        """Sample ``samples`` replies in one batch and vote."""
        messages = build_messages(self.template, question, self.template.cot_instruction)
        replies = backend.generate(messages, num_samples=self.config.samples,
                                   temperature=self.config.temperature,
                                   max_new_tokens=self.config.max_new_tokens)
        votes = [0] * len(question.candidates)
        invalid = 0
        for reply in replies:
            parsed = parse_answer(reply.text, question.candidates)
            if parsed.valid:
                votes[parsed.index] += 1
            else:
                invalid += 1
        tokens = sum(r.num_tokens for r in replies)
        rationale = '\n---\n'.join(r.text for r in replies)
        if not any(votes):
            index, probs = self._scored(backend, build_messages(
                self.template, question, self.scored_instruction), question)
            return StrategyResult(index, float(probs[index]), scores=probs.tolist(), votes=votes,
                                  rationale=rationale, tokens=tokens, invalid_answers=invalid,
                                  answer_method='scored, no sample was valid')
        index = int(np.argmax(votes))  # first maximum: ties go to the earlier option
        return StrategyResult(index, votes[index] / len(replies), votes=votes,
                              rationale=rationale, tokens=tokens, invalid_answers=invalid,
                              answer_method='vote')


_CLASSES = {cls.name: cls for cls in (BaseStrategy, ChainOfThoughtStrategy,
                                      SelfReflectionStrategy, SelfConsistencyStrategy)}


def make_strategy(config: StrategyConfig, template: PromptTemplate | None = None) -> Strategy:
    """Instantiate the strategy ``config.name`` with ``template`` (default wording if None)."""
    return _CLASSES[config.name](config, template or PromptTemplate.default())
