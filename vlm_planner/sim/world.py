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

"""The state of the synthetic tabletop world and the effect of actions on it.

Three blocks (red, green, blue) stand on a table with a few numbered slots, possibly stacked on
each other; there is one bin and a gripper that holds at most one block. Each block is in exactly
one :class:`Location`: on a table slot, in the bin, on top of another block, or in the gripper.

Actions are read through their ``verb`` and ``noun`` (see ``config/actions/tabletop.yaml``):

* ``pick`` / ``<colour> block``: take a block that has nothing on it and is not in the bin;
* ``put`` / ``bin``: drop the held block into the bin (blocks in the bin stay there);
* ``put`` / ``table``: put the held block on the lowest-numbered free table slot;
* ``stack`` / ``<colour> block``: put the held block on top of another block that has nothing on it
  and is on the table or on a pile.

An action that cannot be done in the current state changes nothing; its :class:`ApplyResult` says
why.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Mapping

from vlm_planner.core.actions import Action

#: The blocks of the world, in a fixed order (used for layouts, rendering and reports).
COLOURS: tuple[str, ...] = ('red', 'green', 'blue')

#: Number of table slots when none is given: one more than there are blocks.
DEFAULT_SLOTS = 4

TABLE = 'table'
BIN = 'bin'
ON = 'on'
GRIPPER = 'gripper'
_KINDS = (TABLE, BIN, ON, GRIPPER)


@dataclasses.dataclass(frozen=True)
class Location:
    """Where one block is.

    Attributes:
        kind: ``'table'``, ``'bin'``, ``'on'`` (on top of another block) or ``'gripper'``.
        slot: the table slot (0-based) for kind ``'table'``, else None.
        block: the colour of the block underneath for kind ``'on'``, else None.
    """

    kind: str
    slot: int | None = None
    block: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f'location kind {self.kind!r} is not one of {", ".join(_KINDS)}')
        if (self.kind == TABLE) != (self.slot is not None):
            raise ValueError('a table location needs a slot, and only a table location has one')
        if (self.kind == ON) != (self.block is not None):
            raise ValueError('an "on" location needs a block, and only an "on" location has one')

    @classmethod
    def on_table(cls, slot: int) -> Location:
        """Return the location of table slot ``slot``."""
        return cls(TABLE, slot=slot)

    @classmethod
    def in_bin(cls) -> Location:
        """Return the location inside the bin."""
        return cls(BIN)

    @classmethod
    def on_block(cls, colour: str) -> Location:
        """Return the location on top of the ``colour`` block."""
        return cls(ON, block=colour)

    @classmethod
    def in_gripper(cls) -> Location:
        """Return the location inside the gripper."""
        return cls(GRIPPER)

    @classmethod
    def parse(cls, text: str) -> Location:
        """Read the form ``str()`` writes: ``table:<slot>``, ``bin``, ``on:<colour>``, ``gripper``.

        Raises:
            ValueError: if ``text`` is not one of these forms.
        """
        kind, _, arg = text.strip().partition(':')
        try:
            if kind == TABLE and arg:
                return cls.on_table(int(arg))
            if kind == ON and arg:
                return cls.on_block(arg)
            if kind in (BIN, GRIPPER) and not arg:
                return cls(kind)
        except ValueError:
            pass
        raise ValueError(
            f'cannot read location {text!r}; expected table:<slot>, bin, on:<colour> or gripper')

    def __str__(self) -> str:
        if self.kind == TABLE:
            return f'{TABLE}:{self.slot}'
        if self.kind == ON:
            return f'{ON}:{self.block}'
        return self.kind

    def describe(self) -> str:
        """Return the location in words, e.g. ``'table slot 2'`` or ``'the bin'``."""
        if self.kind == TABLE:
            return f'table slot {self.slot}'
        if self.kind == ON:
            return f'the top of the {self.block} block'
        return f'the {self.kind}'


@dataclasses.dataclass(frozen=True)
class ApplyResult:
    """What happened when an action was applied to the world.

    Attributes:
        label: the action's label.
        applied: True if the world changed as the action says; False if the action was not
            feasible (or not understood) and nothing changed.
        message: what happened, or why nothing did.
    """

    label: str
    applied: bool
    message: str


def block_colour(noun: str) -> str | None:
    """Return the colour a noun such as ``'red block'`` or ``'the red block'`` names, or None."""
    words = [w for w in noun.lower().split() if w != 'the']
    if len(words) == 2 and words[1] == 'block' and words[0] in COLOURS:
        return words[0]
    return None


class TabletopWorld:
    """The blocks' locations on a table with ``n_slots`` slots, a bin and a gripper.

    Args:
        locations: a location for each colour of :data:`COLOURS`.
        n_slots: number of table slots (at least one).

    Raises:
        ValueError: if the locations are not a possible state (two blocks in one slot or on one
            block, a block on itself, in a loop, or on a block that is held or in the bin, more
            than one block in the gripper, a slot out of range, a missing or unknown colour).
    """

    def __init__(self, locations: Mapping[str, Location], n_slots: int = DEFAULT_SLOTS) -> None:
        if not isinstance(n_slots, int) or n_slots < 1:
            raise ValueError(f'a table needs at least one slot, got n_slots={n_slots!r}')
        self._n_slots = n_slots
        self._locations = {colour: locations[colour] for colour in COLOURS if colour in locations}
        self._validate(locations)

    def _validate(self, given: Mapping[str, Location]) -> None:
        missing = [c for c in COLOURS if c not in given]
        unknown = sorted(set(given) - set(COLOURS))
        if missing or unknown:
            raise ValueError(
                f'the world has exactly the blocks {", ".join(COLOURS)}; '
                f'missing: {missing or "none"}, unknown: {unknown or "none"}')
        slots: dict[int, str] = {}
        supports: dict[str, str] = {}
        held = []
        for colour, loc in self._locations.items():
            if not isinstance(loc, Location):
                raise ValueError(f'the location of the {colour} block is not a Location: {loc!r}')
            if loc.kind == TABLE:
                if loc.slot is None or not 0 <= loc.slot < self._n_slots:
                    raise ValueError(
                        f'the {colour} block is on slot {loc.slot}, but the table has slots '
                        f'0..{self._n_slots - 1}')
                if loc.slot in slots:
                    raise ValueError(
                        f'the {slots[loc.slot]} and {colour} blocks are both on slot {loc.slot}')
                slots[loc.slot] = colour
            elif loc.kind == ON:
                if loc.block not in self._locations or loc.block == colour:
                    raise ValueError(f'the {colour} block cannot be on {loc.block!r}')
                if self._locations[loc.block].kind in (BIN, GRIPPER):
                    raise ValueError(
                        f'the {colour} block cannot be on the {loc.block} block, which is in the '
                        f'{self._locations[loc.block].kind}')
                if loc.block in supports:
                    raise ValueError(
                        f'the {supports[loc.block]} and {colour} blocks are both on the '
                        f'{loc.block} block')
                supports[loc.block] = colour
            elif loc.kind == GRIPPER:
                held.append(colour)
        if len(held) > 1:
            raise ValueError(f'the gripper holds one block at most, not {", ".join(held)}')
        for colour in self._locations:
            if self._base(colour) is None:
                raise ValueError(f'the blocks under the {colour} block form a loop')

    # ----------------------------------------------------------------------------- construction

    @classmethod
    def default(cls) -> TabletopWorld:
        """Return the fixed default layout: red, green and blue on slots 0, 1 and 2."""
        return cls({colour: Location.on_table(i) for i, colour in enumerate(COLOURS)})

    @classmethod
    def random_initial(cls, seed: int, n_slots: int = DEFAULT_SLOTS,
                       stack_probability: float = 0.35) -> TabletopWorld:
        """Return a random start layout; the same seed always gives the same layout.

        No block starts in the bin or in the gripper; some may start stacked.

        Args:
            seed: seed of the random generator.
            n_slots: number of table slots.
            stack_probability: chance that a block is put on a pile instead of a free slot.
        """
        if not isinstance(n_slots, int) or n_slots < 1:
            raise ValueError(f'a table needs at least one slot, got n_slots={n_slots!r}')
        rng = random.Random(seed)
        order = list(COLOURS)
        rng.shuffle(order)
        locations: dict[str, Location] = {}
        free = list(range(n_slots))
        for colour in order:
            tops = [c for c in order if c in locations and
                    all(loc.block != c for loc in locations.values())]
            if tops and (not free or rng.random() < stack_probability):
                locations[colour] = Location.on_block(rng.choice(tops))
            else:
                slot = rng.choice(free)
                free.remove(slot)
                locations[colour] = Location.on_table(slot)
        return cls(locations, n_slots=n_slots)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TabletopWorld:
        """Rebuild a world from :meth:`to_dict` output.

        Raises:
            ValueError: if ``data`` does not describe a possible state.
        """
        blocks = data.get('blocks')
        if not isinstance(blocks, Mapping):
            raise ValueError('a world dict needs a "blocks" mapping of colour to location')
        slots = data.get('slots', DEFAULT_SLOTS)
        if not isinstance(slots, (int, str)):
            raise ValueError(f'"slots" must be a whole number, got {slots!r}')
        return cls({str(c): Location.parse(str(loc)) for c, loc in blocks.items()},
                   n_slots=int(slots))

    def copy(self) -> TabletopWorld:
        """Return an independent copy of this world."""
        return TabletopWorld(self._locations, n_slots=self._n_slots)

    def to_dict(self) -> dict[str, object]:
        """Return the state as plain JSON-ready data: ``slots``, ``held`` and ``blocks``."""
        return {
            'slots': self._n_slots,
            'held': self.held,
            'blocks': {colour: str(loc) for colour, loc in self._locations.items()},
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TabletopWorld):
            return NotImplemented
        return self._n_slots == other._n_slots and self._locations == other._locations

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable

    def __repr__(self) -> str:
        blocks = ', '.join(f'{c}={loc}' for c, loc in self._locations.items())
        return f'TabletopWorld({blocks}, slots={self._n_slots})'

    # ----------------------------------------------------------------------------------- queries

    @property
    def n_slots(self) -> int:
        """Number of table slots."""
        return self._n_slots

    @property
    def locations(self) -> dict[str, Location]:
        """A copy of the location of every block, in :data:`COLOURS` order."""
        return dict(self._locations)

    def location(self, colour: str) -> Location:
        """Return where the ``colour`` block is."""
        return self._locations[colour]

    @property
    def held(self) -> str | None:
        """The colour of the block in the gripper, or None when the gripper is empty."""
        for colour, loc in self._locations.items():
            if loc.kind == GRIPPER:
                return colour
        return None

    def below(self, colour: str) -> str | None:
        """Return the block the ``colour`` block stands on, or None."""
        return self._locations[colour].block

    def above(self, colour: str) -> str | None:
        """Return the block standing on the ``colour`` block, or None."""
        for other, loc in self._locations.items():
            if loc.block == colour:
                return other
        return None

    def is_clear(self, colour: str) -> bool:
        """Return True if nothing stands on the ``colour`` block."""
        return self.above(colour) is None

    def top_of(self, colour: str) -> str:
        """Return the topmost block of the pile above ``colour`` (``colour`` itself if clear)."""
        top = colour
        while (nxt := self.above(top)) is not None:
            top = nxt
        return top

    def height(self, colour: str) -> int:
        """Return how many blocks are under the ``colour`` block (0 for one on a slot)."""
        n = 0
        below = self.below(colour)
        while below is not None:
            n += 1
            below = self.below(below)
        return n

    def _base(self, colour: str) -> str | None:
        """Return the bottom block of ``colour``'s pile, or None for a loop."""
        seen = {colour}
        while (nxt := self._locations[colour].block) is not None:
            if nxt in seen:
                return None
            seen.add(nxt)
            colour = nxt
        return colour

    def slot_of(self, colour: str) -> int | None:
        """Return the table slot of the pile the ``colour`` block is part of, or None."""
        base = self._base(colour)
        return None if base is None else self._locations[base].slot

    def in_bin(self) -> list[str]:
        """Return the colours of the blocks in the bin, in :data:`COLOURS` order."""
        return [c for c, loc in self._locations.items() if loc.kind == BIN]

    def describe(self) -> str:
        """Return where every block is, in words and :data:`COLOURS` order.

        For example ``'red block: the bin; green block: table slot 0; blue block: the top of the
        green block'``: the ``scene`` of a generated decision point, which fine-tuning can learn
        to say (``vlm-planner finetune --describe-scene``).
        """
        return '; '.join(f'{colour} block: {loc.describe()}'
                         for colour, loc in self._locations.items())

    def free_slots(self) -> list[int]:
        """Return the table slots with no block on them, in increasing order."""
        used = {loc.slot for loc in self._locations.values() if loc.kind == TABLE}
        return [s for s in range(self._n_slots) if s not in used]

    # ----------------------------------------------------------------------------------- actions

    def apply(self, action: Action) -> ApplyResult:
        """Apply ``action`` (read through its verb and noun) and say what happened.

        An infeasible or unknown action leaves the world unchanged and returns a result with
        ``applied=False`` whose message says why.
        """
        verb = action.verb.strip().lower()
        noun = ' '.join(action.noun.lower().split())
        colour = block_colour(noun)
        if verb == 'pick' and colour:
            return self._pick(action.label, colour)
        if verb == 'put' and noun in (BIN, f'the {BIN}'):
            return self._put_in_bin(action.label)
        if verb == 'put' and noun in (TABLE, f'the {TABLE}'):
            return self._put_on_table(action.label)
        if verb == 'stack' and colour:
            return self._stack(action.label, colour)
        return ApplyResult(
            action.label, False,
            f'the tabletop world does not understand {action.label!r} (verb {action.verb!r}, noun '
            f'{action.noun!r}); it knows pick/stack with "<colour> block" and put with "bin" or '
            '"table"')

    def _pick(self, label: str, colour: str) -> ApplyResult:
        why = f'cannot pick up the {colour} block'
        held = self.held
        if held == colour:
            return ApplyResult(label, False, f'{why}: it is already in the gripper')
        if held is not None:
            return ApplyResult(label, False, f'{why}: the gripper already holds the {held} block')
        loc = self._locations[colour]
        if loc.kind == BIN:
            return ApplyResult(label, False, f'{why}: it is in the bin')
        above = self.above(colour)
        if above is not None:
            return ApplyResult(label, False, f'{why}: the {above} block is on top of it')
        self._locations[colour] = Location.in_gripper()
        return ApplyResult(label, True, f'picked up the {colour} block from {loc.describe()}')

    def _put_in_bin(self, label: str) -> ApplyResult:
        held = self.held
        if held is None:
            return ApplyResult(label, False, 'cannot put a block in the bin: the gripper is empty')
        self._locations[held] = Location.in_bin()
        return ApplyResult(label, True, f'put the {held} block in the bin')

    def _put_on_table(self, label: str) -> ApplyResult:
        held = self.held
        if held is None:
            return ApplyResult(label, False,
                               'cannot put a block on the table: the gripper is empty')
        free = self.free_slots()
        if not free:
            return ApplyResult(label, False,
                               f'cannot put the {held} block on the table: no table slot is free')
        self._locations[held] = Location.on_table(free[0])
        return ApplyResult(label, True, f'put the {held} block on table slot {free[0]}')

    def _stack(self, label: str, target: str) -> ApplyResult:
        held = self.held
        if held is None:
            return ApplyResult(label, False,
                               f'cannot stack onto the {target} block: the gripper is empty')
        why = f'cannot stack the {held} block on the {target} block'
        if held == target:
            return ApplyResult(label, False, f'{why}: a block cannot go on itself')
        if self._locations[target].kind == BIN:
            return ApplyResult(label, False, f'{why}: the {target} block is in the bin')
        above = self.above(target)
        if above is not None:
            return ApplyResult(label, False, f'{why}: the {above} block is on top of it')
        self._locations[held] = Location.on_block(target)
        return ApplyResult(label, True, f'stacked the {held} block on the {target} block')
