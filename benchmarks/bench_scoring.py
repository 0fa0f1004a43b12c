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

"""Cost of full-answer scoring with and without prefix sharing, and of batched self-consistency.

Usage::

    python benchmarks/bench_scoring.py                           # CPU, mid-size model
    python benchmarks/bench_scoring.py --device cuda --size 7b   # one H200, 7B-class model

The model is a randomly initialised Qwen2.5-VL built in memory at the chosen size (nothing is
downloaded). It borrows the tokenizer, processor and chat template of the tiny offline build
(:mod:`vlm_planner.models.tiny`), with the processor's pixel budget raised to the size's, and runs
inside the planner's ``TransformersBackend``, so every time includes building and processing the
prompt. The prompt is the planner's own: a progress video, the current image and the question with
four lettered options; the frames are random noise at the size's pixel budget.

Markdown tables on stdout:

1. scoring K = 1, 4, 20 candidate actions: prefix shared (one prompt pass, then one batched pass
   over its cache) against one by one (a full pass over prompt + candidate per candidate);
2. self-consistency with N = 5 sampled replies: one batched ``generate`` call continuing one run
   of the prompt, one batched call over five copies of the prompt, and five sequential calls;
3. with ``--strategies`` (the default on CUDA): the decision latency of each strategy next to its
   floors on one H200 (:data:`H200`): compute (FLOPs / dense bf16 rate), memory (weight bytes read
   by every forward pass / HBM bandwidth), the roofline (per pass the larger of the two, summed)
   and the peak GPU memory.

Times are medians over ``--repeat`` runs after one warm-up run. The work columns count what one
run fed the model, through hooks: forward passes, tokens fed to the language model, FLOPs (matrix
products with the weights, plus the language model's causal attention; the vision tower's
attention is left out, so the floors stay floors). Replies always have exactly ``new_tokens``
tokens: the model's generation config names no end-of-sequence token. A random model's replies
name no option, so chain of thought and self-consistency also take their fallback letter-scoring
pass, as they would for a trained model that failed to answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm
import transformers
from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
from transformers.image_utils import SizeDict

from vlm_planner.core.frames import Frame
from vlm_planner.core.prompts import build_messages, PlanningQuestion, PromptTemplate
from vlm_planner.core.strategies import make_strategy, StrategyConfig
from vlm_planner.models.hf import TransformersBackend
from vlm_planner.models.tiny import ensure_tiny_model

GOAL = 'stack all blocks into one tower'

#: Candidate actions scored as full answers (the first four are the question's lettered options).
LABELS = (
    'pick up the red block', 'put the red block in the blue bin',
    'stack the green block on the yellow block', 'open the drawer', 'close the drawer',
    'push the bin to the corner', 'unstack the top block and put it on the table',
    'move the small cube to the right side of the table', 'place the cup inside the drawer',
    'grasp the handle and lift the lid', 'put the lid down next to the box',
    'put the blue block in the left bin', 'sort the blocks by colour into the three bins',
    'pick up the green cube', 'put the yellow block on the plate', 'push the red cube left',
    'put the cup on the plate', 'open the box', 'put the orange block in the bowl', 'done',
)

CANDIDATE_COUNTS = (1, 4, 20)
SAMPLES = 5
TEMPERATURE = 0.7


@dataclasses.dataclass(frozen=True)
class Size:
    """A model size and the prompt it is benchmarked with."""

    text: dict[str, Any]  # Qwen2.5-VL text config fields
    vision: dict[str, Any]  # Qwen2.5-VL vision config fields
    pixels: int  # pixel budget of each frame and image
    keyframes: int  # frames of the progress video
    new_tokens: int  # length of every generated reply
    repeat: int  # timed runs of each measurement


#: Every size the benchmark builds. ``7b`` is Qwen2.5-VL-7B-Instruct's architecture.
SIZES = {
    'mid': Size(
        text={'vocab_size': 32768, 'hidden_size': 768, 'intermediate_size': 2048,
              'num_hidden_layers': 6, 'num_attention_heads': 12, 'num_key_value_heads': 2,
              'mrope_section': [8, 12, 12], 'max_position_embeddings': 32768},
        vision={'depth': 4, 'hidden_size': 384, 'intermediate_size': 1024, 'num_heads': 6,
                'fullatt_block_indexes': [1, 3]},
        pixels=224 * 224, keyframes=4, new_tokens=32, repeat=3),
    '7b': Size(
        text={'vocab_size': 152064, 'hidden_size': 3584, 'intermediate_size': 18944,
              'num_hidden_layers': 28, 'num_attention_heads': 28, 'num_key_value_heads': 4,
              'mrope_section': [16, 24, 24], 'max_position_embeddings': 128000},
        vision={'depth': 32, 'hidden_size': 1280, 'intermediate_size': 3420, 'num_heads': 16,
                'fullatt_block_indexes': [7, 15, 23, 31]},
        pixels=448 * 448, keyframes=8, new_tokens=128, repeat=3),
}

# Fields every size shares with Qwen2.5-VL-7B-Instruct.
_ROPE_THETA = 1000000.0
_TEXT_COMMON = {'rms_norm_eps': 1e-6, 'hidden_act': 'silu'}
_VISION_COMMON = {'patch_size': 14, 'spatial_merge_size': 2, 'temporal_patch_size': 2,
                  'window_size': 112, 'tokens_per_second': 2, 'hidden_act': 'silu'}


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """The rates the floors divide by."""

    name: str
    flops_per_s: float  # dense bf16 matrix products
    bytes_per_s: float  # memory bandwidth


#: One H200: 4.8 TB/s HBM3e; ~790 TFLOP/s is 80 % of the 989 TFLOP/s dense bf16 datasheet peak.
H200 = Accelerator('H200', flops_per_s=790e12, bytes_per_s=4.8e12)


class WorkMeter:
    """Count, through hooks, the work of every forward pass of a Qwen2.5-VL.

    Attributes:
        passes: top-level forward passes.
        tokens: tokens fed to the language model (batch x sequence, summed).
        flops: FLOPs of the weights' matrix products and the language model's causal attention.
        bytes: bytes of weights read, once per pass for each part that ran.
        roofline_s: per pass the longer of compute and memory time on the accelerator, summed.
    """

    def __init__(self, model: Any, accelerator: Accelerator) -> None:
        """Hook into ``model``; the roofline is that of ``accelerator``."""
        self.accelerator = accelerator
        text, vision = model.config.text_config, model.config.vision_config
        language, visual = model.model.language_model, model.model.visual
        self._text_params = _count(language) - language.embed_tokens.weight.numel()
        self._head_params = model.lm_head.weight.numel()
        self._merger_params = _count(visual.merger)
        self._vision_params = _count(visual) - self._merger_params
        self._merge = vision.spatial_merge_size ** 2
        self._attention = text.num_hidden_layers * text.num_attention_heads * (
            getattr(text, 'head_dim', None) or text.hidden_size // text.num_attention_heads)
        self._bytes_per_param = next(model.parameters()).element_size()
        self.reset()
        self._handles = [
            model.register_forward_hook(self._finish),
            language.register_forward_pre_hook(self._language, with_kwargs=True),
            model.lm_head.register_forward_pre_hook(self._head),
            visual.register_forward_pre_hook(self._vision, with_kwargs=True),
        ]

    def reset(self) -> None:
        """Forget the work counted so far."""
        self._current = [0.0, 0.0]  # FLOPs and weight bytes of the pass under way
        self.passes = self.tokens = 0
        self.flops = self.bytes = self.roofline_s = 0.0

    def close(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()

    def _finish(self, module, args, output) -> None:
        # Work since the last pass: generate() runs the vision tower before the first pass.
        flops, weight_bytes = self._current
        self._current = [0.0, 0.0]
        self.passes += 1
        self.flops += flops
        self.bytes += weight_bytes
        self.roofline_s += max(flops / self.accelerator.flops_per_s,
                               weight_bytes / self.accelerator.bytes_per_s)

    def _language(self, module, args, kwargs) -> None:
        batch, new = kwargs['inputs_embeds'].shape[:2]
        cache = kwargs.get('cache', kwargs.get('past_key_values'))
        past = cache.get_seq_length() if cache is not None else 0
        self.tokens += batch * new
        # Every new token attends to the cached ones and, causally, to the new ones before it.
        keys = new * past + new * (new + 1) / 2
        self._add(2.0 * self._text_params * batch * new + 4.0 * self._attention * batch * keys,
                  self._text_params)

    def _head(self, module, args) -> None:
        rows = args[0].shape[0] * args[0].shape[1]
        self._add(2.0 * self._head_params * rows, self._head_params)

    def _vision(self, module, args, kwargs) -> None:
        patches = (args[0] if args else kwargs['hidden_states']).shape[0]
        flops = 2.0 * (self._vision_params * patches + self._merger_params * patches / self._merge)
        self._add(flops, self._vision_params + self._merger_params)

    def _add(self, flops: float, params: int) -> None:
        self._current[0] += flops
        self._current[1] += params * self._bytes_per_param


@dataclasses.dataclass
class Row:
    """One measured way of doing something."""

    name: str
    seconds: float
    passes: int
    tokens: int
    flops: float
    bytes: float
    roofline_s: float
    peak_bytes: int | None


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def qwen_config(size: Size, template: Any) -> Qwen2_5_VLConfig:
    """The Qwen2.5-VL config of ``size``, with the special token ids of ``template`` (tiny)."""
    text = {key: value for key, value in size.text.items() if key != 'mrope_section'}
    text.update(_TEXT_COMMON, max_window_layers=size.text['num_hidden_layers'],
                rope_parameters={'rope_type': 'default', 'rope_theta': _ROPE_THETA,
                                 'mrope_section': size.text['mrope_section']},
                bos_token_id=None, eos_token_id=template.text_config.eos_token_id,
                pad_token_id=template.text_config.pad_token_id)
    vision = dict(size.vision, **_VISION_COMMON, out_hidden_size=size.text['hidden_size'])
    return Qwen2_5_VLConfig(
        text_config=text, vision_config=vision, image_token_id=template.image_token_id,
        video_token_id=template.video_token_id,
        vision_start_token_id=template.vision_start_token_id,
        vision_end_token_id=template.vision_end_token_id, tie_word_embeddings=False)


def build_model(config: Qwen2_5_VLConfig, device: str, dtype: torch.dtype,
                attn_implementation: str = '') -> Any:
    """A random model of ``config`` created directly on ``device`` in ``dtype``."""
    torch.manual_seed(0)
    options = {'attn_implementation': attn_implementation} if attn_implementation else {}
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype, **options)
    model.to(device)  # a no-op unless a transformers version ignores the device context
    # No end-of-sequence token: every reply runs to max_new_tokens, the worst case.
    model.generation_config = GenerationConfig(pad_token_id=config.text_config.pad_token_id)
    return model.eval()


def load_backend(size: Size, device: str, keyframe_cache: bool = False,
                 keyframes: int = 0, attn_implementation: str = '') -> TransformersBackend:
    """The planner's backend on the tiny build, with its model swapped for one of ``size``.

    Without ``keyframe_cache`` (here the default) every call prepares, encodes and runs its
    prompt afresh, so repeated runs of one prompt measure one decision each (with it, a repeat
    would reuse the previous run's prompt; ``bench_latency.py`` measures that). ``keyframes``
    overrides the size's progress-video length; ``attn_implementation`` picks the attention
    kernel (``sdpa``, ``flash_attention_2``; empty: the transformers default).
    """
    dtype = 'bfloat16' if device == 'cuda' else 'float32'
    backend = TransformersBackend(path=ensure_tiny_model(), device=device, dtype=dtype,
                                  max_frames=keyframes or size.keyframes, max_pixels=size.pixels,
                                  keyframe_cache=keyframe_cache)
    config = qwen_config(size, backend.model.config)
    backend.model = None  # drop the tiny model before allocating the large one
    backend.model = build_model(config, device, backend.dtype, attn_implementation)
    for processor in (backend.processor.image_processor, backend.processor.video_processor):
        processor.size = SizeDict(shortest_edge=min(processor.size.shortest_edge, size.pixels),
                                  longest_edge=size.pixels)
    backend.reset_caches()  # the processor's sizes changed: prepare frames anew
    return backend


def make_question(size: Size) -> PlanningQuestion:
    """The planning question: progress video, current image and four options, random frames."""
    rng = np.random.default_rng(0)
    side = int(size.pixels ** 0.5)
    frames = [Frame(rng.integers(0, 256, (side, side, 3), dtype=np.uint8), float(t))
              for t in range(size.keyframes + 1)]
    return PlanningQuestion(GOAL, tuple(frames[:-1]), frames[-1], LABELS[:4])


def measure(name: str, function: Callable[[], Any], meter: WorkMeter, repeat: int,
            device: str, progress: tqdm) -> Row:
    """Time ``function`` (median of ``repeat`` runs after a warm-up) and count one run's work."""
    function()
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeat):
        meter.reset()
        start = time.perf_counter()
        function()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    progress.update()
    peak = torch.cuda.max_memory_allocated() if device == 'cuda' else None
    return Row(name, statistics.median(times), meter.passes, meter.tokens, meter.flops,
               meter.bytes, meter.roofline_s, peak)


def scoring_jobs(backend: TransformersBackend, messages: list) -> dict[str, Callable]:
    """Shared and one-by-one scoring of K = 1, 4, 20 candidates."""
    jobs = {}
    for k in CANDIDATE_COUNTS:
        labels = LABELS[:k]
        jobs[f'K = {k}, shared'] = lambda labels=labels: backend.score_continuations(
            messages, labels)
        jobs[f'K = {k}, one by one'] = lambda labels=labels: backend.score_continuations(
            messages, labels, share_prefix=False)
    return jobs


def consistency_jobs(backend: TransformersBackend, messages: list,
                     new_tokens: int) -> dict[str, Callable]:
    """N = 5 sampled replies: batched over one prompt run, batched over copies, sequential."""
    options = {'temperature': TEMPERATURE, 'max_new_tokens': new_tokens}

    def sequential():
        return [backend.generate(messages, **options)[0] for _ in range(SAMPLES)]

    return {f'N = {SAMPLES}, batched, prompt shared': lambda: backend.generate(
                messages, num_samples=SAMPLES, **options),
            f'N = {SAMPLES}, batched, prompt copied': lambda: backend.generate(
                messages, num_samples=SAMPLES, share_prefix=False, **options),
            f'N = {SAMPLES}, sequential': sequential}


def strategy_jobs(backend: TransformersBackend, question: PlanningQuestion,
                  new_tokens: int) -> dict[str, Callable]:
    """One decision of each strategy, likelihood scoring of 4 and 20 actions included."""
    template = PromptTemplate.default()
    messages = build_messages(template, question, template.answer_instruction)
    configs = {
        'base (letter scores)': StrategyConfig('base'),
        f'cot ({new_tokens} new tokens)': StrategyConfig('cot', max_new_tokens=new_tokens),
        'reflect': StrategyConfig('reflect'),
        f'consistency (N = {SAMPLES}, {new_tokens} new tokens)': StrategyConfig(
            'consistency', samples=SAMPLES, temperature=TEMPERATURE, max_new_tokens=new_tokens),
    }
    jobs = {name: (lambda s=make_strategy(config, template): s.decide(backend, question))
            for name, config in configs.items()}
    for k in (4, 20):
        jobs[f'likelihood (K = {k})'] = lambda k=k: int(np.argmax(
            backend.score_continuations(messages, LABELS[:k])))
    return jobs


def work_table(title: str, rows: list[Row], pairs: list[tuple[int, int]]) -> str:
    """Markdown table of time and work, with the speed-up of row i over row j for the pairs."""
    lines = [f'| {title} | median time (ms) | forward passes | LM tokens | GFLOP |',
             '| --- | ---: | ---: | ---: | ---: |']
    lines += [f'| {r.name} | {r.seconds * 1e3:.1f} | {r.passes} | {r.tokens} | '
              f'{r.flops / 1e9:.1f} |' for r in rows]
    speedups = []
    for i, j in pairs:
        group, _, way = rows[i].name.partition(', ')
        speedups.append(f'{group}: {way} at {rows[j].seconds / rows[i].seconds:.1f}x the speed '
                        f'of {rows[j].name.partition(", ")[2]}')
    return '\n'.join(lines) + '\n\nSpeed-ups: ' + '; '.join(speedups) + '.'


def strategy_table(rows: list[Row], accelerator: Accelerator) -> str:
    """Markdown table of decision latency next to the accelerator's floors."""
    name = accelerator.name
    lines = [f'| strategy | latency (ms) | {name} compute floor (ms) | {name} memory floor (ms) '
             f'| {name} roofline floor (ms) | forward passes | LM tokens | peak memory (GiB) |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for r in rows:
        peak = f'{r.peak_bytes / 2**30:.1f}' if r.peak_bytes is not None else 'n/a'
        lines.append(
            f'| {r.name} | {r.seconds * 1e3:.1f} | {r.flops / accelerator.flops_per_s * 1e3:.1f}'
            f' | {r.bytes / accelerator.bytes_per_s * 1e3:.1f} | {r.roofline_s * 1e3:.1f} | '
            f'{r.passes} | {r.tokens} | {peak} |')
    return '\n'.join(lines)


def describe(backend: TransformersBackend, args: argparse.Namespace, size: Size,
             prompt_tokens: int) -> str:
    """One paragraph: model, prompt, machine and versions."""
    model = backend.model
    total, vision = _count(model), _count(model.model.visual)
    side = int(size.pixels ** 0.5)
    machine = (torch.cuda.get_device_name() if args.device == 'cuda'
               else f'CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads')
    return (f'Random Qwen2.5-VL `{args.size}`: {total / 1e6:,.0f} M parameters '
            f'({vision / 1e6:,.0f} M in the vision tower), {backend.dtype}. '
            f'Prompt: {prompt_tokens} tokens (video of {size.keyframes} frames and an image, '
            f'{side}x{side}). Machine: {machine}; torch {torch.__version__}, transformers '
            f'{transformers.__version__}; median of {args.repeat or size.repeat} runs.')


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; ``--device cuda`` without CUDA is an error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument('--size', choices=tuple(SIZES), default='mid')
    parser.add_argument('--repeat', type=int, default=0,
                        help='timed runs per measurement (default: the size\'s)')
    parser.add_argument('--strategies', action='store_true',
                        help='also time every strategy\'s decision (always on with cuda)')
    args = parser.parse_args(argv)
    check_device(parser, args.device)
    args.strategies = args.strategies or args.device == 'cuda'
    return args


def check_device(parser: argparse.ArgumentParser, device: str) -> None:
    """Stop with a usage error when ``device`` is cuda and torch sees no CUDA GPU."""
    if device == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device cuda needs a CUDA GPU, but torch {torch.__version__} sees none; '
                     'run on a GPU machine, or drop --device for the CPU variant.')


def main(argv: list[str] | None = None) -> None:
    """Build the model, run every measurement and print the tables."""
    args = parse_args(argv)
    size = SIZES[args.size]
    repeat = args.repeat or size.repeat
    backend = load_backend(size, args.device)
    question = make_question(size)
    template = PromptTemplate.default()
    messages = build_messages(template, question, template.answer_instruction)
    meter = WorkMeter(backend.model, H200)
    backend.score_letters(messages, question.letters)  # also warms the model up
    prompt_tokens = meter.tokens
    groups = {'scoring': scoring_jobs(backend, messages),
              'self-consistency': consistency_jobs(backend, messages, size.new_tokens)}
    if args.strategies:
        groups['strategy'] = strategy_jobs(backend, question, size.new_tokens)
    results = {}
    with tqdm(total=sum(map(len, groups.values())), file=sys.stderr, desc='measuring') as bar:
        for group, jobs in groups.items():
            results[group] = [measure(name, job, meter, repeat, args.device, bar)
                              for name, job in jobs.items()]
    meter.close()
    print(describe(backend, args, size, prompt_tokens) + '\n')
    print(work_table('scoring', results['scoring'],
                     [(i, i + 1) for i in range(0, len(results['scoring']), 2)]) + '\n')
    print(work_table('self-consistency', results['self-consistency'], [(0, 1), (0, 2)]))
    if args.strategies:
        print('\n' + strategy_table(results['strategy'], H200))


if __name__ == '__main__':
    main()
