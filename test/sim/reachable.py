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
