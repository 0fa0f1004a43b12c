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

"""Expert rollouts of tabletop tasks with deliberate detours, for training and evaluation data.

An :class:`Episode` is a random start layout, a goal of one of the :data:`FAMILIES`, and the
steps an expert takes until the goal holds. At every step the decision label (``answer``) is the
expert's correct next action for the state the step starts in. What the robot then *executes* is
usually that action, but at a configurable rate it is a deliberate detour, so recovery states
appear in the data:

* ``wrong-pick``: it picks up a block the plan does not need now (the expert then puts it back);
* ``wrong-place``: it puts the held block somewhere the plan does not want it;
* ``failed``: the correct action fails and leaves the world unchanged (the next step retries it).

A detour never makes the goal unreachable. Some episodes also start with a *head start*: part of
the goal already done before the recording begins (and sometimes a block starts in the bin), so
the expert must see what is already satisfied rather than count steps.

Each step also carries hard negative candidates: actions of the library that are not correct in
that state, preferring ones that are feasible there (picking another block, putting the held
block on the table instead of in the bin), then ones of the answer's verb, then the rest. An
action counts as correct when it shortens the expert's plan by one step; the expert's plans are
shortest plans, so no negative is an equally good choice.

Everything is drawn from a seeded numpy generator: the same seed gives the same episode.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

import numpy as np

from vlm_planner.core.actions import ActionLibrary
from vlm_planner.errors import ConfigError
from vlm_planner.sim.tasks import BinTask, StackTask, TableTask, Task, UnsolvableTaskError
from vlm_planner.sim.world import BIN, COLOURS, Location, ON, TabletopWorld

#: Goal families, in the order episodes cycle through them.
FAMILIES: tuple[str, ...] = ('bin-single', 'bin-multi', 'bin-all', 'table', 'stack-pair',
                             'tower')

#: Kinds of detour a step may take (see the module docstring).
DETOURS: tuple[str, ...] = ('wrong-pick', 'wrong-place', 'failed')

#: Longest episode, in steps; expert plans for three blocks take at most about ten.
MAX_STEPS = 40

#: Start layouts tried before giving up on a family and layout filter.
_MAX_ATTEMPTS = 2000


def family_of(task: Task) -> str:
    """Return the family of ``task``: one of :data:`FAMILIES`."""
    if isinstance(task, BinTask):
        if len(task.colours) == len(COLOURS):
            return 'bin-all'
        return 'bin-single' if len(task.colours) == 1 else 'bin-multi'
    if isinstance(task, TableTask):
        return 'table'
    if isinstance(task, StackTask):
        return 'stack-pair' if len(task.tower) == 2 else 'tower'
    raise ValueError(f'no family for task {task!r}')


@dataclasses.dataclass(frozen=True)
class RolloutConfig:
    """How start layouts and rollouts are drawn.

    Attributes:
        detour_rate: chance that a step is a detour (0 to 1).
        max_detours: most detours in one episode.
        head_start_rate: chance that an episode starts with part of its goal already done.
        bin_start_rate: chance that one block starts in the bin.
        stack_probability: chance that a block of the start layout is put on a pile.
        slots: numbers of table slots to draw from.
        negatives: hard negative candidates per step.
    """

    detour_rate: float = 0.15
    max_detours: int = 2
    head_start_rate: float = 0.2
    bin_start_rate: float = 0.15
    stack_probability: float = 0.35
    slots: tuple[int, ...] = (3, 4, 5)
    negatives: int = 3

    def __post_init__(self) -> None:
        for name in ('detour_rate', 'head_start_rate', 'bin_start_rate', 'stack_probability'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f'{name} must be within 0..1, got {value!r}.')
        if self.max_detours < 0:
            raise ConfigError(f'max_detours must be 0 or more, got {self.max_detours!r}.')
        if not self.slots or min(self.slots) < len(COLOURS):
            raise ConfigError(f'slots must be numbers of table slots of at least {len(COLOURS)} '
                              f'(one per block), got {self.slots!r}.')
        if self.negatives < 1:
            raise ConfigError(f'negatives must be at least 1, got {self.negatives!r}.')


@dataclasses.dataclass(frozen=True)
class Step:
    """One decision of an episode.

    Attributes:
        state: the world when the step starts (:meth:`TabletopWorld.to_dict`).
        answer: the expert's correct next action: the decision label.
        candidates: the answer and the hard negatives, in a seeded random order.
        executed: the action the robot then tried (the answer unless a detour).
        applied: whether it changed the world (False for a ``failed`` detour).
        detour: ``''`` or one of :data:`DETOURS`.
    """

    state: dict[str, object]
    answer: str
    candidates: tuple[str, ...]
    executed: str
    applied: bool
    detour: str = ''

    def world(self) -> TabletopWorld:
        """Return the world the step starts in."""
        return TabletopWorld.from_dict(self.state)


@dataclasses.dataclass(frozen=True)
class Episode:
    """A rolled-out task (see the module docstring).

    Attributes:
        seed: the seed it was drawn with.
        family: the goal family, one of :data:`FAMILIES`.
        goal: the goal text, as :func:`~vlm_planner.sim.tasks.parse_goal` reads it.
        initial: the world when the recording starts.
        head_start: expert actions done before the recording started.
        steps: the decisions, in order.
        final: the world at the end, where the goal holds.
    """

    seed: int
    family: str
    goal: str
    initial: dict[str, object]
    head_start: tuple[str, ...]
    steps: tuple[Step, ...]
    final: dict[str, object]

    def to_dict(self) -> dict[str, object]:
        """Return the episode as JSON-ready data."""
        data = dataclasses.asdict(self)
        data['head_start'] = list(self.head_start)
        data['steps'] = [dict(step, candidates=list(step['candidates']))
                         for step in data['steps']]
        return data


def random_layout(rng: np.random.Generator, config: RolloutConfig) -> TabletopWorld:
    """Return a random start world: blocks on slots or piles, at most one in the bin."""
    n_slots = int(rng.choice(config.slots))
    order = [COLOURS[i] for i in rng.permutation(len(COLOURS))]
    locations: dict[str, Location] = {}
    if rng.random() < config.bin_start_rate:
        locations[order.pop(0)] = Location.in_bin()
    free = list(range(n_slots))
    for colour in order:
        tops = [c for c in order if c in locations and
                all(loc.block != c for loc in locations.values())]
        if tops and rng.random() < config.stack_probability:
            locations[colour] = Location.on_block(tops[int(rng.integers(len(tops)))])
        else:
            locations[colour] = Location.on_table(free.pop(int(rng.integers(len(free)))))
    return TabletopWorld(locations, n_slots=n_slots)


def random_task(rng: np.random.Generator, family: str, world: TabletopWorld) -> Task | None:
    """Return a random task of ``family`` that ``world`` does not meet yet but can reach.

    Returns:
        The task, or None when no task of the family fits this world.
    """
    free = [c for c in COLOURS if world.location(c).kind != BIN]
    options: list[Task]
    if family == 'bin-single':
        options = [BinTask((c,)) for c in free]
    elif family == 'bin-multi':
        options = [BinTask(pair) for pair in itertools.combinations(COLOURS, 2)]
    elif family == 'bin-all':
        options = [BinTask(COLOURS)]
    elif family == 'table':
        options = [TableTask(c) for c in free if world.location(c).kind == ON]
    elif family == 'stack-pair':
        options = [StackTask(pair) for pair in itertools.permutations(free, 2)]
    elif family == 'tower':
        options = [StackTask(tower) for tower in itertools.permutations(free, 3)]
    else:
        raise ConfigError(f'unknown goal family {family!r}; use one of {", ".join(FAMILIES)}.')
    options = [task for task in options if not task.is_satisfied(world)]
    if not options:
        return None
    return options[int(rng.integers(len(options)))]


def plan_length(task: Task, world: TabletopWorld) -> int | None:
    """Return the length of the expert's plan from ``world``, or None if the goal is lost."""
    try:
        return len(task.expert_plan(world))
    except UnsolvableTaskError:
        return None


def correct_actions(task: Task, world: TabletopWorld, library: ActionLibrary) -> set[str]:
    """Return the labels of every action that shortens the expert's plan by one step."""
    remaining = plan_length(task, world)
    correct = set()
    for action in library:
        after = world.copy()
        if remaining and after.apply(action).applied and \
                plan_length(task, after) == remaining - 1:
            correct.add(action.label)
    return correct


def hard_negatives(world: TabletopWorld, library: ActionLibrary, answer: str,
                   correct: set[str], rng: np.random.Generator, count: int) -> list[str]:
    """Return ``count`` library labels that are wrong in ``world``, hardest first.

    Feasible wrong actions come first, then infeasible ones of the answer's verb, then the rest;
    each group in a seeded random order.

    Raises:
        ConfigError: the library has fewer than ``count`` wrong actions.
    """
    verb = library.get(answer).verb
    groups: list[list[str]] = [[], [], []]
    for action in library:
        if action.label in correct or action.label == answer:
            continue
        feasible = world.copy().apply(action).applied
        groups[0 if feasible else 1 if action.verb == verb else 2].append(action.label)
    ordered = [label for group in groups for label in
               (group[i] for i in rng.permutation(len(group)))]
    if len(ordered) < count:
        raise ConfigError(f'action library {library.name!r} has only {len(ordered)} wrong '
                          f'actions at a step; {count} hard negatives were asked for.')
    return ordered[:count]


def _detour(task: Task, world: TabletopWorld, library: ActionLibrary, correct: set[str],
            rng: np.random.Generator) -> tuple[str, str] | None:
    """Pick a detour for this step: ``(kind, executed label)``, or None when none fits."""
    wrong: dict[str, list[str]] = {'wrong-pick': [], 'wrong-place': []}
    for action in library:
        if action.label in correct:
            continue
        after = world.copy()
        if not after.apply(action).applied or plan_length(task, after) is None:
            continue
        wrong['wrong-pick' if world.held is None else 'wrong-place'].append(action.label)
    kinds = ['failed'] + [kind for kind in ('wrong-pick', 'wrong-place') if wrong[kind]]
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == 'failed':
        return kind, ''
    return kind, wrong[kind][int(rng.integers(len(wrong[kind])))]


def sample_start(rng: np.random.Generator, family: str, config: RolloutConfig,
                 library: ActionLibrary,
                 accept: Callable[[TabletopWorld], bool] = lambda world: True,
                 ) -> tuple[TabletopWorld, Task, tuple[str, ...]]:
    """Draw a start world, a task of ``family`` it does not meet, and any head start.

    Args:
        rng: the episode's generator.
        family: one of :data:`FAMILIES`.
        config: layout and head-start settings.
        library: the action library (for head-start actions).
        accept: filter on the start world (the data set's split of layouts).

    Raises:
        ConfigError: no accepted start was found.
    """
    for _ in range(_MAX_ATTEMPTS):
        world = random_layout(rng, config)
        task = random_task(rng, family, world)
        if task is None:
            continue
        head: tuple[str, ...] = ()
        if rng.random() < config.head_start_rate:
            plan = task.expert_plan(world)
            # Cut after a completed placement (gripper empty), before the goal holds.
            cuts = [k for k in range(2, len(plan))
                    if library.get(plan[k - 1]).verb != 'pick']
            if cuts:
                head = tuple(plan[:cuts[int(rng.integers(len(cuts)))]])
                for label in head:
                    world.apply(library.get(label))
        if task.is_satisfied(world) or world.held is not None or not accept(world):
            continue
        return world, task, head
    raise ConfigError(f'found no start layout for goal family {family!r} within '
                      f'{_MAX_ATTEMPTS} tries; give the split a larger fraction of layouts.')


def rollout(world: TabletopWorld, task: Task, rng: np.random.Generator, config: RolloutConfig,
            library: ActionLibrary) -> tuple[list[Step], TabletopWorld]:
    """Run the expert (with detours) from ``world`` until ``task`` holds.

    Returns:
        The steps and the final world.

    Raises:
        UnsolvableTaskError: the goal cannot be reached from ``world``.
    """
    world = world.copy()
    steps: list[Step] = []
    detours = 0
    while not task.is_satisfied(world):
        if len(steps) >= MAX_STEPS:
            raise UnsolvableTaskError(f'{task.text!r} not reached within {MAX_STEPS} steps')
        answer = task.expert_plan(world)[0]
        correct = correct_actions(task, world, library) | {answer}
        kind, executed = '', answer
        if detours < config.max_detours and rng.random() < config.detour_rate:
            choice = _detour(task, world, library, correct, rng)
            if choice is not None:
                kind, executed = choice[0], choice[1] or answer
                detours += 1
        negatives = hard_negatives(world, library, answer, correct, rng, config.negatives)
        options = [answer] + negatives
        candidates = tuple(options[i] for i in rng.permutation(len(options)))
        state = world.to_dict()
        applied = False
        if kind != 'failed':
            applied = world.apply(library.get(executed)).applied
            if not applied:  # cannot happen: answers and detours are feasible
                raise UnsolvableTaskError(f'{executed!r} was not feasible in {state}')
        steps.append(Step(state=state, answer=answer, candidates=candidates, executed=executed,
                          applied=applied, detour=kind))
    return steps, world


def make_episode(seed: int, family: str, library: ActionLibrary,
                 config: RolloutConfig = RolloutConfig(),
                 accept: Callable[[TabletopWorld], bool] = lambda world: True) -> Episode:
    """Draw and roll out one episode of ``family``; the same arguments give the same episode.

    Raises:
        ConfigError: the family is unknown or no accepted start layout was found.
    """
    if family not in FAMILIES:
        raise ConfigError(f'unknown goal family {family!r}; use one of {", ".join(FAMILIES)}.')
    rng = np.random.default_rng(seed)
    world, task, head = sample_start(rng, family, config, library, accept)
    steps, final = rollout(world, task, rng, config, library)
    return Episode(seed=seed, family=family, goal=task.text, initial=world.to_dict(),
                   head_start=head, steps=tuple(steps), final=final.to_dict())
