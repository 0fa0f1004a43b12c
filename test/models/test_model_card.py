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

"""The model card a model folder carries: read, written, defaults and malformed files."""

from __future__ import annotations

import json

import pytest

from vlm_planner.errors import ConfigError
from vlm_planner.models.model_card import (CARD_NAME, LEGACY_TINY_MARKER, ModelCard,
                                           read_model_card, write_model_card)


def test_a_written_card_reads_back_the_same(tmp_path):
    card = ModelCard(untrained=False, trained_on='EgoPlan-Bench train, `train.py --epochs 3`',
                     recommended={'strategy.scoring': 'likelihood', 'model.max_frames': 16,
                                  'min_confidence': 0.4, 'publish_debug_image': False},
                     details={'base_model': 'Qwen2.5-VL-7B-Instruct'})

    path = write_model_card(tmp_path, card)

    assert path == tmp_path / CARD_NAME
    assert json.loads(path.read_text())['recommended']['strategy.scoring'] == 'likelihood'
    assert read_model_card(tmp_path) == card


def test_a_folder_without_a_card_gets_the_default_card(tmp_path):
    card = read_model_card(tmp_path)

    assert card == ModelCard()
    assert (card.untrained, card.trained_on, card.recommended, card.details) == (
        False, '', {}, {})
    assert read_model_card(tmp_path / 'missing') == ModelCard()


def test_every_key_is_optional(tmp_path):
    (tmp_path / CARD_NAME).write_text('{"untrained": true}')

    assert read_model_card(tmp_path) == ModelCard(untrained=True)


def test_a_tiny_build_from_before_model_cards_reads_as_untrained(tmp_path):
    (tmp_path / LEGACY_TINY_MARKER).write_text('{"format": 1, "untrained": true}')

    assert read_model_card(tmp_path).untrained is True


@pytest.mark.parametrize('content, problem', [
    ('{"untrained": true,', 'is not valid JSON'),
    ('["untrained"]', 'holds a list, not a JSON object'),
    ('{"untrianed": true}', 'unknown key.s. untrianed'),
    ('{"untrained": "yes"}', '"untrained" must be true or false'),
    ('{"trained_on": 3}', '"trained_on" must be a string'),
    ('{"recommended": ["strategy.scoring"]}', '"recommended" must be an object'),
    ('{"recommended": {"strategy.scoring": ["letter"]}}',
     '"recommended" gives strategy.scoring the value'),
    ('{"recommended": {"": 1}}', 'empty parameter name'),
    ('{"recommended": {"min_confidence": NaN}}', 'gives min_confidence the value nan'),
    ('{"details": "built by hand"}', '"details" must be an object'),
])
def test_a_malformed_card_is_a_config_error_naming_the_file_and_the_fix(
        tmp_path, content, problem):
    (tmp_path / CARD_NAME).write_text(content)

    with pytest.raises(ConfigError, match=problem) as error:
        read_model_card(tmp_path)

    message = str(error.value)
    assert str(tmp_path / CARD_NAME) in message
    assert 'Fix or delete it' in message and '"recommended"' in message


def test_a_card_built_in_code_is_checked_too():
    with pytest.raises(ConfigError, match='"untrained" must be true or false'):
        ModelCard(untrained=1)
