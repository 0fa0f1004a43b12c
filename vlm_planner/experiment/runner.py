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

"""Run an experiment's commands: stage by stage, independent ones at the same time.

A step whose last file exists is skipped, so a stopped experiment resumes where it stopped when
the same command runs again (the commands themselves also resume: ``finetune`` from its newest
checkpoint, ``eval`` from the results it has). Each command's output goes to
``OUT/logs/<step>.log``; a failed step stops the experiment with the end of its log.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Callable, Sequence

from vlm_planner.atomic_file import atomic_path
from vlm_planner.errors import ConfigError, VlmPlannerError
from vlm_planner.experiment.config import ExperimentConfig
from vlm_planner.experiment.plan import make_plan, Plan, Step

SETTINGS_FILE = 'experiment.json'
#: Lines of a failed step's log shown in the error.
LOG_TAIL = 15
#: Most commands run at once by default (each gets a share of the cores).
MAX_DEFAULT_JOBS = 3


class ExperimentError(VlmPlannerError):
    """A step of the experiment failed."""


def default_jobs() -> int:
    """Commands at once when ``--jobs`` is 0: one per CPU core, at most three."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def prepare(out: Path, config: ExperimentConfig) -> Plan:
    """Check ``out`` against the settings it was started with and plan the steps.

    Raises:
        ConfigError: ``out`` holds an experiment with other settings.
    """
    out.mkdir(parents=True, exist_ok=True)
    settings = out / SETTINGS_FILE
    wanted = config.to_dict()
    if settings.is_file():
        before = json.loads(settings.read_text(encoding='utf-8'))
        changed = sorted(k for k in set(before) | set(wanted)
                         if k != 'jobs' and before.get(k) != wanted.get(k))
        if changed:
            flags = ', '.join(f'--{k.replace("_", "-")} {before.get(k)!r} (now {wanted.get(k)!r})'
                              for k in changed)
            raise ConfigError(f'{out} holds an experiment run with other settings: {flags}. '
                              'Rerun with those settings to resume it, or give a new --out.')
    else:
        with atomic_path(settings) as temp:
            temp.write_text(json.dumps(wanted, indent=2) + '\n', encoding='utf-8')
    # The training domain's episodes take longest to generate and little else runs beside them,
    # so each generator may use every core.
    return make_plan(out, config, workers=os.cpu_count() or 1)


def run_steps(plan: Plan, *, progress: bool = True,
              launch: Callable[[Step, Path, dict[str, str]], int] | None = None) -> list[Step]:
    """Run the steps that are not done yet, stage by stage.

    Args:
        plan: the experiment's steps.
        progress: show a progress bar over the steps.
        launch: runs one step with its log file and environment and returns its exit status
            (default: :func:`launch_step`, the command in a new process).

    Returns:
        The steps that ran (not those skipped as done).

    Raises:
        ExperimentError: a step failed; the message holds the end of its log.
    """
    from tqdm import tqdm

    launch = launch or launch_step
    jobs = plan.config.jobs or default_jobs()
    env = dict(os.environ)
    # Each process takes an even share of the cores: torch threads fighting over shared
    # cores made training several times slower (docs/training.md).
    env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // jobs))
    logs = plan.out / 'logs'
    logs.mkdir(exist_ok=True)
    todo = [s for s in plan.steps if not s.done.is_file()]
    ran: list[Step] = []
    with tqdm(total=len(plan.steps), initial=len(plan.steps) - len(todo), desc='experiment',
              unit='step', disable=not progress) as bar:
        for stage in _stages(todo):
            bar.set_postfix_str(stage[0].stage)
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(launch, step, logs / f'{step.name}.log', env): step
                           for step in stage}
                failed = []
                for future in concurrent.futures.as_completed(futures):
                    step = futures[future]
                    code = future.result()
                    bar.update()
                    if code != 0 or not step.done.is_file():
                        failed.append((step, code))
                    else:
                        ran.append(step)
            if failed:
                raise ExperimentError(_failure(failed, logs))
    return ran


def elapsed_minutes(plan: Plan) -> float | None:
    """Minutes from the experiment's start to its newest result (pauses between reruns too)."""
    done = [s.done.stat().st_mtime for s in plan.steps if s.done.is_file()]
    settings = plan.out / SETTINGS_FILE
    if not done or not settings.is_file():
        return None
    return max(0.0, (max(done) - settings.stat().st_mtime) / 60)


def launch_step(step: Step, log: Path, env: dict[str, str]) -> int:
    """Run one step's command in a new Python process, its output into ``log``."""
    with log.open('a', encoding='utf-8') as file:
        file.write(f'$ {step.command}\n')
        file.flush()
        return subprocess.call([sys.executable, '-m', 'vlm_planner.cli', *step.args],
                               stdout=file, stderr=subprocess.STDOUT, env=env,
                               stdin=subprocess.DEVNULL)


def _stages(steps: Sequence[Step]) -> list[list[Step]]:
    stages: dict[str, list[Step]] = {}
    for step in steps:
        stages.setdefault(step.stage, []).append(step)
    return list(stages.values())


def _failure(failed: Sequence[tuple[Step, int]], logs: Path) -> str:
    parts = []
    for step, code in failed:
        log = logs / f'{step.name}.log'
        tail = log.read_text(encoding='utf-8', errors='replace').splitlines()[-LOG_TAIL:]
        why = f'exit status {code}' if code else f'it did not write {step.done}'
        parts.append(f'step {step.name} failed ({why}); the end of {log}:\n  '
                     + '\n  '.join(tail))
    return ('\n'.join(parts) + '\nThe steps that finished are kept: fix the cause and rerun the '
            'same command to go on from there.')
