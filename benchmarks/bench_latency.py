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

"""Decision latency per stage over a live run of decisions, with and without the caches.

Usage::

    python benchmarks/bench_latency.py                                     # CPU, mid-size model
    python benchmarks/bench_latency.py --device cuda --size 7b --keyframes 16 [--compile]

A camera feeds the planner's own keyframe buffer (``interval`` policy, one keyframe per second,
``--keyframes`` kept) with frames of a changing scene (random noise at the size's pixel budget);
once the buffer is full, the planner decides after every new keyframe, so each decision sees one
new keyframe, one dropped, and a new current image: the live node's steady state. Every strategy
decides ``--decisions`` times in each configuration:

* ``uncached``: every decision prepares, encodes and runs its whole prompt (the behaviour before
  the caches, ``model.keyframe_cache: false``);
* ``cached``: the defaults (keyframes prepared and encoded once, the last prompt's KV cache kept);
* ``cached, prefix prompt``: the same with ``config/prompt_prefix_reuse.yaml`` and
  ``model.video_fps: 2``, the wording under which consecutive prompts share the progress video.

The model is bench_scoring.py's randomly initialised Qwen2.5-VL of ``--size`` (nothing is
downloaded) inside the planner's ``TransformersBackend`` and ``Planner``; each decision records
its stages (:mod:`vlm_planner.models.stage_times`). One Markdown table on stdout: per strategy and
configuration the median milliseconds of input preparation, vision encoding, prefill, decoding and
the whole decision, and the median prompt tokens prefilled and reused per decision. Below it, the
base decision's roofline floor on one H200 (bench_scoring.py's work meter on an uncached
decision: FLOPs and weight bytes of its forward passes) and each configuration's ratio to it.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import (check_device, GOAL, H200, LABELS, load_backend,  # noqa: E402
                           SIZES, WorkMeter)

from vlm_planner.core.actions import Action, ActionLibrary  # noqa: E402
from vlm_planner.core.frames import Frame  # noqa: E402
from vlm_planner.core.keyframes import KeyframeBuffer, KeyframeConfig  # noqa: E402
from vlm_planner.core.planner import Planner  # noqa: E402
from vlm_planner.core.prompts import PromptTemplate  # noqa: E402
from vlm_planner.core.strategies import make_strategy, StrategyConfig  # noqa: E402
from vlm_planner.models.stage_times import STAGES  # noqa: E402

PREFIX_PROMPT = Path(__file__).resolve().parents[1] / 'config' / 'prompt_prefix_reuse.yaml'

#: Strategy settings measured, by name.
STRATEGIES = {
    'base (letter)': {'name': 'base'},
    'base (likelihood K=4)': {'name': 'base', 'scoring': 'likelihood'},
    'cot': {'name': 'cot'},
    'reflect': {'name': 'reflect'},
    'consistency (N = 5)': {'name': 'consistency', 'samples': 5},
}


@dataclasses.dataclass(frozen=True)
class Configuration:
    """One way of running the model."""

    name: str
    keyframe_cache: bool
    prompt: Path | None  # None: the default prompt
    video_fps: float


CONFIGURATIONS = (
    Configuration('uncached', False, None, 0.0),
    Configuration('cached', True, None, 0.0),
    Configuration('cached, prefix prompt', True, PREFIX_PROMPT, 2.0),
)


def camera(count: int, pixels: int) -> list[Frame]:
    """``count`` frames of a changing scene, a quarter second apart (4:3, ``pixels`` each)."""
    rng = np.random.default_rng(0)
    height = int((pixels * 3 / 4) ** 0.5)
    width = pixels // height
    return [Frame(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), 0.25 * i)
            for i in range(count)]


def snapshots(frames: list[Frame], keyframes: int, decisions: int) -> list[list[Frame]]:
    """The buffer's snapshot after each new keyframe, once the buffer is full."""
    buffer = KeyframeBuffer(KeyframeConfig(policy='interval', max_count=keyframes,
                                           min_interval=1.0))
    taken = []
    for frame in frames:
        if buffer.add(frame) and len(buffer) == keyframes:
            taken.append(buffer.snapshot())
        if len(taken) == decisions:
            break
    return taken


def run(backend: Any, configuration: Configuration, strategy: dict[str, Any],
        runs: list[list[Frame]], new_tokens: int) -> list[dict[str, float]]:
    """Decide once per snapshot (after one warm-up decision); each decision's stages and total."""
    backend.video_fps = configuration.video_fps
    backend.reset_caches(keyframe_cache=configuration.keyframe_cache)
    template = (PromptTemplate.from_yaml(configuration.prompt) if configuration.prompt
                else PromptTemplate.default())
    config = StrategyConfig(**strategy, max_new_tokens=new_tokens)
    planner = Planner(backend, ActionLibrary([Action(label) for label in LABELS[:4]]),
                      make_strategy(config, template))
    planner.decide(GOAL, runs[0])  # warm-up: fills the caches as a running node has them
    records = []
    for frames in runs[1:]:
        if backend.device.type == 'cuda':
            torch.cuda.synchronize()
        decision = planner.decide(GOAL, frames)
        records.append({**decision.stages, 'total_ms': decision.latency_s * 1e3})
    return records


def floor_s(backend: Any, frames: list[Frame]) -> float:
    """Roofline floor on one H200 of a fresh base decision over ``frames``."""
    backend.video_fps = 0.0
    backend.reset_caches(keyframe_cache=False)
    planner = Planner(backend, ActionLibrary([Action(label) for label in LABELS[:4]]),
                      make_strategy(StrategyConfig('base')))
    meter = WorkMeter(backend.model, H200)
    planner.decide(GOAL, frames)
    meter.close()
    return meter.roofline_s


def table(results: dict[tuple[str, str], list[dict[str, float]]]) -> str:
    """Markdown table of the median of every column per strategy and configuration."""
    columns = [f'{stage}_ms' for stage in STAGES]
    columns += ['total_ms', 'prefilled_tokens', 'reused_tokens']
    lines = ['| strategy | configuration | ' + ' | '.join(
        c.replace('_ms', ' (ms)').replace('_tokens', ' tokens') for c in columns) + ' |',
        '| --- | --- |' + ' ---: |' * len(columns)]
    for (strategy, configuration), records in results.items():
        medians = [statistics.median(r[c] for r in records) for c in columns]
        cells = [f'{m:.1f}' if c.endswith('_ms') else f'{m:.0f}'
                 for c, m in zip(columns, medians)]
        lines.append(f'| {strategy} | {configuration} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; ``--device cuda`` without CUDA is an error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument('--size', choices=tuple(SIZES), default='mid')
    parser.add_argument('--keyframes', type=int, default=8, help='keyframes kept (default 8)')
    parser.add_argument('--decisions', type=int, default=12,
                        help='timed decisions per strategy and configuration (default 12)')
    parser.add_argument('--new-tokens', type=int, default=32,
                        help='tokens generated by cot and consistency replies (default 32)')
    parser.add_argument('--strategies', default=','.join(STRATEGIES),
                        help='comma-separated names from: ' + ', '.join(STRATEGIES))
    parser.add_argument('--attn', default='sdpa',
                        help="attention kernel: sdpa (default), flash_attention_2 or eager")
    parser.add_argument('--compile', action='store_true',
                        help="torch.compile the language model's forward (GPU)")
    args = parser.parse_args(argv)
    check_device(parser, args.device)
    unknown = set(args.strategies.split(',')) - set(STRATEGIES)
    if unknown:
        parser.error(f'unknown strategies {sorted(unknown)}; choose from {list(STRATEGIES)}')
    return args


def main(argv: list[str] | None = None) -> None:
    """Build the model, run every strategy in every configuration, print the tables."""
    args = parse_args(argv)
    size = SIZES[args.size]
    backend = load_backend(size, args.device, keyframe_cache=True, keyframes=args.keyframes,
                           attn_implementation=args.attn)
    if args.compile:
        backend.model.model.language_model.forward = torch.compile(
            backend.model.model.language_model.forward, dynamic=True)
    frames = camera(4 * (args.keyframes + args.decisions + 2), size.pixels)
    runs = snapshots(frames, args.keyframes, args.decisions + 1)
    strategies = args.strategies.split(',')
    results = {}
    started = time.perf_counter()
    with tqdm(total=len(strategies) * len(CONFIGURATIONS), file=sys.stderr,
              desc='measuring') as bar:
        for strategy in strategies:
            for configuration in CONFIGURATIONS:
                results[(strategy, configuration.name)] = run(
                    backend, configuration, STRATEGIES[strategy], runs, args.new_tokens)
                bar.update()
    floor = floor_s(backend, runs[-1])
    machine = (torch.cuda.get_device_name() if args.device == 'cuda'
               else f'CPU, {torch.get_num_threads()} torch threads')
    print(f'Random Qwen2.5-VL `{args.size}`, {backend.dtype}, {args.attn} attention'
          f'{", compiled" if args.compile else ""}, {args.keyframes} keyframes at '
          f'{runs[0][0].image.shape[1]}x{runs[0][0].image.shape[0]}, {machine}; medians of '
          f'{args.decisions} decisions per row; {time.perf_counter() - started:.0f} s in all.\n')
    print(table(results) + '\n')
    print(f'H200 roofline floor of a fresh base decision: {floor * 1e3:.2f} ms.')
    for configuration in CONFIGURATIONS:
        records = results.get(('base (letter)', configuration.name))
        if records:
            total = statistics.median(r['total_ms'] for r in records) / 1e3
            print(f'- base (letter), {configuration.name}: {total / floor:.1f}x the floor')


if __name__ == '__main__':
    main()
