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

"""The finetune flags derive from FinetuneConfig; contradictions and missing data are clear."""

from __future__ import annotations

import dataclasses
from pathlib import Path
import re
import shlex

import pytest

from vlm_planner.cli import build_parser
from vlm_planner.errors import ConfigError
from vlm_planner.params import flag, params_of
from vlm_planner.train.config import command_line, FinetuneConfig, from_arguments, options_table

DOCS = Path(__file__).resolve().parents[2] / 'docs' / 'training.md'

REQUIRED = ['finetune', '--data', 'a.yaml', '--model', 'tiny', '--out', 'o']


def parse(*flags):
    return build_parser().parse_args([*REQUIRED, *flags])


def test_every_field_is_a_flag_with_its_type_and_default():
    args = parse()
    assert from_arguments(args) == FinetuneConfig()
    help_text = build_parser()._subparsers._group_actions[0].choices['finetune'].format_help()
    for param in params_of(FinetuneConfig):
        assert flag(param.name) in help_text


def test_flags_set_the_fields():
    config = from_arguments(parse('--lora', '--lora-rank', '8', '--target', 'both',
                                  '--lr', '2e-4', '--grad-accum', '4', '--train-vision'))
    assert (config.lora, config.lora_rank, config.target, config.lr, config.grad_accum,
            config.train_vision) == (True, 8, 'both', 2e-4, 4, True)
    assert config.kinds == ('action', 'letter') and config.lettered


def test_the_default_trains_the_action_text_without_options():
    config = FinetuneConfig()
    assert config.target == 'action' and config.kinds == ('action',) and not config.lettered
    assert FinetuneConfig(target='letter').lettered


def test_an_unknown_choice_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        parse('--target', 'verb')
    assert 'invalid choice' in capsys.readouterr().err


@pytest.mark.parametrize('fields, words', [
    ({'epochs': 2.0, 'steps': 10}, 'not both'),
    ({'save_adapter': True}, 'add --lora'),
    ({'target': 'letter', 'options': 'none'}, 'lettered options'),
    ({'lr': 0.0}, 'lr must be > 0.0'),
    ({'batch_size': 0}, 'batch_size must be >= 1'),
])
def test_contradictions_and_ranges_are_config_errors(fields, words):
    with pytest.raises(ConfigError, match=words):
        FinetuneConfig(**fields)


def test_the_command_line_names_what_differs_from_the_defaults():
    config = dataclasses.replace(FinetuneConfig(), lora=True, steps=20)
    line = command_line(config, data=['d.yaml'], model='tiny', out='o',
                        overrides={'keyframes.max_count': 2})
    assert shlex.split(line) == ['vlm-planner', 'finetune', '--data', 'd.yaml', '--model', 'tiny',
                                 '--out', 'o', '--lora', '--steps', '20', '-p',
                                 'keyframes.max_count:=2']
    assert from_arguments(build_parser().parse_args(shlex.split(line)[1:])) == config


def test_the_docs_list_every_flag_as_declared():
    text = DOCS.read_text()
    shown = re.search(r'<!-- finetune-options:start -->\n(.*?)\n<!-- finetune-options:end -->',
                      text, re.S).group(1)
    assert shown == options_table(), ('docs/training.md is stale: paste the output of '
                                      'vlm_planner.train.config.options_table() between its '
                                      'finetune-options markers')
