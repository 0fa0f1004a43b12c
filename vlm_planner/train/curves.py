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

"""The learning curves of a fine-tuning run: ``metrics.jsonl`` and ``learning_curves.png``.

Each optimizer step appends a line ``{"kind": "train", "step", "loss", "lr", "epoch", ...}``,
each validation ``{"kind": "val", "step", "accuracy", "items", "chance", "failed"}``. A
resumed run first drops the lines of steps after its checkpoint, so the file reads as one
uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

METRICS_FILE = 'metrics.jsonl'
CURVES_FILE = 'learning_curves.png'

#: Smoothing of the plotted training loss (exponential moving average weight of the past).
SMOOTHING = 0.9

#: A loss spanning more than this factor is drawn on a log scale, where its late steps show.
LOG_SCALE_RANGE = 30.0


class MetricsLog:
    """The run's metrics file (see module docstring).

    Args:
        path: the ``metrics.jsonl`` file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one line."""
        with self.path.open('a', encoding='utf-8') as file:
            file.write(json.dumps(dict(record)) + '\n')

    def records(self) -> list[dict[str, Any]]:
        """Every line so far."""
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding='utf-8').splitlines()
                if line.strip()]

    def truncate(self, step: int) -> None:
        """Drop the lines of steps after ``step`` (written after the checkpoint resumed from)."""
        kept = [r for r in self.records() if r.get('step', 0) <= step]
        self.path.write_text(''.join(json.dumps(r) + '\n' for r in kept), encoding='utf-8')


def plot_curves(records: Iterable[Mapping[str, Any]], path: Path, title: str = '') -> Path:
    """Draw the training loss and the validation accuracy against the step into ``path``."""
    from vlm_planner.plots import figure, save_png

    records = list(records)
    train = [r for r in records if r.get('kind') == 'train']
    val = [r for r in records if r.get('kind') == 'val']
    fig = figure(11, 4)
    loss_axes, accuracy_axes = fig.subplots(1, 2)
    steps = [r['step'] for r in train]
    losses = [r['loss'] for r in train]
    loss_axes.plot(steps, losses, color='tab:blue', alpha=0.3, label='loss per step')
    loss_axes.plot(steps, smoothed(losses), color='tab:blue', label='smoothed')
    loss_axes.set(xlabel='optimizer step', ylabel='loss (mean per reply token)',
                  title='training loss')
    loss_axes.set_yscale(loss_scale(losses))
    loss_axes.legend()
    if val:
        accuracy_axes.plot([r['step'] for r in val], [r['accuracy'] for r in val], 'o-',
                           color='tab:green', label='validation accuracy')
        accuracy_axes.plot([r['step'] for r in val], [r['chance'] for r in val], '--',
                           color='grey', label='chance')
        accuracy_axes.legend()
    else:
        accuracy_axes.text(0.5, 0.5, 'no validation data (--val)', ha='center',
                           transform=accuracy_axes.transAxes)
    accuracy_axes.set(xlabel='optimizer step', ylabel='accuracy', ylim=(0, 1.02),
                      title='validation accuracy')
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def loss_scale(losses: Sequence[float]) -> str:
    """``'log'`` for losses spanning more than :data:`LOG_SCALE_RANGE`, else ``'linear'``."""
    positive = [loss for loss in losses if loss > 0]
    wide = bool(positive) and max(positive) > LOG_SCALE_RANGE * min(positive)
    return 'log' if wide else 'linear'


def smoothed(values: Sequence[float]) -> list[float]:
    """The exponential moving average of ``values`` (weight :data:`SMOOTHING` on the past)."""
    result: list[float] = []
    current: float | None = None
    for value in values:
        current = value if current is None else SMOOTHING * current + (1 - SMOOTHING) * value
        result.append(current)
    return result
