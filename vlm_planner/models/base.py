"""The protocol every model backend implements, and the chat-prompt types it consumes.

A prompt is a list of chat messages whose content mixes text, a video (the keyframes of the task's
progress) and an image (the current frame). Backends turn it into their model's native input. The
planner only ever asks two things of a backend:

* :meth:`VLMBackend.score_letters`: the log-probability of each answer letter as the first token of
  the assistant's reply (one forward pass);
* :meth:`VLMBackend.generate`: free text, one or several samples.
"""

from __future__ import annotations

import abc
from typing import Sequence

import numpy as np

from vlm_planner.core.chat import Generation, Message


class VLMBackend(abc.ABC):
    """A video-language model that can answer planning questions."""

    #: Short name reported in decision records (for example the model folder's name).
    name: str = 'model'

    @abc.abstractmethod
    def score_letters(self, messages: Sequence[Message], letters: Sequence[str]) -> np.ndarray:
        """Return log-probabilities of each letter as the reply's start, normalised over them.

        Args:
            messages: the conversation; the assistant's reply starts right after it.
            letters: answer letters such as ``['A', 'B', 'C', 'D']``.
        """

    @abc.abstractmethod
    def generate(self, messages: Sequence[Message], *, num_samples: int = 1,
                 temperature: float = 0.0, max_new_tokens: int = 128) -> list[Generation]:
        """Generate ``num_samples`` replies (greedy when temperature is 0), as one batch."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to release
        """Release resources (GPU memory, connections)."""
