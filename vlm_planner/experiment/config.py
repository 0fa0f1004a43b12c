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

"""The settings of ``vlm-planner experiment``, declared once: :class:`ExperimentConfig`.

The defaults run on two CPU cores in about an hour; on a GPU the same command scales up by
flags (more episodes, steps and pixels, larger models, or real checkpoints as ``--base-model``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from vlm_planner.errors import ConfigError
from vlm_planner.params import check_fields, option
from vlm_planner.sim.render import MIN_HEIGHT, MIN_WIDTH

#: How a model size is written: language-model width x layers.
_SIZE = re.compile(r'(\d+)x(\d+)')


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """What the experiment generates, trains and measures (the ``experiment`` flags)."""

    episodes: int = option(
        1000, 'Episodes of the training domain (bin and table goals, the training look): 80 % '
        'train, 10 % validation, 10 % test.', minimum=10)
    shifted_episodes: int = option(
        80, 'Episodes of each shifted test domain (shifted look, unseen look, new goals).',
        minimum=1)
    width: int = option(320, 'Frame width of the generated episodes.', minimum=MIN_WIDTH)
    height: int = option(240, 'Frame height of the generated episodes.', minimum=MIN_HEIGHT)
    max_pixels: int = option(
        50176, 'Largest frame the model reads, in pixels (the processor scales larger ones '
        'down; a from-scratch model needs about 50,000 to see which block is held).',
        minimum=3136)
    base_size: str = option(
        '128x6', 'The larger language model built from scratch: WIDTHxLAYERS (width a multiple '
        'of 32). Ignored with --base-model.')
    small_size: str = option(
        '64x4', 'The smaller language model built from scratch: WIDTHxLAYERS. Ignored with '
        '--small-model.')
    vision_size: str = option(
        '64x4', 'The vision tower of both from-scratch models: WIDTHxLAYERS (width a multiple '
        'of 16).')
    base_model: str = option(
        '', 'Fine-tune this local model folder as the larger model instead of building one '
        'from scratch (e.g. a Qwen2.5-VL checkpoint on a GPU).')
    small_model: str = option(
        '', 'Fine-tune this local model folder as the smaller model instead of building one '
        'from scratch.')
    steps: int = option(2000, 'Optimizer steps of each fine-tuning run.', minimum=1)
    batch_size: int = option(8, 'Items per optimizer step.', minimum=1)
    lr: float = option(1e-3, 'Peak learning rate (1e-3 from scratch; about 1e-4 with '
                       'pretrained weights).', above=0.0)
    lora: bool = option(False, 'Fine-tune LoRA adapters instead of all weights (for large '
                        'pretrained models on one GPU).')
    eval_every: int = option(250, 'Steps between validation measurements (the learning '
                             'curves).', minimum=1)
    val_limit: int = option(80, 'Validation decision points per measurement.', minimum=1)
    limit: int = option(200, 'Decision points evaluated per test domain and system.',
                        minimum=1)
    samples: int = option(200, 'Items sampled per data set for the distances.', minimum=2)
    bootstrap: int = option(200, 'Bootstrap rounds of the distance intervals.', minimum=0)
    visual_embedder: str = option(
        '', 'Visual embedder of the distances, as distance --embedder takes it (e.g. '
        'clip:FOLDER as the paper). Default: the vision tower of the trained larger model.')
    text_embedder: str = option(
        '', 'Text embedder of the distances, as distance --text-embedder takes it (e.g. '
        'fasttext:wiki-news-300d-1M-subword.bin as the paper). Default: the token embeddings '
        'of the trained larger model.')
    seed: int = option(0, 'Seed of the data, the initial weights and the training order.',
                       minimum=0)
    jobs: int = option(0, 'Commands run at the same time where they are independent (0: one '
                       'per CPU core, at most 3).', minimum=0)

    def __post_init__(self) -> None:
        """Validate the values.

        Raises:
            ConfigError: a value is out of range or a size is not WIDTHxLAYERS.
        """
        check_fields(self)
        for name, multiple in (('base_size', 32), ('small_size', 32), ('vision_size', 16)):
            width, _ = parse_size(getattr(self, name), '--' + name.replace('_', '-'))
            if width % multiple:
                raise ConfigError(f'--{name.replace("_", "-")} {getattr(self, name)}: the width '
                                  f'must be a multiple of {multiple}.')

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready data (``experiment.json``)."""
        return dataclasses.asdict(self)


def parse_size(text: str, flag: str) -> tuple[int, int]:
    """Read ``WIDTHxLAYERS``.

    Raises:
        ConfigError: the text is not two positive whole numbers joined by ``x``.
    """
    match = _SIZE.fullmatch(text.strip())
    if not match or not all(int(g) > 0 for g in match.groups()):
        raise ConfigError(f'{flag} {text!r}: write WIDTHxLAYERS, e.g. 128x6.')
    return int(match.group(1)), int(match.group(2))
