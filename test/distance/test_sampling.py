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

"""The seeded sample of a data set: which items, which frame of each, and reading only those."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.data.egoplan import EgoPlanDataset
from vlm_planner.data.episodes import FolderDataset, load_dataset
from vlm_planner.data.items import Dataset
from vlm_planner.distance.sampling import choose_ids, picks
from vlm_planner.errors import AnnotationError

KEYFRAMES = KeyframeConfig()


def test_the_choice_is_seeded_bounded_and_without_repeats(episodes):
    dataset = load_dataset(episodes / 'test')
    ids = dataset.item_ids()
    chosen = choose_ids(dataset, 5, seed=3)

    assert len(chosen) == len(set(chosen)) == 5 and set(chosen) <= set(ids)
    assert [i for i in ids if i in chosen] == chosen  # in the data set's order
    assert choose_ids(dataset, 5, seed=3) == chosen
    assert choose_ids(dataset, 5, seed=4) != chosen
    assert choose_ids(dataset, len(ids) + 10, seed=3) == ids


def test_picks_yield_the_chosen_items_with_one_of_their_frames_and_their_goal(episodes):
    dataset = load_dataset(episodes / 'test')
    chosen = choose_ids(dataset, 6, seed=1)
    items = {item.item_id: item for item in dataset.items(KEYFRAMES)}

    got = list(picks(dataset, chosen, 1, KEYFRAMES))
    assert [p.item_id for p in got] == chosen
    for pick in got:
        item = items[pick.item_id]
        assert pick.goal == item.goal
        assert any(np.array_equal(pick.frame, f.image) for f in item.frames)
    again = list(picks(dataset, chosen, 1, KEYFRAMES))
    assert all(np.array_equal(a.frame, b.frame) for a, b in zip(got, again))


def test_the_frame_is_drawn_among_all_keyframes_not_only_the_current_one(episodes):
    dataset = load_dataset(episodes / 'test')
    items = {item.item_id: item for item in dataset.items(KEYFRAMES)}
    ids = [i for i, item in items.items() if len(item.frames) >= 3]
    assert ids, 'the generated episodes should have items with several keyframes'
    current = [np.array_equal(p.frame, items[p.item_id].frames[-1].image)
               for seed in range(6) for p in picks(dataset, ids, seed, KEYFRAMES)]
    assert any(current) and not all(current)


class ListedDataset(Dataset):
    """A data set whose items() yields only some of the ids it lists."""

    def __init__(self, listed, yielded=()):
        self.name = 'listed'
        self.listed, self.yielded = list(listed), list(yielded)

    def __len__(self):
        return len(self.listed)

    def item_ids(self):
        return self.listed

    def items(self, keyframes):
        yield from self.yielded


def test_an_empty_data_set_or_one_that_skips_items_is_an_error():
    with pytest.raises(AnnotationError, match='data set listed holds no item'):
        choose_ids(ListedDataset([]), 5, 0)
    with pytest.raises(AnnotationError, match=r'data set listed lists items it never yields '
                                              r'\(a, b\)'):
        list(picks(ListedDataset(['a', 'b']), ['a', 'b'], 0, KEYFRAMES))


def write_egoplan(tmp_path, count):
    """An EgoPlan-Bench file of ``count`` items on one folder of 8 frames."""
    root = tmp_path / 'videos'
    (root / 'vid').mkdir(parents=True)
    rng = np.random.default_rng(0)
    for number in range(1, 9):
        image = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        cv2.imwrite(str(root / 'vid' / f'frame_{number:010d}.png'), image)
    items = [{'sample_id': f'vid_{i}', 'task_goal': f'goal {i}', 'question': 'next?',
              'choice_a': 'pick up the red block', 'choice_b': 'put it in the bin',
              'golden_choice_idx': 'A', 'task_start_frame': 1,
              'current_observation_frame': 2 + i % 6} for i in range(count)]
    path = tmp_path / 'egoplan.json'
    path.write_text(json.dumps(items))
    return path, root


def test_egoplan_items_not_chosen_are_never_decoded(tmp_path, monkeypatch):
    path, root = write_egoplan(tmp_path, 6)
    dataset = load_dataset(path, video_root=root)
    decoded = []
    original = EgoPlanDataset._read_group

    def read_group(self, media, group, keyframes):
        decoded.extend(item.item_id for item in group)
        return original(self, media, group, keyframes)

    monkeypatch.setattr(EgoPlanDataset, '_read_group', read_group)
    chosen = choose_ids(dataset, 2, seed=0)
    got = [p.item_id for p in picks(dataset, chosen, 0, KEYFRAMES)]

    assert got == chosen and decoded == chosen
    assert len(dataset) == 6  # the data set itself is left whole


def test_a_folder_is_cut_down_part_by_part(tmp_path):
    path, root = write_egoplan(tmp_path, 3)
    folder = tmp_path / 'folder'
    folder.mkdir()
    for name in ('a', 'b'):
        (folder / f'{name}.json').write_text(path.read_text())
    dataset = load_dataset(folder, video_root=root)
    assert isinstance(dataset, FolderDataset)

    subset = dataset.subset({'b/vid_1', 'b/vid_2'})
    assert [stem for stem, _ in subset.parts] == ['b']
    assert subset.item_ids() == ['b/vid_1', 'b/vid_2']
    assert len(dataset.item_ids()) == 6
