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

"""What a killed fine-tuning run resumes from: its command record and its checkpoints.

The first run of a command writes ``<out>/training/run.json``: everything that decides the result
(data files, model, planner parameters, every finetune setting, process count). A rerun into the
same folder must give the same command, or it is refused with the differences listed; with the
same command it continues from the newest checkpoint. A run that wrote no checkpoint yet (it
failed while reading its data, say) is started over under a changed command.

A checkpoint (``<out>/training/checkpoints/step-NNNNNNN``) holds the trainable weights (the LoRA
adapters, or every weight that trains), the optimizer and scheduler states, each process's random
number generators and ``state.json`` (the step and the position in the data order, which follows
from the seed). It is written into a ``.partial`` folder and renamed when complete.
"""

from __future__ import annotations

import json
from pathlib import Path
import random
import shutil
from typing import Any, Mapping

import numpy as np
from safetensors.torch import load_file, save_file
import torch

from vlm_planner.errors import ConfigError

RUN_FILE = 'run.json'
STATE_FILE = 'state.json'
WEIGHTS_FILE = 'trainable.safetensors'
PREFIX = 'step-'


def check_command(training: Path, command: Mapping[str, Any], *,
                  progress: bool = True) -> bool:
    """Record ``command`` for a new run, or check that it equals the recorded one.

    Args:
        training: the run's ``training`` folder (created if missing).
        command: everything that decides the result, JSON-serialisable.
        progress: whether the recorded run got anywhere (a checkpoint, or finished). One that
            did not is started over under a changed command instead of refusing it.

    Returns:
        True when a run of this command was started before (it resumes).

    Raises:
        ConfigError: the folder holds a run of another command; the message lists what differs.
    """
    path = training / RUN_FILE
    current = json.loads(json.dumps(command))  # as it reads back: tuples become lists
    recorded = (json.loads(path.read_text(encoding='utf-8')).get('command', {})
                if path.is_file() else None)
    if recorded == current:
        return True
    if recorded is None or not progress:
        shutil.rmtree(training, ignore_errors=True)  # nothing to keep: items of other data
        training.mkdir(parents=True)
        path.write_text(json.dumps({'command': current}, indent=2) + '\n', encoding='utf-8')
        return False
    changes = [f'{key}: {recorded.get(key)!r} before, {current.get(key)!r} now'
               for key in sorted(set(recorded) | set(current))
               if recorded.get(key) != current.get(key)]
    raise ConfigError(
        f'{training.parent} holds a fine-tuning run of another command, so it cannot resume '
        f'with this one ({"; ".join(changes)}). Rerun the same command to resume it, or give a '
        'new --out folder.')


def checkpoint_name(step: int) -> str:
    """The folder name of the checkpoint after ``step`` optimizer steps."""
    return f'{PREFIX}{step:07d}'


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in ``folder``, or None."""
    if not folder.is_dir():
        return None
    done = sorted(p for p in folder.iterdir()
                  if p.name.startswith(PREFIX) and (p / STATE_FILE).is_file())
    return done[-1] if done else None


def staging(folder: Path, step: int) -> Path:
    """The folder a checkpoint is written into before it is complete (created)."""
    path = folder / (checkpoint_name(step) + '.partial')
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_rng(path: Path, rank: int) -> None:
    """Write this process's random number generator states into the checkpoint ``path``."""
    states = {'python': random.getstate(), 'numpy': np.random.get_state(),
              'torch': torch.get_rng_state(),
              'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
    torch.save(states, path / f'rng-{rank}.pt')


def load_rng(path: Path, rank: int) -> None:
    """Restore this process's random number generators from the checkpoint ``path``."""
    # Written by save_rng of this package; it holds Python and numpy states, not only tensors.
    states = torch.load(path / f'rng-{rank}.pt', weights_only=False)
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if states['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


def finish_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                      state: Mapping[str, Any], keep: int) -> Path:
    """Write the rest of a checkpoint into ``path``, rename it into place, prune old ones.

    Call it on the main process after every process wrote its random states (:func:`save_rng`).

    Args:
        path: the staging folder (:func:`staging`).
        model: the unwrapped model; its trainable parameters are saved.
        optimizer: the optimizer (its ``state_dict`` is saved).
        scheduler: the learning-rate scheduler.
        state: step, data position and the like (``state.json``).
        keep: newest checkpoints kept (at least this one).

    Returns:
        The checkpoint's folder.
    """
    save_file({name: p.detach().contiguous().cpu() for name, p in model.named_parameters()
               if p.requires_grad}, path / WEIGHTS_FILE)
    torch.save(optimizer.state_dict(), path / 'optimizer.pt')
    torch.save(scheduler.state_dict(), path / 'scheduler.pt')
    (path / STATE_FILE).write_text(json.dumps(dict(state), indent=2) + '\n', encoding='utf-8')
    final = path.with_name(path.name.removesuffix('.partial'))
    shutil.rmtree(final, ignore_errors=True)
    path.rename(final)
    prune(final.parent, max(keep, 1))
    return final


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints in ``folder`` (and unfinished ones)."""
    if not folder.is_dir():
        return
    done = sorted(p for p in folder.iterdir() if p.name.startswith(PREFIX))
    finished = [p for p in done if not p.name.endswith('.partial')]
    for path in [p for p in done if p.name.endswith('.partial')] + finished[:len(finished) - keep]:
        shutil.rmtree(path, ignore_errors=True)


def load_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: Any,
                    scheduler: Any) -> dict[str, Any]:
    """Restore weights, optimizer and scheduler from the checkpoint ``path``; return its state.

    Raises:
        ConfigError: the checkpoint does not hold every trainable weight of ``model``.
    """
    weights = load_file(path / WEIGHTS_FILE)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    missing = sorted(trainable - set(weights))
    if missing:
        raise ConfigError(f'checkpoint {path} lacks trainable weights such as {missing[0]}; it '
                          'is not from this run. Delete it to start over.')
    model.load_state_dict(weights, strict=False)
    optimizer.load_state_dict(torch.load(path / 'optimizer.pt', weights_only=True))
    scheduler.load_state_dict(torch.load(path / 'scheduler.pt', weights_only=True))
    return json.loads((path / STATE_FILE).read_text(encoding='utf-8'))
