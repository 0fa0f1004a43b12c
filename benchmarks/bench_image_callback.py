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

"""Cost of the planner's image callback: message conversion plus keyframe-buffer insertion.

Usage: ``python benchmarks/bench_image_callback.py [--repeat N]``. Prints a Markdown table of the
median time per frame for each encoding at VGA and full-HD size; docs/performance.md keeps the
numbers of a reference run. Columns: converting the message; converting it and offering the frame
to a ``change``-policy keyframe buffer (the same message every time: compared, not kept); and
keyframe selection alone (``KeyframeBuffer.add``) in its worst case: each frame freshly converted
(not timed), as in the callback, and compared and kept (two different messages in turn).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np

from vlm_planner.core.frames import Frame
from vlm_planner.core.keyframes import KeyframeBuffer, KeyframeConfig
from vlm_planner.data.image_decoding import image_msg_to_rgb
from vlm_planner.ros.conversions import rgb_to_image_msg

SIZES = {'640x480': (480, 640), '1920x1080': (1080, 1920)}
ENCODINGS = ('rgb8', 'bgr8', 'mono8', 'yuv422')


def make_message(shape, encoding, rng):
    """A camera message of ``shape`` in ``encoding`` with random content."""
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    if encoding == 'yuv422':
        msg = rgb_to_image_msg(rgb, 'rgb8')
        msg.encoding, msg.step = 'yuv422', shape[1] * 2
        msg.data = rng.integers(0, 256, shape[0] * shape[1] * 2, dtype=np.uint8).tobytes()
        return msg
    return rgb_to_image_msg(rgb, encoding)


def keyframe_add_ms(messages, repeat):
    """Median time (ms) of adding a freshly converted frame that is compared and kept.

    ``messages`` take turns, so each frame differs from the last keyframe.
    """
    buffer = KeyframeBuffer(KeyframeConfig(policy='change', min_interval=0.0))
    turns = itertools.cycle(messages)
    times = []
    for stamp in range(repeat):
        frame = Frame(image_msg_to_rgb(next(turns)), stamp)
        start = time.perf_counter()
        kept = buffer.add(frame)
        times.append(time.perf_counter() - start)
        assert kept, 'every frame should differ from the last keyframe'
    return statistics.median(times) * 1000


def median_ms(fn, repeat):
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print('| size | encoding | convert (ms) | convert + keyframe add (ms) '
          '| keyframe add, kept (ms) |')
    print('| --- | --- | --- | --- | --- |')
    for size, shape in SIZES.items():
        for encoding in ENCODINGS:
            msg = make_message(shape, encoding, rng)
            buffer = KeyframeBuffer(KeyframeConfig(policy='change', min_interval=0.0))
            stamp = iter(range(10**9))
            convert = median_ms(lambda: image_msg_to_rgb(msg), args.repeat)
            both = median_ms(lambda: buffer.add(Frame(image_msg_to_rgb(msg), next(stamp))),
                             args.repeat)
            kept = keyframe_add_ms((msg, make_message(shape, encoding, rng)), args.repeat)
            print(f'| {size} | {encoding} | {convert:.2f} | {both:.2f} | {kept:.2f} |')


if __name__ == '__main__':
    main()
