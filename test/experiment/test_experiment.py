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

"""``vlm-planner experiment``: the plan, the runner, the report's rules, and one whole run."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from vlm_planner import cli
from vlm_planner.errors import ConfigError
from vlm_planner.eval.metrics import Comparison
from vlm_planner.experiment import report
from vlm_planner.experiment.config import ExperimentConfig
from vlm_planner.experiment.plan import (DOMAINS, make_plan, NEW_FAMILIES, RUNS, STRATEGIES,
                                         TRAIN_FAMILIES)
from vlm_planner.experiment.results import Accuracy, collect, Curve, Distance, Results
from vlm_planner.experiment.runner import ExperimentError, prepare, run_steps

#: A minutes-sized experiment: a handful of small episodes and models, a few steps.
QUICK = ['--episodes', '20', '--shifted-episodes', '3', '--width', '64', '--height', '48',
         '--max-pixels', '3136', '--base-size', '64x2', '--small-size', '32x1',
         '--vision-size', '16x1', '--steps', '6', '--eval-every', '3', '--val-limit', '4',
         '--limit', '6', '--samples', '6', '--bootstrap', '5', '--batch-size', '2']


def quick_config(**changes) -> ExperimentConfig:
    """The :data:`QUICK` settings as a config."""
    args = cli.build_parser().parse_args(['experiment', '--out', 'unused', *QUICK])
    from vlm_planner.params import from_flags
    return dataclasses.replace(from_flags(ExperimentConfig, args), **changes)


# --- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize('field,value,message', [
    ('base_size', '128', 'WIDTHxLAYERS'),
    ('small_size', '48x2', 'multiple of 32'),
    ('vision_size', '24x2', 'multiple of 16'),
    ('episodes', 3, 'episodes'),
])
def test_bad_settings_are_refused_with_the_flag_named(field, value, message):
    with pytest.raises(ConfigError, match=message):
        quick_config(**{field: value})


def test_a_folder_refuses_other_settings_and_names_them(tmp_path):
    prepare(tmp_path, quick_config())
    prepare(tmp_path, quick_config(jobs=1))  # how many at once does not change results
    with pytest.raises(ConfigError, match=r'--steps 6 .*now 7.*new --out'):
        prepare(tmp_path, quick_config(steps=7))


# --- the plan -------------------------------------------------------------------------------

def test_every_step_is_a_valid_vlm_planner_command(tmp_path):
    plan = make_plan(tmp_path, ExperimentConfig())
    parser = cli.build_parser()
    for step in plan.steps:
        args = parser.parse_args(list(step.args))
        assert args.command == step.args[0], step.name
    names = [s.name for s in plan.steps]
    assert len(set(names)) == len(names)
    stages = [s.stage for s in plan.steps]
    assert stages == sorted(stages, key=['data', 'train', 'evaluate'].index)


def test_the_plan_trains_on_one_domain_and_tests_on_shifted_ones(tmp_path):
    plan = make_plan(tmp_path, ExperimentConfig())
    steps = {s.name: s.args for s in plan.steps}
    domain = steps['generate-domain']
    assert domain[domain.index('--families') + 1] == ','.join(TRAIN_FAMILIES)
    shifted = steps['generate-shifted']
    assert shifted[shifted.index('--look') + 1] == 'shifted'
    goals = steps['generate-new-goals']
    assert goals[goals.index('--families') + 1] == ','.join(NEW_FAMILIES)
    assert set(NEW_FAMILIES).isdisjoint(TRAIN_FAMILIES)
    assert '--train-vision' in steps['finetune-base-trainable']
    assert '--train-vision' not in steps['finetune-base-frozen']
    strategies = steps['eval-strategies-trained']
    assert strategies[strategies.index('--strategies') + 1] == ','.join(STRATEGIES)
    assert all('--blank-frames' in steps[f'eval-blank-{run.key}'] for run in RUNS)


def test_given_model_folders_replace_the_from_scratch_builds(tmp_path):
    plan = make_plan(tmp_path, ExperimentConfig(base_model='/models/qwen', lora=True))
    names = [s.name for s in plan.steps]
    assert 'make-model-base' not in names and 'make-model-small' in names
    tune = next(s.args for s in plan.steps if s.name == 'finetune-base-frozen')
    assert tune[tune.index('--model') + 1] == '/models/qwen' and '--lora' in tune


# --- the runner (with a stand-in launcher: the commands themselves are tested elsewhere) ------

def test_the_runner_skips_done_steps_and_runs_stages_in_order(tmp_path):
    plan = prepare(tmp_path, quick_config(jobs=2))
    first = plan.steps[0]
    first.done.parent.mkdir(parents=True)
    first.done.write_text('{}')
    launched = []

    def launch(step, log, env):
        launched.append(step.stage)
        assert env['OMP_NUM_THREADS'].isdigit()
        step.done.parent.mkdir(parents=True, exist_ok=True)
        step.done.write_text('done')
        return 0

    ran = run_steps(plan, progress=False, launch=launch)
    assert first not in ran and len(ran) == len(plan.steps) - 1
    assert launched == sorted(launched, key=['data', 'train', 'evaluate'].index)
    assert run_steps(plan, progress=False, launch=launch) == []


def test_a_failed_step_stops_the_run_with_the_end_of_its_log(tmp_path):
    plan = prepare(tmp_path, quick_config(jobs=1))

    def launch(step, log, env):
        log.write_text('line one\nvlm-planner generate: error: disk full\n')
        return 2

    with pytest.raises(ExperimentError) as error:
        run_steps(plan, progress=False, launch=launch)
    text = str(error.value)
    assert 'generate-domain failed (exit status 2)' in text
    assert 'disk full' in text and 'rerun the same command' in text


def test_a_step_that_exits_0_without_its_result_counts_as_failed(tmp_path):
    plan = prepare(tmp_path, quick_config(jobs=1))
    with pytest.raises(ExperimentError, match='did not write'):
        run_steps(plan, progress=False, launch=lambda step, log, env: log.write_text('') and 0)


# --- the report's rules ---------------------------------------------------------------------

def accuracy(value: float, n: int = 100) -> Accuracy:
    correct = round(value * n)
    return Accuracy(n, correct, correct / n, max(0.0, value - 0.1), min(1.0, value + 0.1), 0.25)


def comparison(a: str, b: str, difference: float, significant: bool, kind: str) -> Comparison:
    return Comparison(kind=kind, fixed='base', a=a, b=b, n=100, both_right=40, only_a=10,
                      only_b=10, both_wrong=40, accuracy_a=0.5 + difference, accuracy_b=0.5,
                      difference=difference, p_value=0.01 if significant else 0.5,
                      p_holm=0.02 if significant else 0.6, significant=significant)


def results(*, drops=(0.05, 0.1, 0.3), early=(0.6, 0.4), size_significant=False,
            cot_gain=False) -> Results:
    """Synthetic results: the larger runs lose ``drops`` on the shifted domains."""
    visual = (0.02, 0.05, 0.2, 0.03)
    text = (0.01, 0.01, 0.01, 0.3)
    domains = {run.key: {d.key: accuracy(0.8 - ([0.0] + list(drops))[i])
                         for i, d in enumerate(DOMAINS)} for run in RUNS}
    distances = {'visual': {d.key: Distance(v, v * 0.9, v * 1.1) for d, v in zip(DOMAINS, visual)},
                 'text': {d.key: Distance(t, None, None) for d, t in zip(DOMAINS, text)}}
    curves = {run.key: Curve(((0, 0.25), (50, e), (100, e), (200, 0.8)),
                             ((1, 3.0), (200, 0.1)), 0.25)
              for run, e in zip(RUNS, (*early, early[0]))}
    run_tests = {d.key: [comparison('base-trainable', 'small-trainable', 0.1, size_significant,
                                    'model'),
                         comparison('base-frozen', 'base-trainable', 0.0, False, 'model')]
                 for d in DOMAINS}
    strategies = {kind: {s: accuracy(0.6) for s in STRATEGIES}
                  for kind in ('trained', 'untrained')}
    strategy_tests = {'trained': [comparison('base', 'cot', -0.2 if cot_gain else 0.2, True,
                                             'strategy')],
                      'untrained': []}
    blank = {run.key: accuracy(0.5) for run in RUNS}
    return Results(domains, distances, curves, run_tests, blank, strategies, strategy_tests)


def markdown(tmp_path, **kwargs) -> str:
    plan = make_plan(tmp_path, ExperimentConfig())
    return '\n'.join(report.render_markdown(plan, results(**kwargs), ['vlm-planner x'], 42.0))


def section(text: str, number: int) -> str:
    return re.split(r'\n## ', text)[number]


def test_shift_agrees_when_the_loss_grows_with_the_distance(tmp_path):
    # Visual W1 of shifted look, unseen look, new goals: 0.05, 0.2, 0.03; losses in that order.
    agrees = section(markdown(tmp_path, drops=(0.1, 0.3, 0.05)), 1)
    assert '**Agrees with the paper**: the accuracy lost grows with the visual distance' in agrees
    differs = section(markdown(tmp_path, drops=(0.3, 0.05, 0.1)), 1)
    assert '**Does not show the paper\'s finding**' in differs
    assert '-30.0 points on the shifted look' in differs


def test_vision_verdict_follows_its_rule(tmp_path):
    assert '**Agrees with the paper**' in section(markdown(tmp_path, early=(0.6, 0.4)), 2)
    assert '**Differs from the paper**' in section(markdown(tmp_path, early=(0.4, 0.6)), 2)


def test_sizes_and_strategies_verdicts_follow_their_rules(tmp_path):
    assert 'no significant difference' in section(markdown(tmp_path), 3)
    differs = section(markdown(tmp_path, size_significant=True), 3)
    assert '**Differs from the paper**: significant differences on training domain' in differs
    assert '**Agrees with the paper**' in section(markdown(tmp_path), 4)
    assert 'significantly worse: cot' in section(markdown(tmp_path), 4)
    assert '**Differs from the paper**: cot helped' in \
        section(markdown(tmp_path, cot_gain=True), 4)


# --- one whole run ----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    """A quick experiment run through the command line, as a user would."""
    out = tmp_path_factory.mktemp('experiment')
    code = cli.main(['experiment', '--out', str(out / 'work'), '--docs', str(out / 'docs'),
                     '--quiet', *QUICK])
    return code, out


def test_the_command_runs_end_to_end_and_writes_the_report(finished):
    code, out = finished
    assert code == 0
    text = (out / 'docs' / 'experiments.md').read_text()
    for title in ('1. Fine-tuning data against test environment',
                  '2. Vision encoder frozen against trainable', '3. Two model sizes',
                  '4. Prompting strategies', '5. Do the trained models look at the camera?',
                  'Reproduce'):
        assert f'## {title}' in text
    for image in re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text):
        assert (out / 'docs' / image).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert text.count('vlm-planner finetune') == len(RUNS)
    assert re.search(r'its steps took \d+ minutes', text)


def test_the_report_shows_what_the_evaluator_measured(finished):
    _, out = finished
    plan = prepare(out / 'work', quick_config())
    measured = collect(plan)
    text = (out / 'docs' / 'experiments.md').read_text()
    for domain in DOMAINS:
        value = measured.domains['base-trainable'][domain.key]
        assert value.n == 6
        assert report._acc(value) in text
    saved = json.loads((out / 'work' / 'distance' / 'distance.json').read_text())
    assert len(saved['datasets']) == 1 + len(DOMAINS)
    assert all(len(kind) == len(STRATEGIES) for kind in measured.strategies.values())


def test_a_rerun_resumes_and_runs_nothing(finished, capsys):
    _, out = finished
    assert cli.main(['experiment', '--out', str(out / 'work'), '--docs', str(out / 'docs'),
                     '--quiet', *QUICK]) == 0
    assert '17 steps, 17 already done' in capsys.readouterr().out


def test_other_settings_in_the_same_folder_are_an_error_for_the_user(finished, capsys):
    _, out = finished
    assert cli.main(['experiment', '--out', str(out / 'work'), '--quiet', *QUICK,
                     '--seed', '3']) == 2
    assert 'other settings: --seed 0' in capsys.readouterr().err


def test_the_control_names_the_runs_that_look(tmp_path):
    plan = make_plan(tmp_path, ExperimentConfig())
    looking = results()
    text = '\n'.join(report.render_markdown(plan, looking, [], None))
    assert 'adds clearly to what the goal text gives for: larger, vision trained' in text
    blind = dataclasses.replace(looking, blank={r.key: accuracy(0.8) for r in RUNS})
    text = '\n'.join(report.render_markdown(plan, blind, [], None))
    assert 'no run gains clearly from the camera' in text
