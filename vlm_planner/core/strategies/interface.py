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

"""What a prompting strategy is: its configuration, its result, its base class and its registry.

A strategy asks a backend the planning question in one particular way and returns a
:class:`StrategyResult`: the chosen candidate with a confidence in [0, 1], or no candidate at all
(``index`` None: the model named no candidate action, the decision needs help).

Confidence, by how the answer was obtained:

* scored (the options' probabilities from one forward pass): the probability of the choice;
* parsed from generated text (chain of thought): the probability the scorer gives the parsed
  choice right after the reasoning, so a reply whose text and scores disagree is held back by
  ``min_confidence`` (the parsed choice is kept, with that low confidence);
* voted (self-consistency): the share of all samples, invalid ones included, that voted for it;
* no action: 0.

``on_invalid`` chooses what a strategy does when the generated text names no candidate:
``'no_action'`` (the default: the decision carries no action and says why) or ``'fallback'``
(score the options instead and take the best, counting the invalid answer).

A new strategy is one module in this package with a class decorated by
``@register_strategy('its-name')``; the package imports its modules, so nothing else changes.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable, Sequence, TYPE_CHECKING

import numpy as np

from vlm_planner.core.chat import Message
from vlm_planner.core.prompts import PlanningQuestion, PromptTemplate
from vlm_planner.registry import Registry
from vlm_planner.errors import InferenceError
from vlm_planner.params import check_fields, option

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend

SCORINGS = ('letter', 'likelihood')
#: What to do when no candidate can be read from a model's text (see the module docstring).
ON_INVALID = ('no_action', 'fallback')


@dataclasses.dataclass(frozen=True)
class StrategyConfig:
    """Which strategy to use and its knobs: the ``strategy.*`` parameters, declared here once."""

    name: str = option(
        'base', "Prompting strategy: 'base' (direct answer), 'cot' (chain of thought), 'reflect' "
        "(self-reflection), 'consistency' (self-consistency) or another registered one.",
        dynamic=True, choices=lambda: strategy_names())
    samples: int = option(5, 'Self-consistency: answers sampled per decision (one batch).',
                          dynamic=True, minimum=1)
    temperature: float = option(0.7, 'Self-consistency: sampling temperature.', dynamic=True,
                                above=0.0)
    max_new_tokens: int = option(128, 'Chain of thought and self-consistency: longest '
                                 'reasoning, in tokens.', dynamic=True, minimum=1)
    scoring: str = option(
        'letter', "How options are scored where a strategy scores them: 'letter' (answer-letter "
        "probabilities, one forward pass) or 'likelihood' (each whole action's mean token "
        "log-probability, EgoPlan's lowest loss, prompt computed once).", dynamic=True,
        choices=SCORINGS)
    on_invalid: str = option(
        'no_action', "When the model's text names no candidate action (chain of thought, "
        "self-consistency): 'no_action' publishes nothing and reports that the planner needs "
        "help; 'fallback' scores the options instead and takes the best.", dynamic=True,
        choices=ON_INVALID)

    def __post_init__(self) -> None:
        check_fields(self, 'strategy.')


@dataclasses.dataclass(frozen=True)
class StrategyResult:
    """What a strategy chose and why."""

    index: int | None  # chosen candidate; None: no candidate could be chosen (needs help)
    confidence: float  # in [0, 1], see the module docstring; 0 without a choice
    scores: list[float] | None = None  # per-candidate probabilities, when scored
    votes: list[int] | None = None  # per-candidate votes, when sampled
    rationale: str = ''
    tokens: int = 0  # tokens generated
    invalid_answers: int = 0  # replies no candidate could be read from
    answer_method: str = 'scored'  # how the final answer was obtained
    reason: str = ''  # why there is no choice, when index is None


class Strategy(abc.ABC):
    """Asks a backend the planning question in one particular way."""

    name: str  # set by @register_strategy

    def __init__(self, config: StrategyConfig, template: PromptTemplate) -> None:
        self.config = config
        self.template = template

    @abc.abstractmethod
    def decide(self, backend: 'VLMBackend', question: PlanningQuestion) -> StrategyResult:
        """Return the chosen candidate for ``question`` (or none, see :class:`StrategyResult`)."""

    def decide_many(self, backend: 'VLMBackend',
                    questions: Sequence[PlanningQuestion]) -> list[StrategyResult]:
        """Return :meth:`decide` of several questions, in order.

        Strategies whose model calls batch override this; here the questions are asked up to
        the backend's ``max_in_flight`` at once (a model server answers them concurrently).
        """
        from vlm_planner.models.base import in_flight

        return in_flight(lambda question: self.decide(backend, question), questions,
                         backend.max_in_flight)

    @property
    def scored_instruction(self) -> str:
        """The instruction that ends a prompt whose options are scored."""
        return (self.template.action_instruction if self.config.scoring == 'likelihood'
                else self.template.answer_instruction)

    def _scored(self, backend: 'VLMBackend', messages: list[Message],
                question: PlanningQuestion) -> tuple[int, np.ndarray]:
        """Score the options after ``messages``; return the best and the probabilities.

        Raises:
            InferenceError: the backend returned a score per option of the wrong number.
        """
        if self.config.scoring == 'likelihood':
            # Mean log-probability per token of each whole label, turned into a distribution.
            raw = backend.score_continuations(messages, question.candidates)
        else:
            raw = backend.score_letters(messages, question.letters)
        return self._choice(backend, raw, question)

    def _scored_many(self, backend: 'VLMBackend', prompts: Sequence[list[Message]],
                     questions: Sequence[PlanningQuestion]) -> list[tuple[int, np.ndarray]]:
        """:meth:`_scored` of several prompts, in one batched call to the backend."""
        if self.config.scoring == 'likelihood':
            raw = backend.score_continuations_many(prompts, [q.candidates for q in questions])
        else:
            raw = backend.score_letters_many(prompts, [q.letters for q in questions])
        return [self._choice(backend, scores, question)
                for scores, question in zip(raw, questions)]

    @staticmethod
    def _choice(backend: 'VLMBackend', raw: Any,
                question: PlanningQuestion) -> tuple[int, np.ndarray]:
        """The best option and the options' probabilities from the backend's raw scores.

        Raises:
            InferenceError: the backend returned a score per option of the wrong number.
        """
        logits: np.ndarray = np.asarray(raw, dtype=float).reshape(-1)
        if logits.shape != (len(question.candidates),):
            raise InferenceError(
                f'backend {backend.name} returned {logits.size} scores for '
                f'{len(question.candidates)} options; its scoring is broken, check the backend.')
        # A NaN or infinite score must not turn into a NaN probability.
        logits = np.nan_to_num(logits, nan=-1e30, posinf=1e30, neginf=-1e30)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return int(np.argmax(probs)), probs

    @staticmethod
    def _no_choice(reason: str, *, scores: list[float] | None = None,
                   votes: list[int] | None = None, rationale: str = '', tokens: int = 0,
                   invalid_answers: int = 0) -> StrategyResult:
        """The result of a decision that names no candidate (``on_invalid: no_action``)."""
        return StrategyResult(None, 0.0, scores=scores, votes=votes, rationale=rationale,
                              tokens=tokens, invalid_answers=invalid_answers,
                              answer_method='no action', reason=reason)


def _is_strategy(cls: object, name: str) -> str:
    if isinstance(cls, type) and issubclass(cls, Strategy):
        return ''
    return (f'{cls!r} registered as strategy {name!r} does not derive from Strategy; subclass '
            'it.')


STRATEGY_REGISTRY: Registry[type[Strategy]] = Registry(
    'strategy', 'vlm_planner.core.strategies', check=_is_strategy)


def register_strategy(name: str, *,
                      order: int = 100) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator: make a :class:`Strategy` subclass available under ``name``.

    Args:
        name: the value of ``strategy.name`` that selects it (also set as the class's ``name``).
        order: its place among the names (lower first, ties by name); the shipped strategies
            use 10 to 40.
    """
    register = STRATEGY_REGISTRY.register(name, order=order)

    def decorate(cls: type[Strategy]) -> type[Strategy]:
        register(cls)
        cls.name = name
        return cls
    return decorate


def unregister_strategy(name: str) -> None:
    """Remove the strategy ``name`` from the registry (tests that register their own use it)."""
    STRATEGY_REGISTRY.unregister(name)


def strategy_names() -> tuple[str, ...]:
    """The names of every registered strategy."""
    return STRATEGY_REGISTRY.names()


def make_strategy(config: StrategyConfig, template: PromptTemplate | None = None) -> Strategy:
    """Instantiate the strategy ``config.name`` with ``template`` (default wording if None)."""
    return STRATEGY_REGISTRY.get(config.name)(config, template or PromptTemplate.default())
