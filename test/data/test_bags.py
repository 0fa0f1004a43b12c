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

"""Tests of reading camera frames from rosbag2 bags and of writing bags."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import Image

from test.data.bagfactory import GOAL_TOPIC, TOPIC, write_camera_bag
from vlm_planner.data.bag_writer import BagWriter, write_bag
from vlm_planner.data.bag_io import typestore
from vlm_planner.data.bags import bag_info, read_camera, stamp_range
from vlm_planner.errors import BagError, BagFormatError, BagNotFoundError, MessageTypeError
from vlm_planner.ros.conversions import rgb_to_image_msg, seconds_to_stamp

STORAGES = ('sqlite3', 'mcap')


@pytest.mark.parametrize('storage', STORAGES)
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'png', 'jpeg'])
def test_frames_come_back_in_order_with_their_stamps(tmp_path, storage, encoding):
    bag = write_camera_bag(tmp_path / 'bag', storage, encoding)
    frames = list(read_camera(bag.path))
    assert [f.stamp for f in frames] == pytest.approx([f.stamp for f in bag.frames])
    for got, want in zip(frames, bag.frames):
        assert got.image.shape == want.image.shape and got.image.dtype == np.uint8
        if encoding == 'jpeg':
            assert np.abs(got.image.astype(int) - want.image).mean() < 3
        else:
            np.testing.assert_array_equal(got.image, want.image)


@pytest.mark.parametrize('storage', STORAGES)
def test_zero_header_stamp_falls_back_to_receive_time(tmp_path, storage):
    bag = write_camera_bag(tmp_path / 'bag', storage, zero_stamps=True, count=4)
    stamps = [f.stamp for f in read_camera(bag.path)]
    assert stamps == pytest.approx([f.stamp for f in bag.frames])
    assert stamps[0] == pytest.approx(100.005)


def test_bag_info_and_stamp_range(tmp_path):
    bag = write_camera_bag(tmp_path / 'bag', 'mcap', 'jpeg', count=5)
    info = bag_info(bag.path)
    assert [(t.name, t.msgtype, t.count) for t in info.topics] == [
        (TOPIC, 'sensor_msgs/msg/CompressedImage', 5), (GOAL_TOPIC, 'std_msgs/msg/String', 1)]
    assert info.message_count == 6
    assert info.start == pytest.approx(99.0) and info.end == pytest.approx(100.405)
    assert info.image_topics == [TOPIC]
    assert stamp_range(bag.path) == pytest.approx((100.0, 100.4))


def test_topic_auto_pick_and_choice_among_several(tmp_path):
    bag = write_camera_bag(tmp_path / 'bag', count=3, extra_cameras=('/wrist/image',))
    with pytest.raises(BagError, match=r'2 image topics \(/camera/image_raw, /wrist/image\)'):
        read_camera(bag.path)
    assert len(list(read_camera(bag.path, '/wrist/image'))) == 3


def test_missing_topic_lists_the_topics(tmp_path):
    bag = write_camera_bag(tmp_path / 'bag', count=2)
    with pytest.raises(BagError) as err:
        read_camera(bag.path, '/front/image')
    message = str(err.value)
    assert '/front/image is not in bag' in message and str(bag.path) in message
    assert f'{TOPIC} (sensor_msgs/msg/Image), {GOAL_TOPIC} (std_msgs/msg/String)' in message
    with pytest.raises(BagError, match='has type std_msgs/msg/String'):
        read_camera(bag.path, GOAL_TOPIC)


def test_bag_without_image_topic(tmp_path):
    from std_msgs.msg import String
    path = write_bag(tmp_path / 'bag', [(GOAL_TOPIC, 1, String(data='x'))])
    with pytest.raises(BagError, match=r'no sensor_msgs Image .* /goal \(std_msgs/msg/String\)'):
        read_camera(path)


@pytest.mark.parametrize('storage', STORAGES)
def test_unknown_encoding_names_topic_and_message(tmp_path, storage):
    good = rgb_to_image_msg(np.zeros((4, 6, 3), np.uint8), stamp=seconds_to_stamp(5.0))
    odd = rgb_to_image_msg(np.zeros((4, 6, 3), np.uint8), stamp=seconds_to_stamp(5.5))
    odd.encoding = '32FC1'
    path = write_bag(tmp_path / 'bag', [(TOPIC, 1, good), (TOPIC, 2, odd)], storage)
    frames = read_camera(path)
    assert next(frames).stamp == 5.0
    with pytest.raises(BagError, match=rf'bag {path}: message 1 of topic {TOPIC} \(stamp '
                                       r"5.500 s\) cannot be read: image encoding '32FC1'"):
        next(frames)


@pytest.mark.parametrize('storage', STORAGES)
@pytest.mark.parametrize('damage', ['truncate', 'garbage'])
def test_truncated_or_corrupt_bag_names_the_file(tmp_path, storage, damage):
    bag = write_camera_bag(tmp_path / 'bag', storage, count=6)
    suffix = '.db3' if storage == 'sqlite3' else '.mcap'
    (file,) = bag.path.glob(f'*{suffix}')
    data = file.read_bytes()
    file.write_bytes(data[:len(data) // 2] if damage == 'truncate' else b'\x13' * 4096)
    with pytest.raises(BagFormatError,
                       match=rf'bag {bag.path} \(bag{suffix}\) is truncated or corrupt'):
        list(read_camera(bag.path))


def test_corrupt_message_names_its_index(tmp_path):
    path = tmp_path / 'bag'
    with BagWriter(path, 'mcap') as bag:
        bag.add_topic(TOPIC, 'sensor_msgs/msg/Image')
        bag.write(TOPIC, 1, b'\x00\x01\x00\x00' + b'\xff' * 10)
    with pytest.raises(BagError, match=f'reading message 0 of topic {TOPIC} failed'):
        list(read_camera(path))


def test_path_errors(tmp_path):
    with pytest.raises(BagNotFoundError, match='does not exist'):
        bag_info(tmp_path / 'missing')
    (tmp_path / 'folder').mkdir()
    with pytest.raises(BagFormatError, match='is not a rosbag2 folder: it has no metadata.yaml'):
        read_camera(tmp_path / 'folder')
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(BagFormatError, match='notes.txt is not a rosbag2 recording'):
        bag_info(tmp_path / 'notes.txt')


def test_single_storage_file_is_read_too(tmp_path):
    bag = write_camera_bag(tmp_path / 'bag', 'mcap', count=3)
    assert len(list(read_camera(bag.path / 'bag.mcap'))) == 3


def test_writer_takes_rclpy_rosbags_and_raw_messages(tmp_path):
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    msg = rgb_to_image_msg(rgb, stamp=seconds_to_stamp(1.0))
    from rclpy.serialization import serialize_message
    store = typestore()
    rosbags_msg = store.deserialize_cdr(bytes(serialize_message(msg)), 'sensor_msgs/msg/Image')
    rosbags_msg.header.stamp.sec = 2
    with BagWriter(tmp_path / 'bag', 'mcap') as bag:
        bag.write(TOPIC, 1, msg)
        bag.write(TOPIC, 2, rosbags_msg)
        bag.write(TOPIC, 3, serialize_message(msg))
        with pytest.raises(BagError, match='cannot write a std_msgs/msg/String to topic'):
            from std_msgs.msg import String
            bag.write(TOPIC, 4, String())
        with pytest.raises(BagError, match='call add_topic'):
            bag.write('/other', 5, b'\x00\x01\x00\x00')
        with pytest.raises(MessageTypeError, match="'foo_msgs/msg/Bar' is not a ROS 2 message"):
            bag.add_topic('/other', 'foo_msgs/msg/Bar')
    frames = list(read_camera(tmp_path / 'bag'))
    assert [f.stamp for f in frames] == [1.0, 2.0, 1.0]
    for frame in frames:
        np.testing.assert_array_equal(frame.image, rgb)


def test_writer_never_leaves_a_half_bag(tmp_path):
    with pytest.raises(RuntimeError):
        with BagWriter(tmp_path / 'bag', 'sqlite3') as bag:
            bag.write(TOPIC, 1, Image(height=1, width=1, encoding='rgb8', step=3, data=b'abc'))
            raise RuntimeError('crash while recording')
    assert list(tmp_path.iterdir()) == []
    write_camera_bag(tmp_path / 'bag', count=1)
    with pytest.raises(BagError, match='exists already'):
        BagWriter(tmp_path / 'bag').open()
    with pytest.raises(BagError, match="choose one of sqlite3, mcap"):
        BagWriter(tmp_path / 'other', storage='rosbag1')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bag']
