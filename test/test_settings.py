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

"""The planner's parameter table and wiring: model-card recommendations."""

import pytest

from vlm_planner import settings
from vlm_planner.errors import ConfigError
from vlm_planner.models.model_card import ModelCard, write_model_card


@pytest.fixture
def folder(tmp_path):
    write_model_card(tmp_path, ModelCard(recommended={
        'strategy.scoring': 'likelihood', 'prompt_file': 'prompt.yaml', 'model.max_frames': 4}))
    return tmp_path


def values(folder, **more):
    return settings.complete({'model.backend': 'transformers', 'model.path': str(folder),
                              **more})


def test_recommendations_fill_the_parameters_left_at_their_defaults(folder):
    chosen = settings.recommended(values(folder, **{'model.max_frames': 16}))
    assert chosen == {'strategy.scoring': 'likelihood',
                      'prompt_file': str(folder / 'prompt.yaml')}


def test_explicit_parameters_win_over_recommendations(folder):
    assert 'strategy.scoring' not in settings.recommended(
        values(folder), explicit={'strategy.scoring'})


def test_models_without_a_folder_or_card_recommend_nothing(tmp_path):
    assert settings.recommended(settings.complete({'model.backend': 'tiny'})) == {}
    assert settings.recommended(values(tmp_path)) == {}


def test_the_default_model_is_the_demo_model_asked_as_its_card_says():
    recommended = settings.recommended(settings.complete({}))
    assert recommended['strategy.scoring'] == 'likelihood'
    assert recommended['prompt_file'].endswith('demo_model/prompt.yaml')


def test_a_card_recommending_an_unknown_or_bad_parameter_is_a_clear_error(tmp_path):
    write_model_card(tmp_path, ModelCard(recommended={'strategy.nme': 'cot'}))
    with pytest.raises(ConfigError, match="recommends 'strategy.nme'"):
        settings.recommended(values(tmp_path))
    write_model_card(tmp_path, ModelCard(recommended={'strategy.name': 'nope'}))
    with pytest.raises(ConfigError, match='strategy.name'):
        settings.recommended(values(tmp_path))
