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

"""The settings of a fine-tuning run, declared once: :class:`FinetuneConfig`.

Each field is a :func:`vlm_planner.params.option`; the ``vlm-planner finetune`` flags derive from
the fields (:func:`add_arguments`: ``lora_rank`` becomes ``--lora-rank``, with the field's type,
choices and description), and :func:`from_arguments` builds the config back, validated.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
import shlex
from typing import Any, Mapping, Sequence

from vlm_planner.errors import ConfigError
from vlm_planner.params import (add_flags, changed_flags, check_fields, flags_table, from_flags,
                                option)

#: What the loss is on (see :attr:`FinetuneConfig.target`).
TARGETS = ('action', 'letter', 'both')
#: Whether the training prompt lists the lettered options (see :attr:`FinetuneConfig.options`).
OPTIONS = ('auto', 'lettered', 'none')
PRECISIONS = ('auto', 'bf16', 'fp32')
SCHEDULES = ('cosine', 'linear', 'constant')


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """How a model is fine-tuned: loss, adapters, schedule, checkpoints (the finetune flags)."""

    target: str = option(
        'action', "What the loss is on: 'action' (the whole action text as the reply, for "
        "strategy.scoring likelihood), 'letter' (the answer letter, for strategy.scoring "
        "letter) or 'both' (each item twice, once each way).", choices=TARGETS)
    options: str = option(
        'auto', "The options list of the training prompt: 'lettered' (as the planner shows it "
        "by default), 'none' (left out, for a model asked by likelihood scoring), 'auto' ('none' "
        "for target action, else 'lettered').", choices=OPTIONS)
    negatives: int = option(
        3, 'Items offering more candidates than this plus one (data sets listing the whole '
        'library) are trained on this many negatives, drawn per seed and preferring actions of '
        'the same task.', minimum=1)
    describe_scene: bool = option(
        False, "Also train each decision point that carries a scene description (annotation "
        "'scene'; vlm-planner generate writes one) to describe it: an auxiliary target that "
        "teaches a model trained from scratch where things are. The planner never asks it.")
    lora: bool = option(False, 'Train LoRA adapters (peft) on the language model instead of '
                        'all weights.')
    lora_rank: int = option(16, 'LoRA rank.', minimum=1)
    lora_alpha: float = option(0.0, 'LoRA alpha (scale alpha/rank). 0: twice the rank.',
                               minimum=0.0)
    lora_dropout: float = option(0.05, 'Dropout on the LoRA inputs.', minimum=0.0, maximum=0.9)
    save_adapter: bool = option(False, 'With --lora: write the LoRA adapter folder (it loads by '
                                'path, on its base model) instead of merged weights.')
    train_vision: bool = option(False, 'Train the vision encoder too (frozen by default; the '
                                'projector into the language model always trains). With '
                                '--lora: adapters on the vision encoder and projector too.')
    gradient_checkpointing: bool = option(False, 'Recompute activations in the backward pass: '
                                          'less memory, about 30 % more time.')
    epochs: float = option(0.0, 'Passes over the training items (0: as --steps says; both 0: '
                           'one pass).', minimum=0.0)
    steps: int = option(0, 'Optimizer steps (0: as --epochs says).', minimum=0)
    batch_size: int = option(1, 'Items per forward pass on each process.', minimum=1)
    grad_accum: int = option(1, 'Forward passes whose gradients add up to one optimizer step.',
                             minimum=1)
    lr: float = option(1e-4, 'Peak learning rate (AdamW).', above=0.0)
    weight_decay: float = option(0.0, 'AdamW weight decay.', minimum=0.0)
    warmup: float = option(0.03, 'Share of the steps with a linear warm-up of the learning '
                           'rate.', minimum=0.0, maximum=1.0)
    schedule: str = option('cosine', "Learning-rate decay after the warm-up: 'cosine', "
                           "'linear' or 'constant'.", choices=SCHEDULES)
    max_grad_norm: float = option(1.0, 'Clip the gradient norm to this (0: no clipping).',
                                  minimum=0.0)
    precision: str = option('auto', "'auto' (bf16 mixed precision on a GPU, fp32 on the CPU), "
                            "'bf16' or 'fp32'.", choices=PRECISIONS)
    seed: int = option(0, 'Seed of the data order, the sampled negatives, LoRA initialisation '
                       'and dropout.', minimum=0)
    eval_every: int = option(0, 'Validate on --val every N optimizer steps, and at the start '
                             '(0: only at the end).', minimum=0)
    val_limit: int = option(0, 'Validate on at most this many --val items (0: all).',
                            minimum=0)
    save_every: int = option(100, 'Write a checkpoint every N optimizer steps (0: none); a '
                             'killed run resumes from the newest one.', minimum=0)
    keep_checkpoints: int = option(1, 'Newest checkpoints kept; a finished run keeps this many '
                                   '(0: deletes them all).', minimum=0)

    def __post_init__(self) -> None:
        """Validate every field, and the rules between fields.

        Raises:
            ConfigError: a value is out of range, or two settings contradict each other.
        """
        check_fields(self)
        if self.epochs and self.steps:
            raise ConfigError(f'give --epochs or --steps, not both (got --epochs {self.epochs} '
                              f'and --steps {self.steps}).')
        if self.save_adapter and not self.lora:
            raise ConfigError('--save-adapter writes a LoRA adapter: add --lora, or drop '
                              '--save-adapter to write the fine-tuned weights.')
        if self.target != 'action' and self.options == 'none':
            raise ConfigError(f'--target {self.target} trains on answer letters, which need the '
                              'lettered options in the prompt: use --options lettered (or '
                              'auto), or --target action.')

    @property
    def lettered(self) -> bool:
        """Whether the training prompt lists the lettered options."""
        if self.options == 'auto':
            return self.target != 'action'
        return self.options == 'lettered'

    @property
    def kinds(self) -> tuple[str, ...]:
        """The reply kinds trained on: ``('action',)``, ``('letter',)`` or both."""
        return ('action', 'letter') if self.target == 'both' else (self.target,)

    @property
    def alpha(self) -> float:
        """The LoRA alpha in effect."""
        return self.lora_alpha or 2.0 * self.lora_rank


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per :class:`FinetuneConfig` field to ``parser``."""
    add_flags(parser, FinetuneConfig)


def from_arguments(args: argparse.Namespace) -> FinetuneConfig:
    """Build the validated config from parsed arguments (see :func:`add_arguments`).

    Raises:
        ConfigError: a value is invalid (the message names the flag's field).
    """
    return from_flags(FinetuneConfig, args)


def describe(config: FinetuneConfig) -> dict[str, Any]:
    """The config as a JSON-ready mapping (for the run record and the model card)."""
    return dataclasses.asdict(config)


def command_line(config: FinetuneConfig, *, data: Sequence[str | Path], model: str,
                 out: str | Path, val: Sequence[str | Path] = (),
                 overrides: Mapping[str, Any] | None = None,
                 video_root: str | Path | None = None) -> str:
    """The ``vlm-planner finetune`` command of a run: settings that differ from the defaults."""
    words = ['vlm-planner', 'finetune', '--data', *map(str, data)]
    if val:
        words += ['--val', *map(str, val)]
    words += ['--model', model, '--out', str(out)]
    if video_root:
        words += ['--video-root', str(video_root)]
    words += changed_flags(config)
    for name, value in (overrides or {}).items():
        words += ['-p', f'{name}:={value}']
    return shlex.join(words)


def options_table() -> str:
    """The finetune settings as a Markdown table, named by their flags (docs/training.md)."""
    return flags_table(FinetuneConfig)
