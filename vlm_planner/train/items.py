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

"""Question-answer training items from any data set, asked exactly as the planner asks.

Every data set (annotated rosbag2 recordings, generated episodes, EgoPlan-Bench files) yields
:class:`~vlm_planner.data.items.EvalItem` objects whose frames were replayed through the live
node's :class:`~vlm_planner.core.session.DecisionSession`. A :class:`TrainingItem` is such an item
as the planner would put it to the model: the planning question the planner builds, the chat
messages of the strategy's scored prompt (:func:`~vlm_planner.core.prompts.build_messages` with
the strategy's :attr:`~vlm_planner.core.strategies.Strategy.scored_instruction` and template),
and the reply to learn:

* ``action``: the correct action's label, the reply ``strategy.scoring: likelihood`` scores;
* ``letter``: its answer letter, the reply ``strategy.scoring: letter`` scores;
* ``scene`` (``finetune --describe-scene``): the item's scene description (the annotation's
  ``scene``), asked with :data:`SCENE_INSTRUCTION` in place of the action instruction. The planner
  never asks this; it is an auxiliary target whose every word is about what the frame shows.

Hard negatives: items that already offer a few candidates (generated episodes carry hard
negatives of the same task; EgoPlan-Bench items four options) keep them. Items offering the
whole library get ``negatives`` of them (:func:`with_negatives`), drawn per seed with a
preference for the actions of the same task: the answers of its other decision points first,
then actions sharing the answer's verb or noun, then the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator, Sequence
import zlib

import numpy as np

from vlm_planner.core.actions import Action, normalize_label
from vlm_planner.core.chat import Message
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.prompts import LETTERS, PlanningQuestion, PromptTemplate, build_messages
from vlm_planner.core.strategies import make_strategy, Strategy, StrategyConfig
from vlm_planner.data.items import Dataset, EvalItem

#: Reply kinds and the strategy.scoring that reads each.
SCORING = {'action': 'likelihood', 'letter': 'letter'}

#: Sampling weight of a negative: another answer of the same task, a related action, the rest.
TIER_WEIGHTS = (6.0, 2.0, 1.0)

#: The auxiliary reply kind: the scene description.
SCENE = 'scene'

#: Instruction of a scene item, in place of the action instruction.
SCENE_INSTRUCTION = 'Describe where everything is now.'

#: Action instruction of a prompt without options, when the template's own names the options.
NO_OPTIONS_INSTRUCTION = 'Answer with the next action.'


@dataclasses.dataclass(frozen=True)
class TrainingItem:
    """One item as the planner would ask it, with the reply to learn.

    Attributes:
        item: the evaluation item, with the candidates the question offers.
        kind: ``'action'`` (the reply is the answer's label), ``'letter'`` (its letter) or
            ``'scene'`` (the scene description).
        messages: the chat messages the planner sends for this question.
        target: the reply.
    """

    item: EvalItem
    kind: str
    messages: tuple[Message, ...]
    target: str


def question_of(item: EvalItem) -> PlanningQuestion:
    """The planning question :meth:`~vlm_planner.core.planner.Planner.decide` builds for ``item``.

    The keyframes before the current frame are the progress video; the candidates are the
    item's labels in order.
    """
    return PlanningQuestion(goal=item.goal.strip(), history=tuple(item.frames[:-1]),
                            current=item.frames[-1],
                            candidates=tuple(action.label for action in item.candidates))


def without_options(template: PromptTemplate) -> PromptTemplate:
    """``template`` with the options list left out (an empty ``choice``).

    An action instruction that mentions the options (the default's does) becomes
    :data:`NO_OPTIONS_INSTRUCTION`.
    """
    instruction = template.action_instruction
    if 'option' in instruction.lower():
        instruction = NO_OPTIONS_INSTRUCTION
    return dataclasses.replace(template, choices_header='', choice='',
                               action_instruction=instruction)


class Prompter:
    """Builds training items with the strategies the planner would use for each reply kind.

    Args:
        strategy: the planner's strategy settings; ``scoring`` is set per reply kind.
        template: the prompt wording (the one the planner will be given).
    """

    def __init__(self, strategy: StrategyConfig, template: PromptTemplate) -> None:
        self.strategies: dict[str, Strategy] = {
            kind: make_strategy(dataclasses.replace(strategy, scoring=scoring), template)
            for kind, scoring in SCORING.items()}

    def training_item(self, item: EvalItem, kind: str) -> TrainingItem:
        """Return ``item`` asked as the planner asks it, with the reply of ``kind``.

        Raises:
            ValueError: ``kind`` is ``'scene'`` and ``item`` has no scene description.
        """
        if kind == SCENE:
            if not item.scene:
                raise ValueError(f'{item.dataset}/{item.item_id} has no scene description')
            messages = build_messages(self.strategies['action'].template, question_of(item),
                                      SCENE_INSTRUCTION)
            return TrainingItem(item, kind, tuple(messages), item.scene)
        strategy = self.strategies[kind]
        messages = build_messages(strategy.template, question_of(item),
                                  strategy.scored_instruction)
        target = (item.candidates[item.answer].label if kind == 'action'
                  else LETTERS[item.answer])
        return TrainingItem(item, kind, tuple(messages), target)


def training_items(dataset: Dataset, keyframes: KeyframeConfig, strategy_config: StrategyConfig,
                   template: PromptTemplate, *, kinds: Sequence[str] = ('action',),
                   negatives: int = 3, seed: int = 0) -> Iterator[TrainingItem]:
    """Yield the training items of ``dataset``, one per item and reply kind.

    Args:
        dataset: any data set; its items are replayed through the decision session.
        keyframes: the keyframe settings the planner will run with.
        strategy_config: the planner's strategy settings.
        template: the prompt wording the planner will be given.
        kinds: reply kinds, each of ``'action'`` and ``'letter'``.
        negatives: negatives kept for items that offer more than ``negatives + 1`` candidates.
        seed: seed of the sampled negatives.
    """
    prompter = Prompter(strategy_config, template)
    for item in with_negatives(dataset.items(keyframes), negatives, seed):
        for kind in kinds:
            yield prompter.training_item(item, kind)


def with_negatives(items: Iterable[EvalItem], negatives: int, seed: int) -> Iterator[EvalItem]:
    """Yield ``items``, those offering more than ``negatives + 1`` candidates cut down.

    Items come in a stable order in which a task's items follow each other (recordings are
    replayed in time order); the items of one task are held until the task ends, so the answers
    of its other decision points are known when its negatives are drawn.
    """
    task: list[EvalItem] = []
    for item in items:
        if task and (item.dataset, item.task) != (task[0].dataset, task[0].task):
            yield from _task_items(task, negatives, seed)
            task = []
        task.append(item)
    yield from _task_items(task, negatives, seed)


def _task_items(task: list[EvalItem], negatives: int, seed: int) -> Iterator[EvalItem]:
    answers = {normalize_label(i.candidates[i.answer].label) for i in task}
    for item in task:
        if len(item.candidates) > negatives + 1:
            item = sample_candidates(item, negatives, seed, answers)
        yield item


def sample_candidates(item: EvalItem, negatives: int, seed: int,
                      task_answers: Iterable[str] = ()) -> EvalItem:
    """Return ``item`` with its answer and ``negatives`` drawn negatives, in a drawn order.

    The draw depends only on ``seed``, the item's data set and id. Negatives are drawn without
    replacement, weighted by :data:`TIER_WEIGHTS`: labels in ``task_answers`` (the answers of the
    task's other decision points), then actions sharing the answer's verb or noun, then the rest.
    """
    rng = np.random.default_rng([seed, zlib.crc32(f'{item.dataset}/{item.item_id}'.encode())])
    answer = item.candidates[item.answer]
    pool = [a for i, a in enumerate(item.candidates) if i != item.answer]
    weights = np.asarray([TIER_WEIGHTS[_tier(a, answer, set(task_answers))] for a in pool])
    count = min(negatives, len(pool))
    chosen = [pool[i] for i in rng.choice(len(pool), size=count, replace=False,
                                          p=weights / weights.sum())]
    order = rng.permutation(count + 1)
    candidates = tuple(([answer] + chosen)[i] for i in order)
    return dataclasses.replace(item, candidates=candidates, answer=int(np.argmin(order)))


def _tier(action: Action, answer: Action, task_answers: set[str]) -> int:
    if normalize_label(action.label) in task_answers:
        return 0
    related = ((action.verb and action.verb == answer.verb)
               or (action.noun and action.noun == answer.noun))
    return 1 if related else 2
