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

"""Write one filmed episode as a rosbag2 recording with its annotation files.

The recording has one camera topic (:data:`TOPIC`, ``sensor_msgs/msg/Image`` rgb8, or PNG
``CompressedImage`` with ``image_format: png``), its first
frame stamped :data:`START_NS`. Two annotation files in the format of docs/datasets.md mark one
decision point per step, :data:`DECISION_DELAY` seconds after the frame that shows the step's
state (so that frame is the newest the model sees, whatever the rounding of times):

* the *candidates* file lists the answer and the step's hard negatives (4 in all by default);
* the *all-actions* file lists the whole action library, for evaluation over every action.

Both name the same bag and the action library (``actions_file``); each point's ``task`` is the
goal family, so evaluation reports accuracy per family.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np
import yaml

from vlm_planner.core.actions import ActionLibrary
from vlm_planner.data.bag_io import COMPRESSED_IMAGE, IMAGE, typestore
from vlm_planner.data.bag_writer import BagWriter
from vlm_planner.sim.episodes import Episode
from vlm_planner.sim.filming import Film

#: The camera topic of the recordings.
TOPIC = '/image'
FRAME_ID = 'camera'

#: Header stamp of an episode's first frame (any fixed time does; this one reads as a date).
START_NS = 1_700_000_000 * 10 ** 9

#: A decision is taken this long after the frame that shows its state (before the next frame).
DECISION_DELAY = 0.001


@dataclasses.dataclass(frozen=True)
class EpisodeFiles:
    """Where one episode's files go, all relative to the data set folder.

    Attributes:
        bag: the rosbag2 folder.
        annotation: the annotation file with hard-negative candidates.
        all_actions: the annotation file with the whole library as candidates.
        actions_file: the action library file.
    """

    bag: Path
    annotation: Path
    all_actions: Path
    actions_file: Path


#: How frames are stored: ``raw`` as sensor_msgs/Image rgb8, ``png`` as a lossless
#: sensor_msgs/CompressedImage (synthetic scenes compress about 10x).
IMAGE_FORMATS = ('raw', 'png')


def image_message(rgb: np.ndarray, stamp_ns: int, image_format: str = 'raw') -> object:
    """Return an image message of ``rgb`` stamped ``stamp_ns``, for rosbags (see IMAGE_FORMATS)."""
    types = typestore().types
    seconds, nanoseconds = divmod(stamp_ns, 10 ** 9)
    stamp = types['builtin_interfaces/msg/Time'](sec=seconds, nanosec=nanoseconds)
    header = types['std_msgs/msg/Header'](stamp=stamp, frame_id=FRAME_ID)
    if image_format == 'png':
        ok, encoded = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise ValueError('OpenCV could not encode a frame as PNG')
        return types[COMPRESSED_IMAGE](header=header, format='rgb8; png compressed bgr8',
                                       data=np.frombuffer(encoded.tobytes(), np.uint8))
    height, width = rgb.shape[:2]
    return types[IMAGE](header=header, height=height, width=width, encoding='rgb8',
                        is_bigendian=0, step=width * 3,
                        data=np.frombuffer(np.ascontiguousarray(rgb).tobytes(), np.uint8))


def frame_stamps(film: Film) -> list[int]:
    """Return the header stamp of every frame of ``film``, in nanoseconds."""
    return [START_NS + round(i * 1e9 / film.fps) for i in range(len(film.frames))]


def decision_times(film: Film) -> list[float]:
    """Return each step's decision time, seconds after the recording's first frame."""
    stamps = frame_stamps(film)
    return [round((stamps[i] - START_NS) / 1e9 + DECISION_DELAY, 6) for i in film.decisions]


def write_episode(root: Path, files: EpisodeFiles, episode_id: str, episode: Episode,
                  film: Film, library: ActionLibrary, storage: str,
                  image_format: str = 'raw') -> list[float]:
    """Write the recording and both annotation files of one episode under ``root``.

    Returns:
        The decision times, seconds after the first frame.

    Raises:
        BagError: the bag cannot be written.
    """
    with BagWriter(root / files.bag, storage) as bag:
        bag.add_topic(TOPIC, COMPRESSED_IMAGE if image_format == 'png' else IMAGE)
        for stamp, rgb in zip(frame_stamps(film), film.frames):
            bag.write(TOPIC, stamp, image_message(rgb, stamp, image_format))
    times = decision_times(film)
    for path, every in ((files.annotation, False), (files.all_actions, True)):
        points = [{'id': f'{episode_id}-s{number:02d}', 'time': time, 'goal': episode.goal,
                   'candidates': library.labels if every else list(step.candidates),
                   'answer': step.answer, 'scene': step.world().describe()}
                  for number, (step, time) in enumerate(zip(episode.steps, times))]
        data = {'bag': _relative(files.bag, path), 'topic': TOPIC,
                'actions_file': _relative(files.actions_file, path), 'task': episode.family,
                'decision_points': points}
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(
            yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=10000),
            encoding='utf-8')
    return times


def _relative(target: Path, annotation: Path) -> str:
    """Return ``target`` as a path relative to the folder of ``annotation`` (both relative)."""
    return Path(os.path.relpath(target, annotation.parent)).as_posix()
