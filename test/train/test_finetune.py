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

"""vlm-planner finetune end to end on tiny models: it learns, resumes, and its output plans."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from safetensors.torch import load_file
import torch

from test.train.colour_data import COLOURS, GOAL
from vlm_planner.cli import main
from vlm_planner.data.episodes import load_dataset
from vlm_planner.errors import ConfigError
from vlm_planner.models.hf import TransformersBackend
from vlm_planner.models.model_card import read_model_card
from vlm_planner.models.tiny import ensure_tiny_model, SUPPORTED_ARCHS
from vlm_planner.train.config import FinetuneConfig
from vlm_planner.train.trainer import finetune, FinetuneJob

#: Planner parameters of every run here: short prompts (the current frame and one keyframe).
SMALL = ['-p', 'keyframes.max_count:=1']


def finetune_cli(colour_data, out, *flags, val=True):
    argv = ['finetune', '--data', str(colour_data['train']), '--model', 'tiny', '--out',
            str(out), '--quiet', *SMALL, *flags]
    if val:
        argv[3:3] = ['--val', str(colour_data['val'])]
    return main(argv)


def metrics(out):
    lines = (Path(out) / 'training' / 'metrics.jsonl').read_text().splitlines()
    return [json.loads(line) for line in lines]


def eval_cli(data, model, out):
    """Evaluate ``model`` as its card recommends (scoring, prompt, keyframes): no -p given."""
    assert main(['eval', '--data', str(data), '--model', str(model), '--out', str(out),
                 '--quiet']) == 0
    return [json.loads(line) for line in (Path(out) / 'results.jsonl').read_text().splitlines()]


def test_a_short_run_learns_the_colour_task_and_eval_agrees(colour_data, tmp_path):
    out = tmp_path / 'model'
    assert finetune_cli(colour_data, out, '--steps', '80', '--batch-size', '4', '--lr', '3e-3',
                        '--eval-every', '20') == 0

    lines = metrics(out)
    losses = [r['loss'] for r in lines if r['kind'] == 'train']
    first, *_, final = [r for r in lines if r['kind'] == 'val']
    assert len(losses) == 80 and np.mean(losses[-5:]) < 0.1 * np.mean(losses[:5])
    assert final['chance'] == 0.25 and final['items'] == 12
    # Blind guessing stays at 0.25 on these balanced items; the untrained model is at chance.
    assert first['step'] == 0 and first['accuracy'] <= 0.5
    assert final['step'] == 80 and final['accuracy'] >= 0.75
    card = read_model_card(out)
    assert not card.untrained and card.details['final_val_accuracy'] == final['accuracy']
    assert card.recommended == {'strategy.scoring': 'likelihood', 'prompt_file': 'prompt.yaml',
                                'keyframes.max_count': 1}
    assert (out / 'training' / 'learning_curves.png').stat().st_size > 1000
    # The saved folder decides as the model did during training, through the evaluator.
    records = eval_cli(colour_data['val'], out, tmp_path / 'eval')
    assert np.mean([r['correct'] for r in records]) == final['accuracy']


def run_job(colour_data, out, lora=False, on_step=None, **fields):
    config = FinetuneConfig(**{'steps': 6, 'batch_size': 2, 'grad_accum': 2, 'save_every': 2,
                               'eval_every': 3, 'val_limit': 4, 'lr': 1e-3, 'lora': lora,
                               'lora_dropout': 0.1, **fields})
    job = FinetuneJob(train=[load_dataset(colour_data['train'])], model='tiny', out=out,
                      config=config, val=[load_dataset(colour_data['val'])],
                      overrides={'keyframes.max_count': 1})
    return finetune(job, progress=False, on_step=on_step)


def weights(out):
    return load_file(Path(out) / 'model.safetensors')


@pytest.mark.parametrize('lora', [False, True])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(
        colour_data, tmp_path, lora):
    whole = run_job(colour_data, tmp_path / 'whole', lora)

    def kill(step):
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(colour_data, tmp_path / 'killed', lora, on_step=kill)
    assert not (tmp_path / 'killed' / 'model.safetensors').exists()
    resumed = run_job(colour_data, tmp_path / 'killed', lora)

    assert (whole.steps, resumed.steps, resumed.resumed_from) == (6, 6, 4)
    expected, got = weights(tmp_path / 'whole'), weights(tmp_path / 'killed')
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[name], got[name]) for name in expected)
    assert metrics(tmp_path / 'killed') == metrics(tmp_path / 'whole')
    assert resumed.val_accuracy == whole.val_accuracy


def test_accumulated_passes_train_as_one_batch(colour_data, tmp_path):
    run_job(colour_data, tmp_path / 'batch', batch_size=2, grad_accum=1, steps=2, eval_every=0)
    run_job(colour_data, tmp_path / 'accumulated', batch_size=1, grad_accum=2, steps=2,
            eval_every=0)

    expected, got = weights(tmp_path / 'batch'), weights(tmp_path / 'accumulated')
    assert all(torch.allclose(expected[name], got[name], atol=1e-4) for name in expected)
    losses = [[r['loss'] for r in metrics(tmp_path / name) if r['kind'] == 'train']
              for name in ('batch', 'accumulated')]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_a_changed_command_is_refused_and_a_finished_one_returns(colour_data, tmp_path):
    out = tmp_path / 'run'
    run_job(colour_data, out, steps=2, eval_every=0)

    with pytest.raises(ConfigError, match=r"--lr: 0\.001 before, 0\.002 now\)"):
        run_job(colour_data, out, steps=2, eval_every=0, lr=2e-3)
    again = run_job(colour_data, out, steps=2, eval_every=0)
    assert again.already_finished and again.steps == 2


def test_a_run_without_a_checkpoint_starts_over_under_a_changed_command(colour_data, tmp_path):
    def kill(step):
        raise KeyboardInterrupt

    out = tmp_path / 'run'
    with pytest.raises(KeyboardInterrupt):
        run_job(colour_data, out, steps=3, eval_every=0, save_every=0, on_step=kill)
    result = run_job(colour_data, out, steps=2, eval_every=0, lr=2e-3)

    assert (result.steps, result.resumed_from) == (2, 0)
    assert json.loads((out / 'training' / 'run.json').read_text())['command']['--lr'] == 2e-3


def test_lora_adapter_round_trips_through_plan_and_eval(colour_data, tmp_path, capsys):
    out = tmp_path / 'adapter'
    assert finetune_cli(colour_data, out, '--lora', '--save-adapter', '--lora-rank', '4',
                        '--steps', '4', '--batch-size', '2', '--lr', '5e-3') == 0

    config = json.loads((out / 'adapter_config.json').read_text())
    assert Path(config['base_model_name_or_path']) == ensure_tiny_model().resolve()
    assert not (out / 'model.safetensors').exists() and (out / 'tokenizer.json').is_file()
    final = [r for r in metrics(out) if r['kind'] == 'val'][-1]
    trained = [json.loads(line) for line in
               (out / 'training' / 'val_results.jsonl').read_text().splitlines()]
    records = eval_cli(colour_data['val'], out, tmp_path / 'eval')
    assert [r['item_id'] for r in records] == [r['item_id'] for r in trained]
    for during, after in zip(trained, records):
        assert after['scores'] == pytest.approx(during['scores'], abs=1e-4)
        assert after['model'] == 'adapter'
    assert np.mean([r['correct'] for r in records]) == final['accuracy']

    frames = tmp_path / 'frames'
    frames.mkdir()
    for i in range(2):
        image = np.full((56, 56, 3), COLOURS['blue'], np.uint8)
        cv2.imwrite(str(frames / f'{i}.png'), image[..., ::-1])
    capsys.readouterr()
    assert main(['plan', '--frames', str(frames), '--goal', GOAL, '--model', str(out)]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision['model'] == 'adapter' and not decision['untrained']
    assert decision['action'] in decision['candidates'] and len(decision['candidates']) == 8
    assert decision['answer_method'] == 'scored' and len(decision['scores']) == 8

    # Training goes on from the adapter (on its merged weights), all weights now.
    again = tmp_path / 'again'
    assert main(['finetune', '--data', str(colour_data['train']), '--model', str(out), '--out',
                 str(again), '--quiet', *SMALL, '--steps', '1', '--batch-size', '2']) == 0
    assert read_model_card(again).details['base_model'] == str(out.resolve())
    assert (again / 'model.safetensors').is_file()


@pytest.mark.parametrize('arch', SUPPORTED_ARCHS)
@pytest.mark.parametrize('lora', [False, True])
def test_every_architecture_trains_a_step_full_or_lora(colour_data, tmp_path, arch, lora):
    out = tmp_path / 'model'
    flags = ['--lora', '--lora-rank', '2'] if lora else []
    assert finetune_cli(colour_data, out, '--steps', '1', '--batch-size', '2', '--lr', '1e-2',
                        '-p', f'model.tiny_arch:={arch}', *flags, val=False) == 0

    base, tuned = weights(ensure_tiny_model(arch=arch)), weights(out)
    assert base.keys() == tuned.keys()
    changed = {name for name in base if not torch.equal(base[name], tuned[name])}
    vision = {name for name in base
              if {'visual', 'vision_tower', 'vision_model'} & set(name.split('.'))
              and not {'merger', 'deepstack_merger_list'} & set(name.split('.'))}
    assert vision and not changed & vision  # the vision encoder stays frozen
    language = {name for name in changed if 'q_proj' in name or 'down_proj' in name}
    assert language  # the language model trained
    if lora:
        assert changed <= {n for n in base if n.endswith('proj.weight')}
    backend = TransformersBackend(path=out, device='cpu')
    assert not backend.untrained and backend.card.details['steps'] == 1


@pytest.mark.parametrize('flags, words', [
    (['--data', 'missing.yaml', '--model', 'tiny'], 'missing.yaml does not exist'),
    (['--data', 'TRAIN', '--model', 'no/such/folder'], 'does not exist'),
    (['--data', 'TRAIN', '--model', 'openai:http://localhost:9/v1'], 'trains local weights'),
    (['--data', 'TRAIN', '--model', 'tiny', '-p', 'strategy.scoring:=letter'],
     "strategy.scoring 'likelihood'"),
    (['--data', 'TRAIN', '--model', 'tiny', '--target', 'letter', '-p',
      'strategy.scoring:=likelihood'], "strategy.scoring 'letter'"),
    (['--data', 'TRAIN', '--model', 'tiny', '-p', 'keyframes.max_cont:=2'],
     'unknown parameters'),
    (['--data', 'TRAIN', '--model', 'tiny', '--describe-scene'],
     'no training decision point has a scene description'),
])
def test_errors_say_what_to_do(colour_data, tmp_path, capsys, flags, words):
    flags = [str(colour_data['train']) if f == 'TRAIN' else f for f in flags]
    assert main(['finetune', *flags, '--out', str(tmp_path / 'o'), '--quiet']) == 2
    assert words in capsys.readouterr().err


def test_an_output_folder_with_other_files_is_refused(colour_data, tmp_path, capsys):
    (tmp_path / 'o').mkdir()
    (tmp_path / 'o' / 'notes.txt').write_text('mine')
    assert finetune_cli(colour_data, tmp_path / 'o', '--steps', '1', val=False) == 2
    assert 'not empty' in capsys.readouterr().err


def test_describe_scene_teaches_the_model_to_say_what_the_frame_shows(colour_data, tmp_path):
    from test.train.colour_data import ACTIONS, scene_of
    from vlm_planner.core.keyframes import KeyframeConfig
    from vlm_planner.core.prompts import PromptTemplate
    from vlm_planner.core.strategies import StrategyConfig
    from vlm_planner.train.items import Prompter, without_options

    out = tmp_path / 'model'
    assert main(['finetune', '--data', str(colour_data['scenes']), '--val',
                 str(colour_data['val_scenes']), '--model', 'tiny', '--out', str(out),
                 '--quiet', *SMALL, '--describe-scene', '--steps', '100', '--batch-size', '4',
                 '--lr', '3e-3']) == 0

    card = read_model_card(out)
    assert card.details['finetune']['describe_scene']
    assert 'scene descriptions as an auxiliary target' in card.trained_on
    assert card.details['final_val_accuracy'] >= 0.75  # it still learnt to plan
    # Asked to describe a held-out frame, it prefers the right description of four.
    backend = TransformersBackend(path=out, device='cpu')
    prompter = Prompter(StrategyConfig(), without_options(PromptTemplate.default()))
    colours = sorted(COLOURS)
    right = []
    for item in load_dataset(colour_data['val_scenes']).items(KeyframeConfig(max_count=1)):
        messages = prompter.training_item(item, 'scene').messages
        scores = backend.score_continuations(messages, [scene_of(c) for c in colours])
        right.append(ACTIONS[colours[int(np.argmax(scores))]]
                     == item.candidates[item.answer].label)
    assert len(right) == 12 and np.mean(right) >= 0.75
