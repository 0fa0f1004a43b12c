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

"""The decision step shared by the live node and the offline tools.

:class:`Planner` turns (goal, frames, candidate actions) into a :class:`Decision`: it builds the
planning question, runs the prompting strategy on a model backend, and maps the answer back to an
action-library label. Whatever the model says, the decided action is a library label or *no
action*: when the strategy could read no candidate from the model (see ``on_invalid`` in
:mod:`vlm_planner.core.strategies`) the decision has ``needs_help`` set, an empty ``action``, a
``None`` index, the reason in ``needs_help_reason``, and is never accepted. The rationale is
bounded to ``max_rationale_chars`` characters.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any, Sequence

from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.core.prompts import PlanningQuestion
from vlm_planner.core.strategies import Strategy, StrategyResult
from vlm_planner.errors import ConfigError

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend

#: Characters of the model card's ``trained_on`` kept in each decision record.
TRAINED_ON_CHARS = 300
#: Default bound on a decision's rationale, in characters.
MAX_RATIONALE_CHARS = 2000


@dataclasses.dataclass(frozen=True)
class Decision:
    """One planning decision, as published on the ``decision`` topic (see :meth:`to_record`)."""

    stamp: float  # capture time of the current frame
    goal: str
    action: str  # the chosen action-library label; '' when the decision needs help
    index: int | None  # position of the action among the candidates; None when it needs help
    candidates: tuple[str, ...]
    confidence: float  # in [0, 1]; 0 when the decision needs help
    accepted: bool  # an action was chosen and its confidence reached the planner's minimum
    strategy: str
    model: str
    untrained: bool
    latency_s: float
    keyframe_stamps: tuple[float, ...]
    scores: list[float] | None = None
    votes: list[int] | None = None
    rationale: str = ''  # at most the planner's max_rationale_chars
    tokens: int = 0
    invalid_answers: int = 0
    answer_method: str = 'scored'
    needs_help: bool = False  # the model named no candidate action: no action was chosen
    needs_help_reason: str = ''
    trained_on: str = ''  # what the model's card says it was trained on (bounded)
    # Milliseconds per stage of the model calls (prepare, vision, prefill, decode) and prompt
    # tokens prefilled and reused, where the backend measures them.
    stages: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """Return the decision as a JSON-serialisable dict (``index`` None becomes null)."""
        record = dataclasses.asdict(self)
        record['candidates'] = list(self.candidates)
        record['keyframe_stamps'] = list(self.keyframe_stamps)
        return record


def bound_text(text: str, max_chars: int) -> str:
    """Return ``text`` cut to at most ``max_chars`` characters, its start and end kept.

    The cut part is replaced by a marker saying how many characters were left out.
    """
    if len(text) <= max_chars:
        return text
    # The marker is sized for the longest count, so text and marker stay within max_chars.
    keep = max_chars - len(_cut_marker(len(text)))
    if keep < 2:
        return text[:max_chars]
    head = keep // 2
    return text[:head] + _cut_marker(len(text) - keep) + text[len(text) - (keep - head):]


def _cut_marker(count: int) -> str:
    return f' [... {count} characters cut ...] '


class Planner:
    """Decides the next action with a backend, a strategy and an action library."""

    def __init__(self, backend: 'VLMBackend', actions: ActionLibrary, strategy: Strategy, *,
                 min_confidence: float = 0.0,
                 max_rationale_chars: int = MAX_RATIONALE_CHARS) -> None:
        """Check the limits and keep the parts.

        Args:
            backend: the model.
            actions: the action library every decided action comes from.
            strategy: how the model is asked.
            min_confidence: decisions below this confidence (0..1) are not accepted.
            max_rationale_chars: longest rationale kept in a decision (0: none kept).

        Raises:
            ConfigError: ``min_confidence`` or ``max_rationale_chars`` is out of range.
        """
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigError(f'min_confidence must be within 0..1, got {min_confidence}.')
        if max_rationale_chars < 0:
            raise ConfigError(f'max_rationale_chars must be 0 or more, got '
                              f'{max_rationale_chars}.')
        self.backend = backend
        self.actions = actions
        self.strategy = strategy
        self.min_confidence = min_confidence
        self.max_rationale_chars = max_rationale_chars

    def decide(self, goal: str, frames: Sequence[Frame],
               candidates: Sequence[str] | None = None) -> Decision:
        """Choose the next action.

        Args:
            goal: the task goal in words.
            frames: keyframes in time order; the last one is the current observation.
            candidates: labels to choose from (default: the whole library); each must be in the
                library.

        Returns:
            The decision: a library label, or no action with ``needs_help`` set.

        Raises:
            ValueError: no frames or an empty goal.
            UnknownActionError: a candidate is not in the action library.
        """
        question = self._question(goal, frames, candidates)
        stages = self.backend.stages
        if stages is not None:
            stages.reset()
        start = time.perf_counter()
        result = self.strategy.decide(self.backend, question)
        latency = time.perf_counter() - start
        return self._decision(question, frames, result, latency,
                              stages.as_dict() if stages is not None else {})

    def decide_many(self, requests: Sequence[tuple[str, Sequence[Frame], Sequence[str] | None]],
                    ) -> list[Decision]:
        """Choose the next action at several decision points at once (an evaluation's batch).

        The strategy asks them together where it can (the base strategy scores every prompt
        in one batched pass; a model server gets them concurrently). Each decision's latency
        and stage times are its share of the batch's.

        Args:
            requests: (goal, frames, candidates) of each decision point, as for :meth:`decide`.

        Raises:
            ValueError: a request has no frames or an empty goal.
            UnknownActionError: a candidate is not in the action library.
        """
        questions = [self._question(*request) for request in requests]
        stages = self.backend.stages
        if stages is not None:
            stages.reset()
        start = time.perf_counter()
        results = self.strategy.decide_many(self.backend, questions)
        share = 1.0 / max(1, len(questions))
        latency = (time.perf_counter() - start) * share
        shared = ({name: value * share for name, value in stages.as_dict().items()}
                  if stages is not None else {})
        return [self._decision(question, frames, result, latency, shared)
                for question, (_, frames, _), result in zip(questions, requests, results)]

    def _question(self, goal: str, frames: Sequence[Frame],
                  candidates: Sequence[str] | None) -> PlanningQuestion:
        if not frames:
            raise ValueError('cannot plan without a camera frame; wait for the first image.')
        if not goal.strip():
            raise ValueError('cannot plan without a goal; publish one on the goal topic or set '
                             'the goal parameter.')
        labels = tuple(self.actions.get(c).label for c in (candidates or self.actions.labels))
        return PlanningQuestion(goal=goal.strip(), history=tuple(frames[:-1]),
                                current=frames[-1], candidates=labels)

    def _decision(self, question: PlanningQuestion, frames: Sequence[Frame],
                  result: StrategyResult, latency: float, stages: dict[str, float]) -> Decision:
        labels = question.candidates
        index, reason = _checked_index(result, len(labels), self.strategy.name)
        confidence = _unit(result.confidence) if index is not None else 0.0
        return Decision(
            stamp=frames[-1].stamp, goal=question.goal,
            action='' if index is None else labels[index], index=index, candidates=labels,
            confidence=confidence,
            accepted=index is not None and confidence >= self.min_confidence,
            strategy=self.strategy.name, model=self.backend.name,
            untrained=self.backend.untrained, latency_s=latency,
            trained_on=self.backend.card.trained_on[:TRAINED_ON_CHARS],
            keyframe_stamps=tuple(f.stamp for f in frames), scores=result.scores,
            votes=result.votes, rationale=bound_text(result.rationale, self.max_rationale_chars),
            tokens=result.tokens, invalid_answers=result.invalid_answers,
            answer_method=result.answer_method, needs_help=index is None,
            needs_help_reason=reason, stages=stages)


def _checked_index(result: StrategyResult, count: int, strategy: str) -> tuple[int | None, str]:
    """The result's index if it names a candidate, else None and why."""
    index = result.index
    if index is None:
        return None, result.reason or f'strategy {strategy} chose no candidate action'
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        return None, (f'strategy {strategy} returned index {index!r}, which names none of the '
                      f'{count} candidates; no action taken (a bug in the strategy)')
    return index, ''


def _unit(value: float) -> float:
    """``value`` within [0, 1]; NaN becomes 0."""
    value = float(value)
    return 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)
