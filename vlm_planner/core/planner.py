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
action-library label. Whatever the model says, the decided action is always a library label.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Sequence

from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.core.prompts import PlanningQuestion
from vlm_planner.core.strategies import Strategy
from vlm_planner.errors import ConfigError

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend


@dataclasses.dataclass(frozen=True)
class Decision:
    """One planning decision, as published on the ``decision`` topic (see :meth:`to_record`)."""

    stamp: float  # capture time of the current frame
    goal: str
    action: str  # the chosen action-library label
    index: int  # position of the action among the candidates
    candidates: tuple[str, ...]
    confidence: float
    accepted: bool  # confidence reached the planner's minimum
    strategy: str
    model: str
    untrained: bool
    latency_s: float
    keyframe_stamps: tuple[float, ...]
    scores: list[float] | None = None
    votes: list[int] | None = None
    rationale: str = ''
    tokens: int = 0
    invalid_answers: int = 0
    answer_method: str = 'scored'

    def to_record(self) -> dict[str, Any]:
        """Return the decision as a JSON-serialisable dict."""
        record = dataclasses.asdict(self)
        record['candidates'] = list(self.candidates)
        record['keyframe_stamps'] = list(self.keyframe_stamps)
        return record


class Planner:
    """Decides the next action with a backend, a strategy and an action library."""

    def __init__(self, backend: 'VLMBackend', actions: ActionLibrary, strategy: Strategy, *,
                 min_confidence: float = 0.0) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigError(f'min_confidence must be within 0..1, got {min_confidence}.')
        self.backend = backend
        self.actions = actions
        self.strategy = strategy
        self.min_confidence = min_confidence

    def decide(self, goal: str, frames: Sequence[Frame],
               candidates: Sequence[str] | None = None) -> Decision:
        """Choose the next action.

        Args:
            goal: the task goal in words.
            frames: keyframes in time order; the last one is the current observation.
            candidates: labels to choose from (default: the whole library); each must be in the
                library.

        Raises:
            ValueError: no frames or an empty goal.
            UnknownActionError: a candidate is not in the action library.
        """
        if not frames:
            raise ValueError('cannot plan without a camera frame; wait for the first image.')
        if not goal.strip():
            raise ValueError('cannot plan without a goal; publish one on the goal topic or set '
                             'the goal parameter.')
        labels = tuple(self.actions.get(c).label for c in (candidates or self.actions.labels))
        question = PlanningQuestion(goal=goal.strip(), history=tuple(frames[:-1]),
                                    current=frames[-1], candidates=labels)
        start = time.perf_counter()
        result = self.strategy.decide(self.backend, question)
        latency = time.perf_counter() - start
        return Decision(
            stamp=frames[-1].stamp, goal=question.goal, action=labels[result.index],
            index=result.index, candidates=labels, confidence=result.confidence,
            accepted=result.confidence >= self.min_confidence, strategy=self.strategy.name,
            model=self.backend.name, untrained=bool(getattr(self.backend, 'untrained', False)),
            latency_s=latency, keyframe_stamps=tuple(f.stamp for f in frames),
            scores=result.scores, votes=result.votes, rationale=result.rationale,
            tokens=result.tokens, invalid_answers=result.invalid_answers,
            answer_method=result.answer_method)
