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

"""Closed-loop episodes through the real nodes: does the planner reach random goals?

Each episode starts the scene camera on a random layout (its ``seed``), gives a goal of one of
the world's goal families (taking turns, so every family is tried), and runs scene camera,
planner and an arm (the mock manipulator, or the skill bridge on the simulated arm) in one
process (:func:`~vlm_planner.ros.runner.run_loop`) until the goal holds or the step budget, the
expert's plan length plus a slack, is spent. This is what ``vlm-planner demo --episodes N``
measures.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Iterator

import numpy as np

from vlm_planner.ros.runner import run_loop, Step
from vlm_planner.sim.episodes import FAMILIES, plan_length, random_task
from vlm_planner.sim.world import TabletopWorld

#: Steps allowed beyond the expert's plan length.
SLACK_STEPS = 2


@dataclasses.dataclass(frozen=True)
class EpisodeResult:
    """One closed-loop episode."""

    index: int
    seed: int
    family: str
    goal: str
    expert_steps: int
    steps: int
    reached: bool


def episode_tasks(count: int, seed: int) -> Iterator[tuple[int, str, str, int]]:
    """Yield ``count`` (layout seed, family, goal, expert steps), families taking turns.

    The layout is the scene camera's ``TabletopWorld.random_initial(layout seed)``; a layout
    where the family has no unmet goal is skipped for the next seed.
    """
    rng = np.random.default_rng(seed)
    layout_seed = seed
    for index in range(count):
        family = FAMILIES[index % len(FAMILIES)]
        while True:
            world = TabletopWorld.random_initial(layout_seed)
            layout_seed += 1
            task = random_task(rng, family, world)
            steps = plan_length(task, world) if task is not None else None
            if task is not None and steps:
                yield layout_seed - 1, family, task.text, steps
                break


def run_episodes(params_file: str | None, count: int, seed: int, *,
                 overrides: dict[str, object] | None = None, log_level: str = 'warn',
                 on_episode: Callable[[EpisodeResult], None] | None = None,
                 on_step: Callable[[Step], None] | None = None,
                 arm: str = 'mock', namespace: str = '') -> list[EpisodeResult]:
    """Run ``count`` closed-loop episodes and return their results in order.

    ``arm`` is :func:`~vlm_planner.ros.runner.run_loop`'s: ``'mock'`` or ``'bridge'``. The
    nodes run in ``namespace``, by default one of this process's own
    (``episodes_<process id>``): another run on the same machine and ROS domain would otherwise
    take this run's actions for its own, and the other way round.
    """
    namespace = namespace or f'episodes_{os.getpid()}'
    results = []
    for index, (layout_seed, family, goal, expert) in enumerate(episode_tasks(count, seed)):
        steps = run_loop(params_file, log_level=log_level,
                         overrides={**(overrides or {}), 'seed': layout_seed, 'goal': goal},
                         max_steps=expert + SLACK_STEPS, on_step=on_step, raise_on_interrupt=True,
                         arm=arm, namespace=namespace)
        reached = bool(steps and steps[-1].scene and steps[-1].scene.get('satisfied'))
        result = EpisodeResult(index, layout_seed, family, goal, expert, len(steps), reached)
        results.append(result)
        if on_episode is not None:
            on_episode(result)
    return results
