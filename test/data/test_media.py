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

"""Tests for reading frames from image folders and video files."""

import cv2
import numpy as np
import pytest

from vlm_planner.data.media import MediaError, load_frames


def colours(count):
    return [np.full((48, 64, 3), (40 * i, 255 - 40 * i, 100), np.uint8) for i in range(count)]


def test_image_folder_in_name_order_at_given_rate(tmp_path):
    for i, rgb in enumerate(colours(3)):
        cv2.imwrite(str(tmp_path / f'frame_{2 - i}.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (tmp_path / 'notes.txt').write_text('not an image')
    frames = load_frames(tmp_path, fps=2.0)
    assert [f.stamp for f in frames] == [0.0, 0.5, 1.0]
    # frame_0 was written last (i = 2): name order, not write order, and RGB preserved.
    np.testing.assert_array_equal(frames[0].image, colours(3)[2])


def test_video_file_frames_and_stamps(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 5.0, (64, 48))
    for rgb in colours(4):
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    frames = load_frames(path)
    assert len(frames) == 4
    assert [f.stamp for f in frames] == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert np.abs(frames[3].image.astype(int) - colours(4)[3]).mean() < 8


def test_errors_name_the_path(tmp_path):
    with pytest.raises(MediaError, match='does not exist'):
        load_frames(tmp_path / 'missing.mp4')
    with pytest.raises(MediaError, match='holds no images'):
        load_frames(tmp_path)
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(MediaError, match='broken.png is not a readable image'):
        load_frames(tmp_path)
    (tmp_path / 'x.mp4').write_bytes(b'garbage')
    with pytest.raises(MediaError, match='x.mp4'):
        load_frames(tmp_path / 'x.mp4')
