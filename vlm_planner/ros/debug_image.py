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

"""A camera frame annotated with the planner's decision, for a debug image topic or a video.

Pure OpenCV and numpy, so it can be used and tested without ROS.
"""

from __future__ import annotations

import cv2
import numpy as np

from vlm_planner.errors import ImageConversionError

#: Narrower frames are upscaled to this width so the text stays readable.
MIN_WIDTH = 480

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BANNER_ALPHA = 0.6  # how much the banner darkens the frame under it
# Colours are RGB, like the frames.
_WHITE = (255, 255, 255)
_GREY = (200, 200, 200)
_GREEN = (80, 230, 80)
_YELLOW = (255, 210, 60)
_RED = (220, 30, 30)


def annotate_decision(rgb: np.ndarray, *, label: str, confidence: float | None, strategy: str,
                      latency_s: float, untrained: bool = False, goal: str = '') -> np.ndarray:
    """Return a copy of a frame with a banner showing the goal, the action and how it was chosen.

    The frame is upscaled (keeping its aspect ratio) to at least :data:`MIN_WIDTH` pixels wide,
    and padded at the bottom with black if it is too short for the banner. A semi-transparent
    banner at the top shows the goal, the chosen action with its confidence, the strategy and the
    latency; with ``untrained`` a red 'UNTRAINED MODEL' tag is drawn in the bottom left corner.
    Text that does not fit is cut short with '...'; characters OpenCV cannot draw become '?'.

    Args:
        rgb: ``H x W x 3`` uint8 frame in RGB order; it is not modified.
        label: the chosen action.
        confidence: the model's confidence in 0..1, or ``None`` when it gave none.
        strategy: how the action was chosen (for example ``'constrained'`` or ``'generate'``).
        latency_s: time the decision took, in seconds.
        untrained: whether the model has not been fine-tuned for this task.
        goal: the task goal; the goal line is left out when empty.

    Returns:
        A new ``H' x W' x 3`` uint8 RGB array with ``W' >= max(W, MIN_WIDTH)``.

    Raises:
        ImageConversionError: ``rgb`` is not a non-empty ``H x W x 3`` uint8 array.
    """
    if (not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3
            or rgb.dtype != np.uint8 or rgb.shape[0] == 0 or rgb.shape[1] == 0):
        raise ImageConversionError(
            f'annotate_decision needs a non-empty H x W x 3 uint8 RGB frame, got '
            f'{type(rgb).__name__} with shape {getattr(rgb, "shape", None)} and dtype '
            f'{getattr(rgb, "dtype", None)}; convert the frame with image_msg_to_rgb first.')

    height, width = rgb.shape[:2]
    if width < MIN_WIDTH:
        new_height = max(1, round(height * MIN_WIDTH / width))
        canvas = cv2.resize(rgb, (MIN_WIDTH, new_height), interpolation=cv2.INTER_LINEAR)
    else:
        canvas = rgb.copy()
    width = canvas.shape[1]

    # Text size follows the width, so a 1920 px frame gets proportionally larger text.
    scale = width / 960.0 + 0.15
    thickness = max(1, round(scale * 2))
    line_height = cv2.getTextSize('Ag', _FONT, scale, thickness)[0][1] * 2
    margin = max(4, line_height // 3)

    confidence_text = 'n/a' if confidence is None else f'{confidence:.2f}'
    lines = []
    if goal:
        lines.append((f'goal: {goal}', _GREY))
    action_colour = _GREEN if confidence is None or confidence >= 0.5 else _YELLOW
    lines.append((f'action: {label}   conf: {confidence_text}', action_colour))
    lines.append((f'strategy: {strategy}   latency: {_format_latency(latency_s)}', _WHITE))

    banner_height = margin + line_height * len(lines)
    tag_height = line_height + 2 * margin if untrained else 0
    needed_height = banner_height + tag_height + margin
    if canvas.shape[0] < needed_height:
        pad = np.zeros((needed_height - canvas.shape[0], width, 3), dtype=np.uint8)
        canvas = np.concatenate([canvas, pad], axis=0)
    canvas = np.ascontiguousarray(canvas)

    banner = canvas[:banner_height]
    banner[...] = (banner.astype(np.float32) * (1.0 - _BANNER_ALPHA)).astype(np.uint8)
    max_text_width = width - 2 * margin
    for index, (text, colour) in enumerate(lines):
        text = _fit(_ascii(text), max_text_width, scale, thickness)
        baseline_y = margin + line_height * index + (line_height * 3) // 4
        cv2.putText(canvas, text, (margin, baseline_y), _FONT, scale, colour, thickness,
                    cv2.LINE_AA)

    if untrained:
        tag = _fit('UNTRAINED MODEL', max_text_width - 2 * margin, scale, thickness)
        (tag_width, tag_text_height), _ = cv2.getTextSize(tag, _FONT, scale, thickness)
        bottom = canvas.shape[0] - margin
        top = bottom - tag_height
        cv2.rectangle(canvas, (margin, top), (margin + tag_width + 2 * margin, bottom), _RED,
                      cv2.FILLED)
        cv2.putText(canvas, tag, (2 * margin, top + (tag_height + tag_text_height) // 2), _FONT,
                    scale, _WHITE, thickness, cv2.LINE_AA)
    return canvas


def _format_latency(latency_s: float) -> str:
    """Show a latency in milliseconds below one second, in seconds above."""
    if latency_s < 1.0:
        return f'{latency_s * 1000.0:.0f} ms'
    return f'{latency_s:.2f} s'


def _ascii(text: str) -> str:
    """Replace what OpenCV's Hershey fonts cannot draw (non-ASCII, control characters) by '?'."""
    return ''.join(c if ' ' <= c <= '~' else '?' for c in text)


def _fit(text: str, max_width: int, scale: float, thickness: int) -> str:
    """Cut ``text`` short with '...' until it is at most ``max_width`` pixels wide."""
    if cv2.getTextSize(text, _FONT, scale, thickness)[0][0] <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if cv2.getTextSize(text[:mid] + '...', _FONT, scale, thickness)[0][0] <= max_width:
            low = mid
        else:
            high = mid - 1
    return text[:low] + '...'
