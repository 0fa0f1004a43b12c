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

"""A new data-set format is one module that registers itself; load_dataset then opens it."""

import dataclasses
from typing import Iterator

import numpy as np
import pytest

from vlm_planner.core.actions import Action
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.session import ReplayClock, DecisionSession
from vlm_planner.data import formats
from vlm_planner.data.episodes import load_dataset
from vlm_planner.data.formats import DATASET_FORMATS, DatasetFormat
from vlm_planner.data.items import Dataset, EvalItem

EXAMPLE_FORMAT = '''
import json
from vlm_planner.data.formats import DATASET_FORMATS, DatasetFormat
from test.data.test_dataset_formats import ColourCards

DATASET_FORMATS.register('colour_cards', order=90)(DatasetFormat(
    description='a colour-cards file', open=ColourCards, options=('name',),
    recognises=lambda data: isinstance(data, dict) and 'cards' in data, hint='"cards"'))
'''


@dataclasses.dataclass
class ColourCards(Dataset):
    """A toy format: each card is one frame of a colour; the answer is the card's colour."""

    path: object
    name: str = 'cards'

    def __post_init__(self):
        import yaml
        self.cards = yaml.safe_load(open(self.path))['cards']

    def __len__(self):
        return len(self.cards)

    def item_ids(self):
        return [str(i) for i in range(len(self.cards))]

    def items(self, keyframes: KeyframeConfig) -> Iterator[EvalItem]:
        clock = ReplayClock()
        session = DecisionSession(None, clock=clock, keyframes=keyframes)
        session.set_goal('say the colour')
        candidates = (Action('red'), Action('green'))
        for i, card in enumerate(self.cards):
            clock.advance_to(float(i))
            session.add_frame(np.full((8, 8, 3), 200 if card == 'red' else 0, np.uint8), float(i))
            yield EvalItem(self.name, str(i), 'cards', 'say the colour', candidates,
                           0 if card == 'red' else 1, tuple(session.snapshot()), float(i))


@pytest.fixture
def example_format(tmp_path, monkeypatch):
    (tmp_path / 'colour_cards.py').write_text(EXAMPLE_FORMAT)
    DATASET_FORMATS.names()  # the shipped formats registered before the copy
    monkeypatch.setattr(DATASET_FORMATS, '_entries', dict(DATASET_FORMATS._entries))
    monkeypatch.setattr(DATASET_FORMATS, '_searched', ())
    monkeypatch.setattr(formats, '__path__', [*formats.__path__, str(tmp_path)])


def test_a_registered_format_is_found_by_content(example_format, tmp_path):
    path = tmp_path / 'deck.yaml'
    path.write_text('cards: [red, green, red]\n')
    assert 'colour_cards' in DATASET_FORMATS.names()
    dataset = load_dataset(path, name='deck', video_root='/ignored/by/nobody')
    items = list(dataset.items(KeyframeConfig(policy='interval', min_interval=0.0)))
    assert [i.answer for i in items] == [0, 1, 0] and dataset.name == 'deck'
    assert [f.stamp for f in items[-1].frames] == [0.0, 1.0, 2.0]


def test_the_shipped_formats_come_first():
    assert DATASET_FORMATS.names()[:2] == ('annotation', 'egoplan')
    assert isinstance(DATASET_FORMATS.get('egoplan'), DatasetFormat)
