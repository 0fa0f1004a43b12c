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

from vlm_planner.data.media import load_frames, numbered_images, read_image, Video
from vlm_planner.errors import MediaError


def colours(count):
    return [np.full((48, 64, 3), (40 * i, 255 - 40 * i, 100), np.uint8) for i in range(count)]


def write_video(path, images, fps=5.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps,
                             (images[0].shape[1], images[0].shape[0]))
    for rgb in images:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_image_folder_in_name_order_at_given_rate(tmp_path):
    for i, rgb in enumerate(colours(3)):
        cv2.imwrite(str(tmp_path / f'frame_{2 - i}.png'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (tmp_path / 'notes.txt').write_text('not an image')
    frames = load_frames(tmp_path, fps=2.0)
    assert [f.stamp for f in frames] == [0.0, 0.5, 1.0]
    # frame_0 was written last (i = 2): name order, not write order, and RGB preserved.
    np.testing.assert_array_equal(frames[0].image, colours(3)[2])


def test_video_file_frames_and_stamps(tmp_path):
    path = write_video(tmp_path / 'clip.avi', colours(4))
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


def test_video_reads_chosen_frame_numbers_and_stops_at_its_end(tmp_path):
    images = colours(6)
    with Video(write_video(tmp_path / 'clip.avi', images, fps=10.0)) as video:
        assert video.fps == 10.0
        got = video.read_numbered([1, 2, 4])
        assert len(got) == 3
        for rgb, number in zip(got, (1, 2, 4)):
            assert np.abs(rgb.astype(int) - images[number]).mean() < 8
    with Video(tmp_path / 'clip.avi') as video:
        assert len(video.read_numbered([3, 5, 6, 9])) == 2  # frames 6 and 9 do not exist
        assert video.read_numbered([]) == []


def test_numbered_images_use_the_numbers_in_the_names_or_the_name_order(tmp_path):
    epic = tmp_path / 'epic'
    epic.mkdir()
    for number in (1, 2, 10):
        cv2.imwrite(str(epic / f'frame_{number:010d}.jpg'), colours(1)[0])
    assert {n: p.name for n, p in numbered_images(epic).items()} == {
        1: 'frame_0000000001.jpg', 2: 'frame_0000000002.jpg', 10: 'frame_0000000010.jpg'}
    plain = tmp_path / 'plain'
    plain.mkdir()
    for name in ('b.png', 'a.png', 'c_7.png'):  # not every name carries a number
        cv2.imwrite(str(plain / name), cv2.cvtColor(colours(1)[0], cv2.COLOR_RGB2BGR))
    assert {n: p.name for n, p in numbered_images(plain).items()} == {
        0: 'a.png', 1: 'b.png', 2: 'c_7.png'}
    np.testing.assert_array_equal(read_image(plain / 'a.png'), colours(1)[0])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(MediaError, match='empty holds no images'):
        numbered_images(tmp_path / 'empty')
