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

"""Chat prompts as the planner builds them: messages mixing text, a video and an image.

Backends turn these into their model's native input (see :mod:`vlm_planner.models.base`).
"""

from __future__ import annotations

import dataclasses
from typing import Union

from vlm_planner.core.frames import Frame


@dataclasses.dataclass(frozen=True)
class TextPart:
    """Plain text inside a message."""

    text: str


@dataclasses.dataclass(frozen=True)
class VideoPart:
    """A clip of frames in time order (the keyframes of the task so far)."""

    frames: tuple[Frame, ...]


@dataclasses.dataclass(frozen=True)
class ImagePart:
    """A single image (the current observation)."""

    frame: Frame


Part = Union[TextPart, VideoPart, ImagePart]


@dataclasses.dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: str  # 'system', 'user' or 'assistant'
    content: tuple[Part, ...]

    @classmethod
    def text(cls, role: str, text: str) -> 'Message':
        """Build a text-only message."""
        return cls(role, (TextPart(text),))


@dataclasses.dataclass(frozen=True)
class Generation:
    """One generated reply."""

    text: str
    num_tokens: int
