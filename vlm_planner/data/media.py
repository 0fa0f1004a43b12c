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

"""Read camera frames from video files and folders of images: the one reader the data sets share.

:func:`load_frames` gives every frame of a video or a folder (``vlm-planner plan``); the
EgoPlan-Bench reader picks frames by number with :class:`Video` and :func:`numbered_images`.
Images come back as RGB arrays (H x W x 3 uint8), whatever OpenCV decoded them as.

Frame numbers count a video's frames from 0; in a folder they are the numbers at the end of the
file names (Epic-Kitchens' ``frame_0000000001.jpg`` is frame 1), or the position in name order
when the names carry none (or not one number each).

Every failure raises :class:`~vlm_planner.errors.MediaError` naming the file or folder.
"""

from __future__ import annotations

import math
from pathlib import Path
import re
from types import TracebackType
from typing import Iterator, Sequence

import cv2
import numpy as np

from vlm_planner.core.frames import Frame
from vlm_planner.errors import MediaError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov', '.webm')


def load_frames(path: str | Path, fps: float = 1.0) -> list[Frame]:
    """Return the frames of a video file or an image folder.

    Frames come back in time order with stamps in seconds from the first frame: a video's own
    timestamps, or for an image folder the files sorted by name at ``fps`` frames per second.

    Args:
        path: a video file (anything OpenCV reads: mp4, avi, mkv, ...) or a folder of images.
        fps: frame rate assumed for an image folder (the files are taken in name order).

    Raises:
        MediaError: the path does not exist, holds no frames, or a file cannot be decoded.
    """
    path = Path(path)
    if path.is_dir():
        if not fps > 0:
            raise MediaError(f'fps must be positive, got {fps}.')
        return [Frame(read_image(file), i / fps) for i, file in enumerate(image_files(path))]
    if path.is_file():
        with Video(path) as video:
            frames = [Frame(rgb, stamp) for stamp, rgb in video]
        if not frames:
            raise MediaError(f'{path} has no decodable frames.')
        return frames
    raise MediaError(f'{path} does not exist; give a video file or a folder of images.')


def image_files(folder: Path) -> list[Path]:
    """Return the images of ``folder`` (by suffix, :data:`IMAGE_SUFFIXES`) sorted by name.

    Raises:
        MediaError: the folder holds no image.
    """
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MediaError(f'{folder} holds no images ({", ".join(IMAGE_SUFFIXES)}).')
    return files


def numbered_images(folder: Path) -> dict[int, Path]:
    """Map frame numbers to the images of ``folder`` (numbering in the module docstring).

    Raises:
        MediaError: the folder holds no image.
    """
    files = image_files(folder)
    numbers = [re.search(r'(\d+)$', p.stem) for p in files]
    if all(numbers) and len({int(m.group(1)) for m in numbers if m}) == len(files):
        return {int(m.group(1)): p for m, p in zip(numbers, files) if m}
    return dict(enumerate(files))


def read_image(file: Path) -> np.ndarray:
    """Decode one image file into an RGB array.

    Raises:
        MediaError: the file is not an image OpenCV can read.
    """
    bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f'{file} is not a readable image; remove it or replace it.')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class Video:
    """An open video file whose frames come back as RGB arrays; close it (or use ``with``).

    Iterating a freshly opened video yields ``(stamp, rgb)`` for every frame: the stamp is the
    frame's index over :attr:`fps`, or the video's own timestamp when it states no rate.

    Args:
        file: a video OpenCV can open (mp4, avi, mkv, ...).

    Raises:
        MediaError: OpenCV cannot open the file.
    """

    def __init__(self, file: Path) -> None:
        self.file = file
        self._capture = cv2.VideoCapture(str(file))
        if not self._capture.isOpened():
            raise MediaError(f'{file} is not a video OpenCV can open; convert it to mp4 or give a '
                             'folder of images.')
        rate = self._capture.get(cv2.CAP_PROP_FPS)
        #: Frames per second the file states; 0.0 when it states none.
        self.fps = float(rate) if rate > 0 and math.isfinite(rate) else 0.0

    def __enter__(self) -> Video:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the file."""
        self._capture.release()

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        index = 0
        while True:
            ok, bgr = self._capture.read()
            if not ok:
                return
            stamp = index / self.fps if self.fps else (
                self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            yield stamp, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1

    def read_numbered(self, numbers: Sequence[int]) -> list[np.ndarray]:
        """Decode the frames ``numbers`` (increasing), stopping early at the end of the video.

        Returns:
            The frames read, one per number from the first: fewer than asked when the video
            ends before the last.
        """
        if not numbers:
            return []
        capture = self._capture
        if numbers[0] > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, numbers[0])
        position = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
        images: list[np.ndarray] = []
        for number in numbers:
            while position < number:
                if not capture.grab():
                    return images
                position += 1
            ok, bgr = capture.read()
            if not ok:
                return images
            position += 1
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return images
