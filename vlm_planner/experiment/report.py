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

"""``experiments.md`` and its plots: each result set beside the paper's finding.

Akiyama et al. 2024 report, in words: fine-tuning data helps by how close it is to the test
environment; a trainable vision encoder adapts faster but does not generalise better; the 7B
and 13B models differed little; chain of thought and self-reflection barely help and sometimes
hurt, and self-consistency is the strategy that can help. Each section states that finding in
our words, shows the measured numbers with intervals and paired tests, and says whether the
synthetic world agrees, by a rule written next to it.
"""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from vlm_planner import __version__
from vlm_planner.atomic_file import atomic_path
from vlm_planner.eval.metrics import Comparison
from vlm_planner.experiment.config import ExperimentConfig
from vlm_planner.experiment.plan import DOMAINS, MAIN_RUN, Plan, RUNS, STRATEGIES
from vlm_planner.experiment.results import Accuracy, Results
from vlm_planner.params import flags_table
from vlm_planner.plots import figure, save_png
from vlm_planner.train.curves import smoothed

REPORT_NAME = 'experiments.md'
SHIFT_PNG = 'experiments_shift.png'
ACCURACY_PNG = 'experiments_accuracy.png'
CURVES_PNG = 'experiments_curves.png'
STRATEGIES_PNG = 'experiments_strategies.png'
#: A rank correlation at least this large counts as "the drop grows with the distance".
RHO_AGREES = 0.5
MODALITIES = ('visual', 'text')
_RUN_LABEL = {'base-trainable': 'larger, vision trained', 'base-frozen': 'larger, vision frozen',
              'small-trainable': 'smaller, vision trained'}
_MARKERS = ('o', 's', '^')

PAPER = {
    'shift': 'Fine-tuning on question-answer items made from videos helped on the test set '
             'whose videos resembled the fine-tuning videos and not on the one far from them; '
             'the Wasserstein-1 distance between the data sets\' embeddings explained the '
             'difference.',
    'vision': 'Training the vision encoder too made the model adapt to the fine-tuning data '
              'faster, but it did not generalise better than keeping the encoder frozen.',
    'sizes': 'The larger language model (13B against 7B) made little difference.',
    'strategies': 'Chain of thought and self-reflection barely helped and sometimes hurt; '
                  'self-consistency was the one strategy that could help.',
}


def write_report(plan: Plan, results: Results, out: Path, commands: Sequence[str],
                 minutes: float | None = None) -> Path:
    """Write ``experiments.md`` and its plots into ``out`` and return the report's path.

    Args:
        plan: the experiment (settings and folders).
        results: what it measured.
        out: the folder to write into (created if missing).
        commands: the commands of every step, in order.
        minutes: how long the steps took, from the experiment's start to its newest result.
    """
    out.mkdir(parents=True, exist_ok=True)
    plot_shift(results, out / SHIFT_PNG)
    plot_accuracy(results, out / ACCURACY_PNG)
    plot_curves(results, out / CURVES_PNG)
    plot_strategies(results, out / STRATEGIES_PNG)
    text = '\n'.join(render_markdown(plan, results, commands, minutes)) + '\n'
    path = out / REPORT_NAME
    with atomic_path(path) as temp:
        temp.write_text(text, encoding='utf-8')
    return path


def render_markdown(plan: Plan, results: Results, commands: Sequence[str],
                    minutes: float | None) -> list[str]:
    """The report's lines."""
    c = plan.config
    took = (f'; its steps took {minutes:.0f} minutes from the first to the last result'
            if minutes else '')
    lines = [
        '# The paper\'s experiments on the synthetic tabletop world', '',
        f'Written by `vlm-planner experiment` (vlm_planner {__version__}) on '
        f'{datetime.date.today().isoformat()}{took} (on {os.cpu_count()} CPU cores with '
        f'{_devices()}); rerun it to reproduce every number and plot here (the commands are at '
        'the end). The questions are those of Akiyama et al. '
        '2024, *Open-loop VLM Robot Planning: An Investigation of Fine-tuning and Prompt '
        'Engineering Strategies*; the models here are Qwen2.5-VL architectures trained from '
        'scratch on generated episodes, so the numbers answer the questions for this world, not '
        'for the paper\'s 7B models.', '',
        '| setting | value |', '|---|---|',
        f'| training domain | {c.episodes} episodes of bin and table goals, {c.width} x '
        f'{c.height} frames (80 % train, 10 % validation, 10 % test), seed {c.seed} |',
        f'| shifted domains | {c.shifted_episodes} episodes each |',
        f'| models | larger: {c.base_model or c.base_size}, smaller: '
        f'{c.small_model or c.small_size} (language model WIDTHxLAYERS), vision tower '
        f'{c.vision_size}, frames up to {c.max_pixels} pixels |',
        f'| fine-tuning | {c.steps} steps of {c.batch_size} items, lr {c.lr:g}, loss on the whole '
        f'action text{", LoRA" if c.lora else ""}; validation every {c.eval_every} steps on '
        f'{c.val_limit} points |',
        f'| evaluation | up to {c.limit} decision points per domain and system, four same-task '
        'candidates (chance 25 %) |',
        f'| distances | {c.samples} items per data set, {c.bootstrap} bootstrap rounds |', '',
        'Accuracies carry Wilson 95 % intervals; paired comparisons are exact McNemar tests on '
        'the decision points both systems answered, Holm-corrected within each table (p_holm); '
        'distances carry bootstrap 95 % intervals.', '',
    ]
    lines += _shift_section(results)
    lines += _vision_section(results)
    lines += _sizes_section(plan, results)
    lines += _strategies_section(results)
    lines += _control_section(results)
    lines += ['## Reproduce', '', 'The experiment ran these commands (logs in OUT/logs):', '',
              '```sh', *commands, '```', '',
              '## Flags of `vlm-planner experiment`', '',
              '`vlm-planner experiment --out DIR [--docs DIR] [--quiet]` and these (`make '
              'experiments` runs it with the defaults into build/experiment and docs/). On a '
              'GPU, scale up with more `--episodes` and `--steps`, larger `--base-size`, or '
              'real checkpoints as `--base-model`/`--small-model` with `--lora` and a smaller '
              '`--lr`.', '', flags_table(ExperimentConfig), '']
    return lines


def _shift_section(results: Results) -> list[str]:
    header = ['domain', 'how it differs', 'visual W1', 'text W1',
              *(f'{_RUN_LABEL[r.key]}' for r in RUNS)]
    rows = []
    for domain in DOMAINS:
        rows.append([domain.title, domain.shift,
                     *(_distance(results, m, domain.key) for m in MODALITIES),
                     *(_acc(results.domains[r.key][domain.key]) for r in RUNS)])
    rho = {m: _rank_correlation(results, m) for m in MODALITIES}
    main = MAIN_RUN.key
    changes = ', '.join(f'{_points(-results.drop(main, d.key))} on the {d.title}'
                        for d in DOMAINS[1:])
    grows = [m for m in MODALITIES if (rho[m] or 0.0) >= RHO_AGREES]
    verdict = ('**Agrees with the paper**: the accuracy lost grows with the '
               f'{" and the ".join(grows)} distance' if grows else
               '**Does not show the paper\'s finding**: the accuracy lost does not grow with '
               'either distance')
    rho_text = ', '.join(f'{m} {_rho(rho[m])}' for m in MODALITIES)
    farthest = '; '.join(_farthest(results, m) for m in MODALITIES)
    farthest = farthest[0].upper() + farthest[1:]
    return [
        '## 1. Fine-tuning data against test environment', '',
        f'*The paper*: {PAPER["shift"]}', '',
        'Every model was fine-tuned on the training domain only and tested on its held-out '
        'test split and on three shifted domains. W1 is the Wasserstein-1 distance from the '
        'training split to each test domain (visual: one random frame per item through the '
        'trained larger model\'s vision tower unless the command named another embedder; text: '
        'the goal through its token embeddings).', '',
        *_table(header, rows), '',
        f'![accuracy lost against distance]({SHIFT_PNG})', '',
        f'![accuracy per domain]({ACCURACY_PNG})', '',
        f'*Here*: against its own test split, the accuracy of the larger model with a trained '
        f'vision encoder changed by {changes}. {farthest}. Spearman rank correlation of the '
        f'accuracy lost with the distance, over all runs and shifted domains: {rho_text}. '
        f'{verdict} (rule: '
        f'agrees when a rank correlation is at least {RHO_AGREES}; with three shifted domains '
        'this is a direction, not a test).', '',
    ]


def _vision_section(results: Results) -> list[str]:
    trained, frozen = 'base-trainable', 'base-frozen'
    rows, unseen = _pair_rows(results, trained, frozen)
    early = {k: _early_mean(results, k) for k in (trained, frozen)}
    faster = (early[trained] or 0.0) > (early[frozen] or 0.0)
    better_unseen = unseen is not None and unseen.significant and \
        _difference(unseen, trained) > 0
    verdict = ('**Agrees with the paper**' if faster and not better_unseen else
               '**Differs from the paper**')
    return [
        '## 2. Vision encoder frozen against trainable', '',
        f'*The paper*: {PAPER["vision"]}', '',
        'The larger model fine-tuned twice from the same initial weights and data, once with '
        'its vision encoder trained and once frozen (the projector into the language model '
        'trains in both).', '',
        f'![learning curves]({CURVES_PNG})', '',
        *_table(['domain', _RUN_LABEL[trained], _RUN_LABEL[frozen], 'difference', 'p_holm'],
                rows), '',
        f'*Here*: mean validation accuracy over the first half of training '
        f'{_pct(early[trained])} with the encoder trained against {_pct(early[frozen])} frozen '
        f'({"faster" if faster else "not faster"}); on the unseen look the trained encoder was '
        f'{"significantly better" if better_unseen else "not significantly better"}. {verdict} '
        '(rule: agrees when the trained encoder learns faster and is not significantly better '
        'on the unseen look).', '',
    ]


def _sizes_section(plan: Plan, results: Results) -> list[str]:
    large, small = 'base-trainable', 'small-trainable'
    rows, _ = _pair_rows(results, large, small)
    tests = [_find(results.run_tests[d.key], large, small) for d in DOMAINS]
    differ = [d.title for d, t in zip(DOMAINS, tests) if t is not None and t.significant]
    verdict = ('**Agrees with the paper**: no significant difference on any domain' if not differ
               else f'**Differs from the paper**: significant differences on '
               f'{", ".join(differ)}')
    c = plan.config
    return [
        '## 3. Two model sizes', '',
        f'*The paper*: {PAPER["sizes"]}', '',
        f'The same recipe with a smaller language model ({c.small_model or c.small_size} '
        f'against {c.base_model or c.base_size}), both with the vision encoder trained.', '',
        *_table(['domain', _RUN_LABEL[large], _RUN_LABEL[small], 'difference', 'p_holm'], rows),
        '', f'*Here*: {verdict} (rule: agrees when no domain shows a significant difference).',
        '',
    ]


def _strategies_section(results: Results) -> list[str]:
    rows = []
    for name in STRATEGIES:
        row = [name]
        for kind in ('trained', 'untrained'):
            accuracy = results.strategies.get(kind, {}).get(name)
            test = _find(results.strategy_tests.get(kind, []), name, 'base')
            row += [_acc(accuracy) if accuracy else 'n/a',
                    '' if name == 'base' or test is None
                    else f'{_points(_difference(test, name))}, p_holm {test.p_holm:.3f}']
        rows.append(row)
    trained = results.strategy_tests.get('trained', [])
    helped = [n for n in STRATEGIES[1:] if _significant_gain(trained, n)]
    hurt = [n for n in STRATEGIES[1:] if _significant_loss(trained, n)]
    reasoning_helped = [n for n in helped if n in ('cot', 'reflect')]
    verdict = ('**Differs from the paper**: ' + ', '.join(reasoning_helped) + ' helped'
               if reasoning_helped else '**Agrees with the paper**: chain of thought and '
               'self-reflection did not help')
    said = (f'significantly better than base: {", ".join(helped) or "none"}; significantly '
            f'worse: {", ".join(hurt) or "none"}')
    return [
        '## 4. Prompting strategies', '',
        f'*The paper*: {PAPER["strategies"]}', '',
        'The four strategies on the training domain\'s test split, with the trained larger '
        'model and with the same model before training (its random weights). Both are asked '
        'as the trained model is (likelihood scoring, current frame).', '',
        *_table(['strategy', 'trained', 'trained vs base', 'untrained', 'untrained vs base'],
                rows), '',
        f'![strategies]({STRATEGIES_PNG})', '',
        f'*Here*, trained model: {said}. {verdict} (rule: agrees when neither chain of thought '
        'nor self-reflection is significantly better than base). A model trained on action '
        'texts alone has never seen reasoning, so the generating strategies ask it for '
        'something new; the untrained model shows the floor.', '',
    ]


def _control_section(results: Results) -> list[str]:
    rows, looking = [], []
    for run in RUNS:
        real = results.domains[run.key][DOMAINS[0].key]
        blank = results.blank[run.key]
        gain = real.accuracy - blank.accuracy
        rows.append([_RUN_LABEL[run.key], _acc(real), _acc(blank), _points(gain)])
        if blank.high < real.low:  # the intervals do not overlap
            looking.append(_RUN_LABEL[run.key])
    said = (f'the camera adds clearly to what the goal text gives for: {", ".join(looking)}'
            if looking else 'no run gains clearly from the camera')
    return [
        '## 5. Do the trained models look at the camera?', '',
        'The control for every number above: the same test split with every frame replaced by '
        'a blank one. What a model gets right then comes from the goal text alone. A model that '
        'does not look is unaffected by a shift in look, so the look-shift and vision-encoder '
        'results above say something about looking only for the runs that do.', '',
        *_table(['run', 'real frames', 'blank frames', 'difference'], rows), '',
        f'*Here*: {said} (rule: the 95 % intervals of real and blank frames do not overlap).',
        '',
    ]


def plot_shift(results: Results, path: Path) -> Path:
    """Accuracy lost against the visual and the text distance, one point per run and domain."""
    fig = figure(10, 4)
    for ax, modality in zip(fig.subplots(1, 2), MODALITIES):
        for run, marker in zip(RUNS, _MARKERS):
            xs = [results.distances[modality][d.key].w1 for d in DOMAINS]
            ys = [100 * results.drop(run.key, d.key) for d in DOMAINS]
            ax.plot(xs, ys, marker, label=_RUN_LABEL[run.key], alpha=0.8)
        for domain in DOMAINS:
            estimate = results.distances[modality][domain.key]
            ax.annotate(domain.title, (estimate.w1, 100 * results.drop(MAIN_RUN.key, domain.key)),
                        textcoords='offset points', xytext=(4, 4), fontsize=8)
        ax.axhline(0, color='grey', lw=0.8, ls='--')
        ax.set(xlabel=f'{modality} W1 from the training split',
               ylabel='accuracy lost (points)', title=f'{modality} distance')
    fig.axes[0].legend(fontsize=8)
    return save_png(fig, path)


def plot_accuracy(results: Results, path: Path) -> Path:
    """Accuracy per test domain and run, with 95 % intervals and chance."""
    fig = figure(9, 4)
    ax = fig.subplots()
    width = 0.8 / len(RUNS)
    for i, run in enumerate(RUNS):
        values = [results.domains[run.key][d.key] for d in DOMAINS]
        _bars(ax, np.arange(len(DOMAINS)) + (i - (len(RUNS) - 1) / 2) * width, values, width,
              _RUN_LABEL[run.key])
    chance = results.domains[MAIN_RUN.key][DOMAINS[0].key].chance
    ax.axhline(100 * chance, color='grey', ls='--', lw=1, label='chance')
    ax.set_xticks(range(len(DOMAINS)), [d.title for d in DOMAINS])
    ax.set(ylabel='accuracy (%)', ylim=(0, 100), title='accuracy per test domain')
    ax.legend(fontsize=8)
    return save_png(fig, path)


def plot_curves(results: Results, path: Path) -> Path:
    """Validation accuracy and smoothed training loss of every run against the step."""
    fig = figure(11, 4)
    accuracy_ax, loss_ax = fig.subplots(1, 2)
    for run in RUNS:
        curve = results.curves[run.key]
        if curve.val:
            steps, values = zip(*curve.val)
            accuracy_ax.plot(steps, [100 * v for v in values], 'o-', label=_RUN_LABEL[run.key])
        if curve.loss:
            steps, losses = zip(*curve.loss)
            loss_ax.plot(steps, smoothed(losses), label=_RUN_LABEL[run.key])
    chance = results.curves[MAIN_RUN.key].chance
    if chance is not None:
        accuracy_ax.axhline(100 * chance, color='grey', ls='--', lw=1, label='chance')
    accuracy_ax.set(xlabel='optimizer step', ylabel='validation accuracy (%)', ylim=(0, 100),
                    title='validation accuracy')
    loss_ax.set(xlabel='optimizer step', ylabel='loss per reply token (smoothed)',
                yscale='log', title='training loss')
    accuracy_ax.legend(fontsize=8)
    loss_ax.legend(fontsize=8)
    return save_png(fig, path)


def plot_strategies(results: Results, path: Path) -> Path:
    """Accuracy of each strategy, trained and untrained model, with 95 % intervals."""
    fig = figure(8, 4)
    ax = fig.subplots()
    kinds = ('trained', 'untrained')
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        present = [s for s in STRATEGIES if s in results.strategies.get(kind, {})]
        _bars(ax, np.array([STRATEGIES.index(s) for s in present]) + (i - 0.5) * width,
              [results.strategies[kind][s] for s in present], width, f'{kind} model')
    ax.axhline(25, color='grey', ls='--', lw=1, label='chance')
    ax.set_xticks(range(len(STRATEGIES)), STRATEGIES)
    ax.set(ylabel='accuracy (%)', ylim=(0, 100), title='prompting strategies, training domain')
    ax.legend(fontsize=8)
    return save_png(fig, path)


def _bars(ax: object, xs: np.ndarray, values: Sequence[Accuracy], width: float,
          label: str) -> None:
    heights = np.array([100 * v.accuracy for v in values])
    errors = np.array([[100 * (v.accuracy - v.low) for v in values],
                       [100 * (v.high - v.accuracy) for v in values]])
    ax.bar(xs, heights, width, yerr=errors, capsize=3, label=label)  # type: ignore[attr-defined]


def _pair_rows(results: Results, a: str, b: str) -> tuple[list[list[str]], Comparison | None]:
    """Rows comparing runs ``a`` and ``b`` on each domain, and their test on the unseen look."""
    rows, unseen = [], None
    for domain in DOMAINS:
        test = _find(results.run_tests[domain.key], a, b)
        if domain.key == 'unseen-look':
            unseen = test
        rows.append([domain.title, _acc(results.domains[a][domain.key]),
                     _acc(results.domains[b][domain.key]),
                     _points(results.domains[a][domain.key].accuracy
                             - results.domains[b][domain.key].accuracy),
                     '' if test is None else f'{test.p_holm:.3f}'])
    return rows, unseen


def _find(tests: Sequence[Comparison], a: str, b: str) -> Comparison | None:
    return next((t for t in tests if {t.a, t.b} == {a, b}), None)


def _difference(test: Comparison, first: str) -> float:
    """Accuracy of ``first`` minus the other system's, in the test's pairing."""
    return test.difference if test.a == first else -test.difference


def _significant_gain(tests: Sequence[Comparison], name: str) -> bool:
    test = _find(tests, name, 'base')
    return test is not None and test.significant and _difference(test, name) > 0


def _significant_loss(tests: Sequence[Comparison], name: str) -> bool:
    test = _find(tests, name, 'base')
    return test is not None and test.significant and _difference(test, name) < 0


def _devices() -> str:
    """The accelerators torch sees, in words (the report says what the numbers ran on)."""
    import torch
    if torch.cuda.is_available():
        return f'{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}'
    return 'no GPU'


def _farthest(results: Results, modality: str) -> str:
    """The shifted domain farthest from the training data in ``modality``, and what it lost."""
    domain = max(DOMAINS[1:], key=lambda d: results.distances[modality][d.key].w1)
    return (f'farthest in {modality} distance: the {domain.title} (W1 '
            f'{results.distances[modality][domain.key].w1:.3g}), which lost '
            f'{100 * results.drop(MAIN_RUN.key, domain.key):.1f} points')


def _rank_correlation(results: Results, modality: str) -> float | None:
    """Spearman correlation of accuracy lost with distance, over runs and shifted domains."""
    from scipy.stats import spearmanr  # type: ignore[import-untyped]  # no stubs installed
    xs = [results.distances[modality][d.key].w1 for r in RUNS for d in DOMAINS[1:]]
    ys = [results.drop(r.key, d.key) for r in RUNS for d in DOMAINS[1:]]
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    rho = float(spearmanr(xs, ys).statistic)
    return None if math.isnan(rho) else rho


def _early_mean(results: Results, run: str) -> float | None:
    """Mean validation accuracy over the first half of a run's steps (step 0 excluded)."""
    curve = results.curves[run]
    if not curve.val:
        return None
    half = max(step for step, _ in curve.val) / 2
    early = [value for step, value in curve.val if 0 < step <= half]
    return float(np.mean(early)) if early else None


def _distance(results: Results, modality: str, domain: str) -> str:
    d = results.distances[modality][domain]
    if d.low is None or d.high is None:
        return f'{d.w1:.3g}'
    return f'{d.w1:.3g} [{d.low:.3g}, {d.high:.3g}]'


def _acc(value: Accuracy) -> str:
    return f'{value.accuracy:.1%} [{value.low:.1%}, {value.high:.1%}] (n={value.n})'


def _pct(value: float | None) -> str:
    return 'n/a' if value is None else f'{value:.1%}'


def _points(value: float) -> str:
    return f'{100 * value:+.1f} points'


def _rho(value: float | None) -> str:
    return 'undefined (no spread)' if value is None else f'ρ = {value:.2f}'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header),
            *('| ' + ' | '.join(row) + ' |' for row in rows)]
