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

"""Task goals of the tabletop world: goal text, a success test, and an expert plan.

:func:`parse_goal` understands these phrasings, for any of the colours red, green and blue
("the" is optional; "into" may stand for "in", "onto" or "on top of" for "on"):

* ``put the <colour> block in the bin``
* ``put the <colour> and <colour> blocks in the bin`` (``<colour>, <colour> and <colour>`` too)
* ``put all blocks in the bin``
* ``put the <colour> block on the table``
* ``stack the <colour> block on the <colour> block`` (or ``put ... on the <colour> block``)
* ``stack the <colour> block on the <colour> block on the <colour> block`` (a tower, top first)

Expert plans are lists of labels of ``config/actions/tabletop.yaml``; applied in order to the world
they were made for, they satisfy the goal.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from typing import Callable

from vlm_planner.core.actions import Action
from vlm_planner.errors import ConfigError, VlmPlannerError
from vlm_planner.sim.world import BIN, COLOURS, TABLE, TabletopWorld

#: The goal phrasings :func:`parse_goal` understands.
SUPPORTED_GOALS: tuple[str, ...] = (
    'put the <colour> block in the bin',
    'put the <colour> and <colour> blocks in the bin',
    'put all blocks in the bin',
    'put the <colour> block on the table',
    'stack the <colour> block on the <colour> block',
    'stack the <colour> block on the <colour> block on the <colour> block',
)

#: Labels of the tabletop action library used by expert plans.
PUT_IN_BIN = 'put the held block in the bin'
PUT_ON_TABLE = 'put the held block on the table'

#: Upper bound on expert plan length; the plans for three blocks need far fewer steps.
_MAX_PLAN_STEPS = 50


class GoalParseError(ConfigError):
    """A goal text is not one of the supported phrasings."""


class UnsolvableTaskError(VlmPlannerError):
    """A task cannot be reached from the given world state (e.g. a needed block is in the bin)."""


def pick_label(colour: str) -> str:
    """Return the label that picks up the ``colour`` block."""
    return f'pick up the {colour} block'


def stack_label(colour: str) -> str:
    """Return the label that stacks the held block on the ``colour`` block."""
    return f'stack the held block on the {colour} block'


def _block_list(colours: tuple[str, ...]) -> str:
    if len(colours) == 1:
        return f'the {colours[0]} block'
    return f'the {", ".join(colours[:-1])} and {colours[-1]} blocks'


class _ExpertRun:
    """Applies expert steps to a copy of a world and records their labels."""

    def __init__(self, world: TabletopWorld, goal: str) -> None:
        self.world = world.copy()
        self.labels: list[str] = []
        self._goal = goal

    def _do(self, label: str, verb: str, noun: str) -> None:
        if len(self.labels) >= _MAX_PLAN_STEPS:
            raise UnsolvableTaskError(
                f'no plan for {self._goal!r} within {_MAX_PLAN_STEPS} steps from {self.world!r}')
        result = self.world.apply(Action(label=label, verb=verb, noun=noun))
        if not result.applied:
            raise UnsolvableTaskError(
                f'cannot reach {self._goal!r} from {self.world!r}: {result.message}')
        self.labels.append(label)

    def pick(self, colour: str) -> None:
        self._do(pick_label(colour), 'pick', f'{colour} block')

    def put_in_bin(self) -> None:
        self._do(PUT_IN_BIN, 'put', BIN)

    def put_on_table(self) -> None:
        self._do(PUT_ON_TABLE, 'put', TABLE)

    def stack(self, colour: str) -> None:
        self._do(stack_label(colour), 'stack', f'{colour} block')

    def until(self, done: Callable[[TabletopWorld], bool],
              step: Callable[[TabletopWorld], None]) -> list[str]:
        while not done(self.world):
            step(self.world)
        return self.labels


class Task(abc.ABC):
    """A goal of the tabletop world."""

    @property
    @abc.abstractmethod
    def text(self) -> str:
        """The goal in words, in canonical form (what :func:`parse_goal` reads back)."""

    @abc.abstractmethod
    def is_satisfied(self, world: TabletopWorld) -> bool:
        """Return True if ``world`` meets the goal."""

    @abc.abstractmethod
    def expert_plan(self, world: TabletopWorld) -> list[str]:
        """Return action labels that reach the goal from ``world`` (empty if already met).

        Raises:
            UnsolvableTaskError: if the goal cannot be reached from ``world``.
        """

    def __str__(self) -> str:
        return self.text

    def _check_not_in_bin(self, world: TabletopWorld, colours: tuple[str, ...]) -> None:
        lost = [c for c in colours if world.location(c).kind == BIN]
        if lost:
            raise UnsolvableTaskError(
                f'{self.text!r} cannot be reached: {_block_list(tuple(lost))} '
                f'{"is" if len(lost) == 1 else "are"} in the bin, '
                'and blocks in the bin stay there')


@dataclasses.dataclass(frozen=True)
class BinTask(Task):
    """Put the given blocks in the bin.

    Attributes:
        colours: the blocks that must end in the bin, in :data:`COLOURS` order.
    """

    colours: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_colours(self.colours)
        object.__setattr__(self, 'colours', tuple(c for c in COLOURS if c in self.colours))

    @property
    def text(self) -> str:
        """The goal in words."""
        if len(self.colours) == len(COLOURS):
            return 'put all blocks in the bin'
        return f'put {_block_list(self.colours)} in the bin'

    def is_satisfied(self, world: TabletopWorld) -> bool:
        """Return True if every listed block is in the bin."""
        return all(world.location(c).kind == BIN for c in self.colours)

    def expert_plan(self, world: TabletopWorld) -> list[str]:
        """Return labels that clear each listed block and drop it in the bin."""
        run = _ExpertRun(world, self.text)

        def step(w: TabletopWorld) -> None:
            held = w.held
            if held in self.colours:
                run.put_in_bin()
            elif held is not None:
                run.put_on_table()
            else:
                target = next(c for c in self.colours if w.location(c).kind != BIN)
                run.pick(w.top_of(target))

        return run.until(self.is_satisfied, step)


@dataclasses.dataclass(frozen=True)
class TableTask(Task):
    """Put a block directly on the table.

    Attributes:
        colour: the block that must stand on a table slot.
    """

    colour: str

    def __post_init__(self) -> None:
        _check_colours((self.colour,))

    @property
    def text(self) -> str:
        """The goal in words."""
        return f'put the {self.colour} block on the table'

    def is_satisfied(self, world: TabletopWorld) -> bool:
        """Return True if the block stands on a table slot."""
        return world.location(self.colour).kind == TABLE

    def expert_plan(self, world: TabletopWorld) -> list[str]:
        """Return labels that clear the block, pick it up and put it on a free slot."""
        self._check_not_in_bin(world, (self.colour,))
        run = _ExpertRun(world, self.text)

        def step(w: TabletopWorld) -> None:
            if w.held is not None:
                run.put_on_table()
            else:
                run.pick(w.top_of(self.colour))

        return run.until(self.is_satisfied, step)


@dataclasses.dataclass(frozen=True)
class StackTask(Task):
    """Build a pile: each block of ``tower`` stands directly on the next one.

    Attributes:
        tower: two or more different colours, top first; ``('blue', 'green')`` means the blue
            block on the green block.
    """

    tower: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.tower) < 2:
            raise ValueError('a stack task needs at least two blocks')
        _check_colours(self.tower)

    @property
    def text(self) -> str:
        """The goal in words."""
        return 'stack ' + ' on '.join(f'the {c} block' for c in self.tower)

    def is_satisfied(self, world: TabletopWorld) -> bool:
        """Return True if every block of the tower stands directly on the next one."""
        return all(world.below(top) == base for top, base in zip(self.tower, self.tower[1:]))

    def expert_plan(self, world: TabletopWorld) -> list[str]:
        """Return labels that build the tower from the bottom up.

        The bottom block is first freed from any block of the tower underneath it; after that it
        never moves, and each block stacked on the growing tower stays.
        """
        self._check_not_in_bin(world, self.tower)
        run = _ExpertRun(world, self.text)
        bottom = self.tower[-1]

        def step(w: TabletopWorld) -> None:
            under = w.below(bottom)
            while under is not None and under not in self.tower:
                under = w.below(under)
            if under is not None:
                # A tower block is under the bottom block: put the bottom block on the table.
                if w.held is not None:
                    run.put_on_table()
                else:
                    run.pick(w.top_of(bottom))
                return
            i = max(i for i in range(len(self.tower) - 1)
                    if w.below(self.tower[i]) != self.tower[i + 1])
            top, base = self.tower[i], self.tower[i + 1]
            held = w.held
            if held == top and w.is_clear(base):
                run.stack(base)
            elif held is not None:
                run.put_on_table()
            elif not w.is_clear(base):
                run.pick(w.top_of(base))
            else:
                run.pick(w.top_of(top))

        return run.until(self.is_satisfied, step)


def _check_colours(colours: tuple[str, ...]) -> None:
    if not colours:
        raise ValueError('a task needs at least one block')
    unknown = [c for c in colours if c not in COLOURS]
    if unknown:
        raise ValueError(
            f'unknown block colour {unknown[0]!r}; the blocks are {", ".join(COLOURS)}')
    if len(set(colours)) != len(colours):
        raise ValueError(f'a block is named twice in {", ".join(colours)}')


_ALL_IN_BIN = re.compile(r'(?:put|place) (?:all|all of|every) blocks? in bin')
_IN_BIN = re.compile(r'(?:put|place) (?P<colours>[a-z]+(?:(?:, and |, | and )[a-z]+)*) '
                     r'blocks? in bin')
_ON_TABLE = re.compile(r'(?:put|place) (?P<colour>[a-z]+) block on table')
_STACK = re.compile(r'(?:stack|put|place) (?P<tower>[a-z]+ block(?: on [a-z]+ block)+)')


def _normalize_goal(text: str) -> str:
    text = ' '.join(text.lower().strip().rstrip('.!').split())
    text = re.sub(r'\bon top of\b', 'on', text)
    text = re.sub(r'\bonto\b', 'on', text)
    text = re.sub(r'\binto\b', 'in', text)
    return ' '.join(w for w in text.split() if w != 'the')


def parse_goal(text: str) -> Task:
    """Return the task a goal text describes (phrasings in the module docstring).

    Raises:
        GoalParseError: if the text is not a supported phrasing, names an unknown colour, or
            names a block twice; the message lists the supported phrasings.
    """
    norm = _normalize_goal(text)
    try:
        if _ALL_IN_BIN.fullmatch(norm):
            return BinTask(COLOURS)
        if match := _IN_BIN.fullmatch(norm):
            return BinTask(tuple(re.split(r', and |, | and ', match['colours'])))
        if match := _ON_TABLE.fullmatch(norm):
            return TableTask(match['colour'])
        if match := _STACK.fullmatch(norm):
            return StackTask(tuple(part.split()[0] for part in match['tower'].split(' on ')))
    except ValueError as exc:
        raise GoalParseError(f'goal {text!r}: {exc}.') from None
    forms = '; '.join(f'"{form}"' for form in SUPPORTED_GOALS)
    raise GoalParseError(
        f'cannot understand the goal {text!r}. Supported goals (colours: {", ".join(COLOURS)}): '
        f'{forms}.')
