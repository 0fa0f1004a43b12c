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

"""The commands an experiment runs, and where each one writes (:func:`make_plan`).

Every step is an ordinary ``vlm-planner`` command, so each result can be reproduced, inspected
or rerun by hand; the report lists them. The folder an experiment writes::

    OUT/experiment.json          the settings (a rerun must use the same ones)
    OUT/data/domain/             training domain: train, val, test and the unseen-look split
    OUT/data/shifted/            test episodes of the shifted look
    OUT/data/new-goals/          test episodes of goal families never trained on
    OUT/models/init-{base,small}/  the from-scratch models before training
    OUT/runs/<run>/              fine-tuned models (learning curves in training/)
    OUT/eval/<name>/             evaluation results and reports
    OUT/distance/                distance.json and heat maps
    OUT/logs/<step>.log          each command's output
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import shlex

from vlm_planner.config_paths import find_config_file
from vlm_planner.experiment.config import ExperimentConfig, parse_size

#: Goal families of the training domain, and the families only the new-goals domain has.
TRAIN_FAMILIES = ('bin-single', 'bin-multi', 'bin-all', 'table')
NEW_FAMILIES = ('stack-pair', 'tower')
#: The prompting strategies compared, in the evaluator's names.
STRATEGIES = ('base', 'cot', 'reflect', 'consistency')
#: The prompt of a model trained from scratch here: the current frame only (docs/training.md).
PROMPT_FILE = 'prompt_current_observation.yaml'


@dataclasses.dataclass(frozen=True)
class Domain:
    """A test domain: where its episodes are and how it differs from the training domain."""

    key: str
    title: str
    data: str  # annotation folder, relative to OUT
    shift: str


#: The test domains in order of the shift the experiment expects.
DOMAINS = (
    Domain('in-domain', 'training domain', 'data/domain/test',
           'none: held-out layouts of the training look and goals'),
    Domain('shifted-look', 'shifted look', 'data/shifted/test',
           'light and camera: darker or brighter, stronger colour cast, larger camera moves'),
    Domain('unseen-look', 'unseen look', 'data/domain/ood',
           'unseen table textures, round blocks, extreme light, more distractors'),
    Domain('new-goals', 'new goals', 'data/new-goals/test',
           f'goal families never trained on ({", ".join(NEW_FAMILIES)}), training look'),
)
TRAIN_DATA = 'data/domain/train'
VAL_DATA = 'data/domain/val'


@dataclasses.dataclass(frozen=True)
class Run:
    """A fine-tuning run: which model size, vision encoder frozen or trained."""

    key: str
    size: str  # 'base' or 'small'
    train_vision: bool

    @property
    def path(self) -> str:
        """Its output folder, relative to OUT."""
        return f'runs/{self.key}'


RUNS = (Run('base-trainable', 'base', True), Run('base-frozen', 'base', False),
        Run('small-trainable', 'small', True))
#: The run the distances and the strategies use.
MAIN_RUN = RUNS[0]


@dataclasses.dataclass(frozen=True)
class Step:
    """One ``vlm-planner`` command of the experiment.

    Attributes:
        name: short unique name (its log is ``logs/<name>.log``).
        stage: steps of one stage are independent; a stage starts when the previous one ended.
        args: the command's arguments after ``vlm-planner``.
        done: the file the command writes last; a step whose file exists is not rerun.
    """

    name: str
    stage: str
    args: tuple[str, ...]
    done: Path

    @property
    def command(self) -> str:
        """The command as a user would type it."""
        return shlex.join(['vlm-planner', *self.args])


@dataclasses.dataclass(frozen=True)
class Plan:
    """The steps of an experiment and the paths the results are read from."""

    out: Path
    config: ExperimentConfig
    steps: tuple[Step, ...]

    def path(self, relative: str) -> Path:
        """A path of the experiment folder."""
        return self.out / relative

    def model(self, size: str) -> Path:
        """The model a run of ``size`` starts from."""
        given = self.config.base_model if size == 'base' else self.config.small_model
        return Path(given) if given else self.out / f'models/init-{size}'

    def eval_dir(self, name: str) -> Path:
        """The folder of the evaluation ``name``."""
        return self.out / 'eval' / name

    @property
    def distance_dir(self) -> Path:
        """The folder of the distance results."""
        return self.out / 'distance'


def planner_parameters(config: ExperimentConfig) -> list[str]:
    """The ``-p`` flags of how the models are trained and asked: the current frame only."""
    values = {'prompt_file': _shown(find_config_file(PROMPT_FILE)), 'model.max_frames': 3,
              'keyframes.max_count': 3, 'model.max_pixels': config.max_pixels}
    return [word for name, value in values.items() for word in ('-p', f'{name}:={value}')]


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it (shorter commands)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def make_plan(out: Path, config: ExperimentConfig, workers: int = 1) -> Plan:
    """Every step of the experiment, in stages.

    Args:
        out: the experiment folder.
        config: the settings.
        workers: processes each episode generator may use.
    """
    plan = Plan(out, config, ())
    steps = _data_steps(plan, workers) + _model_steps(plan) + _train_steps(plan) + \
        _eval_steps(plan) + [_distance_step(plan)]
    return dataclasses.replace(plan, steps=tuple(steps))


def _data_steps(plan: Plan, workers: int) -> list[Step]:
    c = plan.config
    common = ['--width', str(c.width), '--height', str(c.height), '--image-format', 'png',
              '--workers', str(workers), '--quiet']
    train = ','.join(TRAIN_FAMILIES)
    shifted = max(1, c.shifted_episodes)
    specs = [
        ('data/domain', c.episodes, c.seed, ['--splits', 'train:0.8,val:0.1,test:0.1',
                                             '--ood-episodes', str(shifted), '--families', train]),
        ('data/shifted', shifted, c.seed + 1, ['--splits', 'test:1', '--ood-episodes', '0',
                                               '--families', train, '--look', 'shifted']),
        ('data/new-goals', shifted, c.seed + 2, ['--splits', 'test:1', '--ood-episodes', '0',
                                                 '--families', ','.join(NEW_FAMILIES)]),
    ]
    return [Step(f'generate-{folder.split("/")[-1]}', 'data',
                 ('generate', '--out', str(plan.path(folder)), '--episodes', str(episodes),
                  '--seed', str(seed), *extra, *common),
                 plan.path(folder) / 'manifest.json')
            for folder, episodes, seed, extra in specs]


def _model_steps(plan: Plan) -> list[Step]:
    c = plan.config
    vision_width, vision_layers = parse_size(c.vision_size, '--vision-size')
    steps = []
    for size, given, text in (('base', c.base_model, c.base_size),
                              ('small', c.small_model, c.small_size)):
        if given:
            continue
        width, layers = parse_size(text, f'--{size}-size')
        folder = plan.model(size)
        steps.append(Step(
            f'make-model-{size}', 'data',
            ('make-tiny-model', '--out', str(folder), '--seed', str(c.seed),
             '--hidden-size', str(width), '--layers', str(layers),
             '--vision-hidden-size', str(vision_width), '--vision-layers', str(vision_layers),
             '--attention-init-std', '0.2', '--max-pixels', str(c.max_pixels)),
            folder / 'vlm_planner.json'))
    return steps


def _train_steps(plan: Plan) -> list[Step]:
    c = plan.config
    steps = []
    for run in RUNS:
        out = plan.path(run.path)
        args = ['finetune', '--data', str(plan.path(TRAIN_DATA)), '--val',
                str(plan.path(VAL_DATA)), '--model', str(plan.model(run.size)), '--out', str(out),
                '--steps', str(c.steps), '--batch-size', str(c.batch_size), '--lr', str(c.lr),
                '--weight-decay', '0.1', '--eval-every', str(c.eval_every), '--val-limit',
                str(c.val_limit), '--save-every', str(max(c.eval_every, 100)), '--seed',
                str(c.seed), '--quiet', *(['--train-vision'] if run.train_vision else []),
                *(['--lora'] if c.lora else []), *planner_parameters(c)]
        steps.append(Step(f'finetune-{run.key}', 'train', tuple(args),
                          out / 'training' / 'finished.json'))
    return steps


def _eval_steps(plan: Plan) -> list[Step]:
    c = plan.config
    domains = [str(plan.path(d.data)) for d in DOMAINS]
    in_domain = domains[:1]
    main = str(plan.path(MAIN_RUN.path))

    def evaluation(name: str, model: str, data: list[str], strategies: tuple[str, ...],
                   *extra: str) -> Step:
        out = plan.eval_dir(name)
        return Step(f'eval-{name}', 'evaluate',
                    ('eval', '--model', model, '--data', *data, '--strategies',
                     ','.join(strategies), '--limit', str(c.limit), '--out', str(out),
                     '--quiet', *extra), out / 'report.md')

    untrained = [*planner_parameters(c), '-p', 'strategy.scoring:=likelihood']
    return [
        *(evaluation(f'domains-{run.key}', str(plan.path(run.path)), domains, ('base',))
          for run in RUNS),
        *(evaluation(f'blank-{run.key}', str(plan.path(run.path)), in_domain, ('base',),
                     '--blank-frames') for run in RUNS),
        evaluation('strategies-trained', main, in_domain, STRATEGIES),
        evaluation('strategies-untrained', str(plan.model(MAIN_RUN.size)), in_domain, STRATEGIES,
                   *untrained),
    ]


def _distance_step(plan: Plan) -> Step:
    c = plan.config
    main = str(plan.path(MAIN_RUN.path))
    out = plan.distance_dir
    data = [str(plan.path(TRAIN_DATA)), *(str(plan.path(d.data)) for d in DOMAINS)]
    return Step('distance', 'evaluate',
                ('distance', *data, '--embedder', c.visual_embedder or f'vision:{main}',
                 '--text-embedder', c.text_embedder or f'tokens:{main}', '--samples',
                 str(c.samples), '--bootstrap', str(c.bootstrap), '--seed', str(c.seed),
                 '--out', str(out), '--quiet', *planner_parameters(c)),
                out / 'distance.json')
