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

"""Evaluation throughput: items per second per strategy, and the full EgoPlan-Bench run projected.

Usage::

    python benchmarks/bench_eval_throughput.py                       # CPU: tiny and mid models
    python benchmarks/bench_eval_throughput.py --device cuda --size 7b --items 64

The evaluator (:class:`vlm_planner.eval.runner.Evaluation`, as ``vlm-planner eval`` runs it) works
through ``--items`` EgoPlan-Bench-like questions: four candidate actions each and a progress of
``--keyframes`` frames plus the current observation, random frames at the size's pixel budget,
eight questions per video sharing frames as questions of one EgoPlan video do. Each strategy runs
one by one (``--batch-size 1``, the keyframe and prompt caches on) and, where it batches, with
``--batch-size 8``. The model is bench_scoring.py's random Qwen2.5-VL of the size (``tiny``: the
offline tiny build), so the figures are the cost of the work, not of a good answer.

One Markdown table on stdout: items per second per size, strategy and batch size, and the hours
the full EgoPlan-Bench validation set (3,355 questions) would take at that rate on this machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import tempfile
import time
from typing import Any, Iterator

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import check_device, LABELS, load_backend, SIZES  # noqa: E402

from vlm_planner.core.actions import Action  # noqa: E402
from vlm_planner.core.frames import Frame  # noqa: E402
from vlm_planner.core.keyframes import KeyframeConfig  # noqa: E402
from vlm_planner.data.items import Dataset, EvalItem  # noqa: E402
from vlm_planner.eval.runner import Evaluation  # noqa: E402
from vlm_planner.models.factory import load_backend as load_configured  # noqa: E402

#: Questions of EgoPlan-Bench's validation set, the run the table projects.
EGOPLAN_ITEMS = 3355
#: Questions per video (EgoPlan-Bench asks several about one video).
PER_VIDEO = 8

#: Strategy runs measured: name, planner parameters, batch sizes.
RUNS = (
    ('base (letter)', {'strategy.name': 'base'}, (1, 8)),
    ('base (likelihood)', {'strategy.name': 'base', 'strategy.scoring': 'likelihood'}, (1, 8)),
    ('cot', {'strategy.name': 'cot'}, (1,)),
    ('reflect', {'strategy.name': 'reflect'}, (1,)),
    ('consistency (N = 5)', {'strategy.name': 'consistency', 'strategy.samples': 5}, (1,)),
)


class Questions(Dataset):
    """EgoPlan-like questions on random frames, ``PER_VIDEO`` sharing one video's frames."""

    def __init__(self, count: int, keyframes: int, pixels: int) -> None:
        self.name, self.count, self.keyframes = 'bench', count, keyframes
        self.side = int(pixels ** 0.5)

    def __len__(self) -> int:
        return self.count

    def item_ids(self) -> list[str]:
        """Ids of the questions."""
        return [f'q{i}' for i in range(self.count)]

    def items(self, keyframes: KeyframeConfig) -> Iterator[EvalItem]:
        """The questions, video by video (``keyframes`` is not needed: frames are given)."""
        rng = np.random.default_rng(0)
        candidates = tuple(Action(label) for label in LABELS[:4])
        for video in range(0, self.count, PER_VIDEO):
            frames = [Frame(rng.integers(0, 256, (self.side, self.side, 3), dtype=np.uint8), t)
                      for t in range(self.keyframes + PER_VIDEO)]
            for i in range(video, min(video + PER_VIDEO, self.count)):
                end = self.keyframes + 1 + i - video
                yield EvalItem(self.name, f'q{i}', 'bench', 'stack all blocks into one tower',
                               candidates, i % 4, tuple(frames[end - self.keyframes - 1:end]),
                               float(end - 1))


def measure(size: str, device: str, items: int, keyframes: int, new_tokens: int,
            ) -> list[tuple[str, int, float]]:
    """(strategy, batch size, items per second) of every run at ``size``."""
    pixels = SIZES['mid'].pixels if size == 'tiny' else SIZES[size].pixels
    shared: dict[str, Any] = {}

    def loader(config: Any) -> Any:
        if 'backend' not in shared:  # one model for every run: loading is not evaluating
            shared['backend'] = (load_configured(config) if size == 'tiny' else
                                 load_backend(SIZES[size], device, keyframe_cache=True,
                                              keyframes=keyframes))
        backend = shared['backend']
        backend.reset_caches()
        backend.close = lambda: None  # kept for the next run
        return backend

    def seconds(count: int, values: dict[str, Any], batch_size: int) -> float:
        with tempfile.TemporaryDirectory() as folder:
            run = Evaluation([Questions(count, keyframes, pixels)], ['tiny'],
                             [values['strategy.name']], folder, overrides={**base, **values},
                             batch_size=batch_size, backend_loader=loader)
            started = time.perf_counter()
            run.run(progress=False)
            if device == 'cuda':
                torch.cuda.synchronize()
            return time.perf_counter() - started

    rows = []
    base = {'model.device': device, 'model.max_frames': keyframes,
            'keyframes.max_count': keyframes, 'model.max_pixels': pixels,
            'strategy.max_new_tokens': new_tokens}
    seconds(2, RUNS[0][1], 1)  # warm-up: model loaded, kernels chosen
    for name, values, batch_sizes in RUNS:
        for batch_size in batch_sizes:
            rows.append((name, batch_size, items / seconds(items, values, batch_size)))
            print(f'{size} {name} batch {batch_size}: {rows[-1][2]:.2f} items/s',
                  file=sys.stderr)
    return rows


def table(results: dict[str, list[tuple[str, int, float]]]) -> str:
    """Markdown table of the rates and the projected EgoPlan-Bench run."""
    lines = ['| model | strategy | batch size | items / s | EgoPlan-Bench (3,355 items), hours |',
             '| --- | --- | ---: | ---: | ---: |']
    for size, rows in results.items():
        for name, batch_size, rate in rows:
            lines.append(f'| {size} | {name} | {batch_size} | {rate:.2f} | '
                         f'{EGOPLAN_ITEMS / rate / 3600:.2f} |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure every size asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument('--size', action='append', choices=('tiny', *SIZES),
                        help='model size (repeatable; default tiny and mid, or 7b with cuda)')
    parser.add_argument('--items', type=int, default=32, help='questions per run (default 32)')
    parser.add_argument('--keyframes', type=int, default=8, help='frames per question (8)')
    parser.add_argument('--new-tokens', type=int, default=32,
                        help='tokens generated by cot and consistency replies (default 32)')
    args = parser.parse_args(argv)
    check_device(parser, args.device)
    sizes = args.size or (['7b'] if args.device == 'cuda' else ['tiny', 'mid'])
    machine = (torch.cuda.get_device_name() if args.device == 'cuda'
               else f'CPU, {torch.get_num_threads()} torch threads')
    started = time.perf_counter()
    results = {size: measure(size, args.device, args.items, args.keyframes, args.new_tokens)
               for size in sizes}
    print(f'{args.items} questions per run, {args.keyframes} frames each, {machine}; '
          f'{time.perf_counter() - started:.0f} s in all.\n')
    print(table(results))


if __name__ == '__main__':
    main()
