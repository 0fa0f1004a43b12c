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

"""Tests for the keyframe buffer."""

import numpy as np
import pytest

from vlm_planner.core.frames import Frame, frame_difference, thumbnail
from vlm_planner.core.keyframes import KeyframeBuffer, KeyframeConfig
from vlm_planner.errors import ConfigError


def solid(value: int, stamp: float, shape=(48, 64)) -> Frame:
    return Frame(np.full((*shape, 3), value, dtype=np.uint8), stamp)


def test_interval_policy_keeps_frames_at_least_min_interval_apart():
    buffer = KeyframeBuffer(KeyframeConfig(policy='interval', min_interval=1.0, max_count=100))
    kept = [buffer.add(solid(0, t / 10)) for t in range(0, 35)]  # 0.0 .. 3.4 s every 0.1 s
    assert sum(kept) == 4
    assert [f.stamp for f in buffer.snapshot()[:-1]] == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_change_policy_ignores_static_scene_and_keeps_changes():
    buffer = KeyframeBuffer(KeyframeConfig(policy='change', min_interval=0.0,
                                           change_threshold=0.05, max_count=100))
    assert buffer.add(solid(100, 0.0))
    assert not buffer.add(solid(101, 0.1))  # tiny change
    assert buffer.add(solid(200, 0.2))  # big change
    assert not buffer.add(solid(200, 0.3))
    assert len(buffer) == 2


def test_change_policy_still_respects_min_interval():
    buffer = KeyframeBuffer(KeyframeConfig(policy='change', min_interval=1.0,
                                           change_threshold=0.0))
    buffer.add(solid(0, 0.0))
    assert not buffer.add(solid(255, 0.5))
    assert buffer.add(solid(255, 1.5))


def test_snapshot_always_ends_with_newest_frame_even_when_not_kept():
    buffer = KeyframeBuffer(KeyframeConfig(policy='interval', min_interval=10.0))
    buffer.add(solid(0, 0.0))
    newest = solid(50, 1.0)
    assert not buffer.add(newest)
    snap = buffer.snapshot()
    assert [f.stamp for f in snap] == [0.0, 1.0]
    assert snap[-1] is newest
    assert buffer.latest is newest


def test_bounded_size_keeps_first_frame_and_even_coverage():
    buffer = KeyframeBuffer(KeyframeConfig(policy='interval', min_interval=0.0, max_count=4))
    for t in [0, 1, 2, 3, 10, 11, 20]:
        buffer.add(solid(0, float(t)))
    stamps = [f.stamp for f in buffer.snapshot()]
    assert len(stamps) == 4
    assert stamps[0] == 0.0 and stamps[-1] == 20.0
    # Crowded early frames were dropped before the sparse later ones.
    assert 10.0 in stamps


def test_max_count_one_keeps_only_newest_keyframe():
    buffer = KeyframeBuffer(KeyframeConfig(policy='interval', min_interval=0.0, max_count=1))
    for t in range(5):
        buffer.add(solid(0, float(t)))
    assert [f.stamp for f in buffer.snapshot()] == [4.0]


def test_out_of_order_frames_are_ignored_and_reset_clears():
    buffer = KeyframeBuffer(KeyframeConfig(policy='interval', min_interval=0.0))
    buffer.add(solid(0, 5.0))
    assert not buffer.add(solid(0, 4.0))
    assert buffer.latest.stamp == 5.0
    buffer.reset()
    assert buffer.snapshot() == [] and buffer.latest is None and len(buffer) == 0


@pytest.mark.parametrize('kwargs, message', [
    ({'policy': 'every'}, 'policy'), ({'max_count': 0}, 'max_count'),
    ({'min_interval': -1}, 'min_interval'), ({'change_threshold': 2}, 'change_threshold')])
def test_invalid_config_is_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        KeyframeConfig(**kwargs)


def test_frame_validation_and_thumbnail_difference():
    with pytest.raises(ValueError, match='H x W x 3'):
        Frame(np.zeros((4, 4), np.uint8), 0.0)
    with pytest.raises(ValueError, match='uint8'):
        Frame(np.zeros((4, 4, 3), np.float32), 0.0)
    a = thumbnail(np.zeros((100, 120, 3), np.uint8))
    b = thumbnail(np.full((100, 120, 3), 255, np.uint8))
    assert a.shape == (32, 32)
    assert frame_difference(a, b) == pytest.approx(1.0)
    assert frame_difference(a, a) == 0.0


def test_reset_keeping_latest_starts_the_new_task_from_the_current_frame():
    buffer = KeyframeBuffer(KeyframeConfig(policy='interval', min_interval=0.0))
    for t in range(3):
        buffer.add(solid(t * 50, float(t)))
    buffer.reset(keep_latest=True)
    assert [f.stamp for f in buffer.snapshot()] == [2.0]
    assert len(buffer) == 1


def test_change_policy_makes_one_thumbnail_per_frame_it_compares(monkeypatch):
    # The image callback's cost: a kept frame's thumbnail is the one made for the comparison.
    made = []

    def counting_thumbnail(image):
        made.append(image.shape)
        return thumbnail(image)

    monkeypatch.setattr('vlm_planner.core.keyframes.thumbnail', counting_thumbnail)
    buffer = KeyframeBuffer(KeyframeConfig(policy='change', min_interval=1.0,
                                           change_threshold=0.05))
    assert buffer.add(solid(0, 0.0))
    assert not buffer.add(solid(255, 0.5))  # too soon: not even compared
    assert buffer.add(solid(255, 1.0))
    assert not buffer.add(solid(255, 2.0))  # compared, no change
    assert len(made) == 3
