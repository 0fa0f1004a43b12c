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

"""Read camera frames from a video file or a folder of images, as :class:`Frame` objects.

Frames come back in time order with stamps in seconds from the first frame: a video's own
timestamps, or for an image folder the files sorted by name at ``fps`` frames per second.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from vlm_planner.core.frames import Frame
from vlm_planner.errors import VlmPlannerError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


class MediaError(VlmPlannerError):
    """A video or image folder cannot be read."""


def load_frames(path: str | Path, fps: float = 1.0) -> list[Frame]:
    """Return the frames of a video file or an image folder.

    Args:
        path: a video file (anything OpenCV reads: mp4, avi, mkv, ...) or a folder of images.
        fps: frame rate assumed for an image folder (the files are taken in name order).

    Raises:
        MediaError: the path does not exist, holds no frames, or a file cannot be decoded.
    """
    path = Path(path)
    if path.is_dir():
        return _image_folder(path, fps)
    if path.is_file():
        return _video(path)
    raise MediaError(f'{path} does not exist; give a video file or a folder of images.')


def _image_folder(folder: Path, fps: float) -> list[Frame]:
    if not fps > 0:
        raise MediaError(f'fps must be positive, got {fps}.')
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MediaError(f'{folder} holds no images ({", ".join(IMAGE_SUFFIXES)}).')
    frames = []
    for i, file in enumerate(files):
        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if bgr is None:
            raise MediaError(f'{file} is not a readable image; remove it or replace it.')
        frames.append(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / fps))
    return frames


def _video(file: Path) -> list[Frame]:
    capture = cv2.VideoCapture(str(file))
    if not capture.isOpened():
        raise MediaError(f'{file} is not a video OpenCV can open; convert it to mp4 or give a '
                         'folder of images.')
    rate = capture.get(cv2.CAP_PROP_FPS) or 0.0
    frames = []
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            stamp = len(frames) / rate if rate > 0 else (
                capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            frames.append(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stamp))
    finally:
        capture.release()
    if not frames:
        raise MediaError(f'{file} has no decodable frames.')
    return frames
