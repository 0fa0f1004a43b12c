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

"""A bounded buffer of keyframes that summarises the task's progress so far.

Two policies decide which incoming frames become keyframes:

* ``interval``: keep a frame when at least ``min_interval`` seconds passed since the last keyframe.
* ``change``: keep a frame when it differs from the last keyframe by more than ``change_threshold``
  (mean absolute difference of small grey thumbnails, 0..1) and ``min_interval`` has passed.

When the buffer is full, the keyframe whose removal leaves the most even coverage of the task is
dropped (the one closest in time to its predecessor), so the first frame of the task and a spread
of the rest survive. The newest frame seen is always part of :meth:`KeyframeBuffer.snapshot`,
kept or not, because the planner must see the current state.
"""

from __future__ import annotations

import dataclasses
import threading
import numpy as np

from vlm_planner.core.frames import Frame, frame_difference, thumbnail
from vlm_planner.params import check_fields, option

POLICIES = ('interval', 'change')


@dataclasses.dataclass(frozen=True)
class KeyframeConfig:
    """How keyframes are chosen (see module docstring); the ``keyframes.*`` parameters."""

    policy: str = option('change', "'change': keep a frame when the scene changed; 'interval': "
                         'keep one every keyframes.min_interval seconds.', choices=POLICIES)
    max_count: int = option(8, 'Most keyframes kept; the first of the task always stays.',
                            minimum=1)
    min_interval: float = option(0.5, 'Seconds between keyframes, at least.', minimum=0.0)
    change_threshold: float = option(
        0.02, "'change' policy: mean absolute difference of small grey thumbnails (0..1) that "
        'makes a keyframe.', minimum=0.0, maximum=1.0)

    def __post_init__(self) -> None:
        check_fields(self, 'keyframes.')


class KeyframeBuffer:
    """Thread-safe keyframe store; ``add`` is cheap enough to call from an image callback."""

    def __init__(self, config: KeyframeConfig | None = None) -> None:
        self.config = config or KeyframeConfig()
        self._lock = threading.Lock()
        self._keyframes: list[Frame] = []
        self._last_thumb: np.ndarray | None = None
        self._latest: Frame | None = None

    def add(self, frame: Frame) -> bool:
        """Offer a frame; return True when it was kept as a keyframe.

        Frames older than the newest one seen are ignored (out-of-order delivery).
        """
        with self._lock:
            if self._latest is not None and frame.stamp < self._latest.stamp:
                return False
            self._latest = frame
            keep, thumb = self._should_keep(frame)
            if not keep:
                return False
            self._keyframes.append(frame)
            if thumb is not None:
                self._last_thumb = thumb
            if len(self._keyframes) > self.config.max_count:
                self._drop_one()
            return True

    def _should_keep(self, frame: Frame) -> tuple[bool, np.ndarray | None]:
        """Whether ``frame`` becomes a keyframe, and its thumbnail ('change' policy; else None).

        The thumbnail made for the comparison is returned so that a kept frame's is made once.
        """
        if self._keyframes and frame.stamp - self._keyframes[-1].stamp < self.config.min_interval:
            return False, None
        if self.config.policy == 'interval':
            return True, None
        thumb = thumbnail(frame.image)
        if not self._keyframes:
            return True, thumb
        if self._last_thumb is None:  # the policy changed to 'change' mid-task
            self._last_thumb = thumbnail(self._keyframes[-1].image)
        return frame_difference(thumb, self._last_thumb) > self.config.change_threshold, thumb

    def _drop_one(self) -> None:
        # Never drop the first keyframe (the task's start) nor the newest, unless only one fits.
        if len(self._keyframes) <= 2:
            del self._keyframes[0]
            return
        stamps = [f.stamp for f in self._keyframes]
        gaps = [stamps[i] - stamps[i - 1] for i in range(1, len(stamps) - 1)]
        del self._keyframes[1 + int(np.argmin(gaps))]

    @property
    def latest(self) -> Frame | None:
        """The newest frame offered, kept or not."""
        with self._lock:
            return self._latest

    def __len__(self) -> int:
        with self._lock:
            return len(self._keyframes)

    def snapshot(self) -> list[Frame]:
        """Keyframes in time order, ending with the newest frame seen (at most max_count + 1)."""
        with self._lock:
            frames = list(self._keyframes)
            if self._latest is not None and (not frames or frames[-1] is not self._latest):
                frames.append(self._latest)
            return frames

    def reset(self, keep_latest: bool = False) -> None:
        """Forget the task so far; with ``keep_latest`` the newest frame starts the next task."""
        with self._lock:
            latest = self._latest if keep_latest else None
            self._keyframes.clear()
            self._last_thumb = None
            self._latest = None
        if latest is not None:
            self.add(latest)
