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

"""The protocol every model backend implements, and the chat-prompt types it consumes.

A prompt is a list of chat messages whose content mixes text, a video (the keyframes of the task's
progress) and an image (the current frame). Backends turn it into their model's native input. The
planner asks every backend two things, and those that can a third:

* :meth:`VLMBackend.score_letters`: the log-probability of each answer letter as the first token of
  the assistant's reply (one forward pass);
* :meth:`VLMBackend.generate`: free text, one or several samples;
* :meth:`VLMBackend.score_continuations`: the log-likelihood of whole candidate answers (the
  default raises :class:`~vlm_planner.errors.ConfigError`; :attr:`VLMBackend.supports_likelihood`
  says beforehand, and :func:`check_scoring` turns that into an error at configuration time).

Every backend also carries a :class:`~vlm_planner.models.model_card.ModelCard` (:attr:`card`):
whether the model is untrained, what it was trained on, and the planner parameters it is best asked
with.
"""

from __future__ import annotations

import abc
import concurrent.futures
import threading
from typing import Callable, Sequence, TypeVar

import numpy as np

from vlm_planner.core.chat import Generation, Message
from vlm_planner.errors import ConfigError
from vlm_planner.models.model_card import ModelCard
from vlm_planner.models.stage_times import StageTimes

T = TypeVar('T')
R = TypeVar('R')

#: Per thread, the sampling seed of each backend (by id), see :meth:`VLMBackend.reseed`.
_SEEDS = threading.local()


class VLMBackend(abc.ABC):
    """A video-language model that can answer planning questions."""

    #: Short name reported in decision records (for example the model folder's name).
    name: str = 'model'

    #: What the model's folder says about it; the default card (trained, nothing recommended)
    #: for backends without one, such as a model server.
    card: ModelCard = ModelCard()

    #: Time per stage of the model calls since its last reset, for backends that measure it
    #: (the planner resets it before each decision and records it); None where not measured.
    stages: StageTimes | None = None

    #: Most requests it answers at once when asked about several items (a model server answers
    #: requests concurrently); the ``*_many`` methods keep at most this many in flight.
    max_in_flight: int = 1

    def score_letters_many(self, prompts: Sequence[Sequence[Message]],
                           letters: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Return :meth:`score_letters` of several prompts.

        In one batched pass where the backend can, else up to :attr:`max_in_flight` at once.
        """
        return in_flight(lambda args: self.score_letters(*args), list(zip(prompts, letters)),
                         self.max_in_flight)

    def score_continuations_many(self, prompts: Sequence[Sequence[Message]],
                                 continuations: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """:meth:`score_continuations` of several prompts (see :meth:`score_letters_many`)."""
        return in_flight(lambda args: self.score_continuations(*args),
                         list(zip(prompts, continuations)), self.max_in_flight)

    @property
    def sampling_seed(self) -> int | None:
        """The seed sampled generations on this thread start from (:meth:`reseed`), or None."""
        return getattr(_SEEDS, str(id(self)), None)

    def reseed(self, seed: int | None) -> None:
        """Make sampled replies from now on repeatable: each sampled generation starts at ``seed``.

        The evaluator sets one seed per item, so a rerun repeats self-consistency's samples;
        None restores the free-running random state. The seed holds for the calling thread
        only, so items asked concurrently keep their own. Backends that cannot seed ignore it.
        """
        setattr(_SEEDS, str(id(self)), seed)

    @property
    def caching(self) -> str:
        """What the backend keeps between decisions to answer faster, in words."""
        return 'nothing'

    @property
    def untrained(self) -> bool:
        """True when the model's weights are random: its choices mean nothing (see :attr:`card`).

        Decisions record it, the live node reports it on diagnostics and the debug image.
        """
        return self.card.untrained

    @property
    def supports_likelihood(self) -> bool:
        """Whether :meth:`score_continuations` works (``strategy.scoring`` ``'likelihood'``).

        True exactly when the backend overrides it; a backend may also set it as a class attribute.
        """
        return type(self).score_continuations is not VLMBackend.score_continuations

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

    def score_continuations(self, messages: Sequence[Message],
                            continuations: Sequence[str]) -> np.ndarray:
        """Return the mean log-probability per token of each continuation as the reply.

        EgoPlan-Bench ranks candidate answers by their loss as the assistant's reply; this is the
        negative of that loss, so higher is better. Backends that support it compute the prompt
        once and score every continuation from it. The default supports nothing.

        Args:
            messages: the conversation; the assistant's reply starts right after it.
            continuations: candidate replies, for example the action labels.

        Returns:
            One score per continuation: the mean over its tokens of their log-probabilities.

        Raises:
            ConfigError: the backend cannot score full answers (see :attr:`supports_likelihood`).
        """
        raise ConfigError(_no_likelihood(self))

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to release
        """Release resources (GPU memory, connections)."""

    def interrupt(self) -> None:  # noqa: B027 - optional hook, for backends that can stop early
        """Ask a generation running on another thread to stop soon (the node is shutting down).

        Thread-safe. What was generated so far is returned; later calls run normally.
        """


def check_scoring(backend: VLMBackend, scoring: str) -> None:
    """Refuse a ``strategy.scoring`` the backend cannot do, before any question is asked.

    Call it when the planner is configured and whenever ``strategy.scoring`` changes at run time.

    Args:
        backend: the loaded backend.
        scoring: the value of ``strategy.scoring``: ``'letter'`` or ``'likelihood'``.

    Raises:
        ConfigError: ``scoring`` is ``'likelihood'`` and the backend cannot score whole answers.
    """
    if scoring == 'likelihood' and not backend.supports_likelihood:
        raise ConfigError(_no_likelihood(backend))


def _no_likelihood(backend: VLMBackend) -> str:
    return (f"strategy.scoring 'likelihood' needs a backend that scores whole answers, and "
            f'backend {backend.name} ({type(backend).__name__}) cannot. Set '
            f'strategy.scoring:=letter, or run the model from its folder with '
            f'model.backend:=transformers.')


def in_flight(function: Callable[[T], R], items: Sequence[T], limit: int) -> list[R]:
    """``function`` of each item, in order, with at most ``limit`` calls running at once."""
    if limit <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(limit, len(items))) as pool:
        return list(pool.map(function, items))


def check_generation_args(num_samples: int, temperature: float, max_new_tokens: int) -> None:
    """Raise ValueError when an argument of :meth:`VLMBackend.generate` is out of range."""
    if num_samples < 1:
        raise ValueError(f'num_samples must be at least 1, got {num_samples}')
    if temperature < 0:
        raise ValueError(f'temperature must be >= 0, got {temperature}')
    if max_new_tokens < 1:
        raise ValueError(f'max_new_tokens must be at least 1, got {max_new_tokens}')
