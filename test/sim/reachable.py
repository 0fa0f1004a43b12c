"""Every tabletop state reachable from given start layouts, for exhaustive sim tests."""

from __future__ import annotations

from collections import deque
import json
from typing import Iterable

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.sim.world import TabletopWorld

LIBRARY = ActionLibrary.from_yaml(default_actions_file())


def reachable_states(starts: Iterable[TabletopWorld]) -> list[TabletopWorld]:
    """Breadth-first over every feasible library action from ``starts``; each state once."""
    seen: dict[str, TabletopWorld] = {}
    queue = deque(starts)
    while queue:
        world = queue.popleft()
        key = json.dumps(world.to_dict(), sort_keys=True)
        if key in seen:
            continue
        seen[key] = world
        for action in LIBRARY:
            nxt = world.copy()
            if nxt.apply(action).applied:
                queue.append(nxt)
    return list(seen.values())
