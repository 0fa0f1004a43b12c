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

"""Evaluate a trained demo model and ship it: the last step of ``make demo-model``.

Usage: ``python scripts/ship_demo_model.py WORK`` where ``WORK`` holds ``episodes/`` (from
``vlm-planner generate``) and ``run/`` (from ``vlm-planner finetune``). It

1. evaluates ``run`` (base strategy, as its model card says it is best asked) on the held-out
   test split, the out-of-domain split, the test split with the whole action library as
   candidates, and the blank-frame control, into ``WORK/eval`` (resumable);
2. runs closed-loop episodes through the real nodes (``vlm-planner demo --episodes``), as
   shipped (a failed action is not chosen again until one succeeds) and once more without that
   feedback (every action succeeds on the mock arm, failed ones are not avoided);
3. copies the model into ``vlm_planner/resources/demo_model`` with its learning curves, and
   writes the accuracies, chance levels and closed-loop rate into its model card.

It refuses to ship a model that does not look: one whose accuracy on blank frames is not at
least :data:`MIN_VISION_GAIN` points below its accuracy on the real frames (the blank-frame
control must fall towards chance), since such a model plans from the goal text alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
import shutil
import sys

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / 'vlm_planner' / 'resources' / 'demo_model'
#: The files of a model folder that ship (no checkpoints, no training items).
MODEL_FILES = ('config.json', 'generation_config.json', 'model.safetensors',
               'processor_config.json', 'tokenizer.json', 'tokenizer_config.json',
               'chat_template.jinja', 'prompt.yaml', 'vlm_planner.json')
SPLITS = {'test': 'test', 'ood': 'ood', 'test-all-actions': 'test-all-actions'}
#: Accuracy points that real frames must add over blank frames on the test split.
MIN_VISION_GAIN = 10.0


def accuracies(results: Path) -> dict[str, dict[str, float]]:
    """Accuracy and item count per (model, data set) of a results.jsonl file."""
    table: dict[str, dict[str, list[bool]]] = {}
    for line in results.read_text().splitlines():
        record = json.loads(line)
        table.setdefault(record['model'], {}).setdefault(record['dataset'], []).append(
            bool(record['correct']))
    return {model: {name: round(100.0 * sum(v) / len(v), 1) for name, v in sets.items()}
            for model, sets in table.items()}


def closed_loop_summary(results: list, first_seed: int) -> dict:
    """Episodes, goals reached and reached / run per family, for the model card."""
    families = dict.fromkeys(r.family for r in results)
    return {'episodes': len(results), 'reached': sum(r.reached for r in results),
            'first_seed': first_seed,
            'per_family': {f: [sum(r.reached for r in results if r.family == f),
                               sum(1 for r in results if r.family == f)] for f in families}}


def main(argv: list[str] | None = None) -> int:
    """Evaluate, run the closed loop, and ship the model of ``WORK/run``."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work', type=Path)
    parser.add_argument('--episodes', type=int, default=50, help='closed-loop episodes')
    parser.add_argument('--seed', type=int, default=1000, help='first closed-loop layout seed')
    args = parser.parse_args(argv)
    from vlm_planner.cli import main as cli
    from vlm_planner.models.model_card import read_model_card, write_model_card
    from vlm_planner.ros.closed_loop import run_episodes

    run, data, out = args.work / 'run', args.work / 'episodes', args.work / 'eval'
    folders = [str(data / split) for split in SPLITS]
    common = ['--model', str(run), '--out', str(out), '--quiet']
    if cli(['eval', '--data', *folders, *common]) != 0:
        return 1
    if cli(['eval', '--data', str(data / 'test'), '--blank-frames', *common]) != 0:
        return 1
    scores = accuracies(out / 'results.jsonl')
    trained, = (m for m in scores if not m.endswith('+blank-frames'))
    blank, = (m for m in scores if m.endswith('+blank-frames'))
    print(json.dumps({'accuracy_percent': scores[trained], 'blank_frames': scores[blank]}))
    gain = scores[trained]['test'] - scores[blank]['test']
    if gain < MIN_VISION_GAIN:
        print(f'not shipped: real frames add {gain:.1f} accuracy points over blank frames on the '
              f'test split (at least {MIN_VISION_GAIN} needed); the model plans from the goal '
              'text alone. Train longer or differently (docs/training.md).', file=sys.stderr)
        return 1

    overrides = {'model.backend': 'transformers', 'model.path': str(run),
                 'execution_time': 0.2}
    loops = {}
    for name, feedback in (('closed_loop', True), ('closed_loop_without_feedback', False)):
        results = run_episodes(None, args.episodes, args.seed, overrides={
            **overrides, 'scene_feedback': feedback, 'avoid_failed_actions': feedback})
        loops[name] = closed_loop_summary(results, args.seed)
        print(f'{name}: goal reached in {loops[name]["reached"]} of {len(results)} episodes')

    TARGET.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        if (run / name).is_file():
            shutil.copy2(run / name, TARGET / name)
    shutil.copy2(run / 'training' / 'learning_curves.png', REPO / 'docs' / 'demo_model_curves.png')
    card = read_model_card(run)
    details = dict(card.details)
    details['evaluation'] = {
        'accuracy_percent': scores[trained],
        'blank_frames_accuracy_percent': scores[blank],
        'chance_percent': {'test': 25.0, 'ood': 25.0, 'test-all-actions': 12.5},
        **loops,
        'command': 'make demo-model',
    }
    write_model_card(TARGET, dataclasses.replace(card, details=details))
    print(json.dumps(details['evaluation'], indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
