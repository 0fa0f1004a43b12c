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

"""Real rosbag2 bags of rendered tabletop frames, in either storage, for the data tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from std_msgs.msg import String

from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.data.bag_writer import BagWriter
from vlm_planner.ros.conversions import (rgb_to_compressed_msg, rgb_to_image_msg,
                                         seconds_to_stamp)
from vlm_planner.sim.render import render
from vlm_planner.sim.tasks import parse_goal
from vlm_planner.sim.world import TabletopWorld

LIBRARY = ActionLibrary.from_yaml(default_actions_file())
TOPIC = '/camera/image_raw'
GOAL_TOPIC = '/goal'
#: Seconds between a frame's header stamp and the bag receiving it.
LATENCY = 0.005


@dataclasses.dataclass(frozen=True)
class CameraBag:
    """A bag written by :func:`write_camera_bag` and the frames reading it must give back."""

    path: Path
    topic: str
    frames: list[Frame]


def scene_images(count: int, hold: int = 3, width: int = 96, height: int = 72) -> list[np.ndarray]:
    """Render the tabletop clearing itself, one expert action every ``hold`` frames.

    A corner patch holds the frame's index, so no two frames are equal.
    """
    world = TabletopWorld.default()
    plan = parse_goal('put all blocks in the bin').expert_plan(world)
    images = []
    for i in range(count):
        if i and i % hold == 0 and plan:
            world.apply(LIBRARY.get(plan.pop(0)))
        image = render(world, width, height)
        image[:2, :2] = i % 256
        images.append(image)
    return images


def write_camera_bag(path: Path, storage: str = 'sqlite3', encoding: str = 'rgb8',
                     count: int = 12, start: float = 100.0, period: float = 0.1,
                     topic: str = TOPIC, zero_stamps: bool = False,
                     extra_cameras: tuple[str, ...] = ()) -> CameraBag:
    """Write ``count`` rendered frames to ``topic`` (and a goal message on ``/goal``).

    Args:
        path: the bag folder to create.
        storage: 'sqlite3' or 'mcap'.
        encoding: 'rgb8' or 'bgr8' (sensor_msgs/Image), or 'jpeg' or 'png' (CompressedImage).
        count: number of frames.
        start: header stamp of the first frame, seconds.
        period: seconds between frames.
        topic: the camera topic.
        zero_stamps: leave header stamps at zero, so readers fall back to receive times.
        extra_cameras: more image topics carrying the same frames.

    Returns:
        The bag with the frames expected back (RGB, stamps as readers must report them).
    """
    frames = []
    with BagWriter(path, storage) as bag:
        bag.write(GOAL_TOPIC, _ns(start - 1.0), String(data='put all blocks in the bin'))
        for i, rgb in enumerate(scene_images(count)):
            stamp = start + i * period
            header = None if zero_stamps else seconds_to_stamp(stamp)
            if encoding in ('jpeg', 'png'):
                msg = rgb_to_compressed_msg(rgb, encoding, quality=95, stamp=header)
            else:
                msg = rgb_to_image_msg(rgb, encoding, stamp=header)
            received = _ns(stamp + LATENCY)
            for name in (topic, *extra_cameras):
                bag.write(name, received, msg)
            frames.append(Frame(rgb, received / 1e9 if zero_stamps else stamp))
    return CameraBag(path, topic, frames)


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))
