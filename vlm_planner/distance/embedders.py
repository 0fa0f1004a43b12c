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

"""Embedders: what turns a frame or a text into a vector, named by a specification.

Visual embedders (``--embedder``) take H x W x 3 uint8 RGB frames:

* ``vision:MODEL``: the planner model's own vision tower (:mod:`.planner_model`), mean-pooled
  over its output tokens; ``MODEL`` as ``--model`` of ``plan`` and ``eval`` takes it, for a
  local model (``tiny``, ``tiny:ARCH``, ``demo``, a model or LoRA adapter folder);
* ``clip:FOLDER``: a CLIP model's image features (:mod:`.clip`).

Text embedders (``--text-embedder``) take texts:

* ``tokens:MODEL``: the mean of the planner model's input token embeddings over the text's
  tokens (:mod:`.planner_model`);
* ``clip-text:FOLDER``: a CLIP model's text features (:mod:`.clip`);
* ``fasttext:FILE.vec`` or ``fasttext:FILE.bin``: the mean fastText word vector
  (:mod:`.word_vectors`).

Nothing is downloaded: every model and file is local, and a missing one is a
:class:`~vlm_planner.errors.ConfigError` naming the path and what belongs there.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from vlm_planner.errors import ConfigError, VlmPlannerError

#: The default embedders: the tiny planner model's vision tower and token embeddings.
DEFAULT_VISUAL = 'vision:tiny'
DEFAULT_TEXT = 'tokens:tiny'

#: The forms of each kind of specification, for messages and help texts.
VISUAL_FORMS = ('vision:MODEL', 'clip:FOLDER')
TEXT_FORMS = ('tokens:MODEL', 'clip-text:FOLDER', 'fasttext:FILE.vec', 'fasttext:FILE.bin')


class Embedder(abc.ABC):
    """Turns inputs (frames or texts) into one float64 row each.

    Attributes:
        spec: the specification the embedder was made from.
    """

    spec: str

    def prepare(self, inputs: Sequence[Any]) -> None:
        """Get ready for all ``inputs`` at once (such as reading their words); optional."""

    @abc.abstractmethod
    def embed(self, inputs: Sequence[Any]) -> np.ndarray:
        """Return a ``len(inputs) x d`` float64 array, one embedding per input."""


def visual_embedder(spec: str, values: Mapping[str, Any]) -> Embedder:
    """Return the visual embedder ``spec`` names (see the module docstring).

    Args:
        spec: ``vision:MODEL`` or ``clip:FOLDER``.
        values: complete planner parameters (``model.tiny_arch`` refines ``tiny``).

    Raises:
        ConfigError: the specification is malformed or names a missing or unusable model.
    """
    kind, argument = _split(spec, VISUAL_FORMS, '--embedder', TEXT_FORMS, '--text-embedder')
    with _named('--embedder', spec):
        if kind == 'vision':
            from vlm_planner.distance.planner_model import VisionTowerEmbedder
            return VisionTowerEmbedder(argument, values, spec)
        from vlm_planner.distance.clip import ClipImageEmbedder
        return ClipImageEmbedder(argument, spec)


def text_embedder(spec: str, values: Mapping[str, Any]) -> Embedder:
    """Return the text embedder ``spec`` names (see the module docstring).

    Args:
        spec: ``tokens:MODEL``, ``clip-text:FOLDER`` or ``fasttext:FILE``.
        values: complete planner parameters (``model.tiny_arch`` refines ``tiny``).

    Raises:
        ConfigError: the specification is malformed or names a missing or unusable model or file.
    """
    kind, argument = _split(spec, TEXT_FORMS, '--text-embedder', VISUAL_FORMS, '--embedder')
    with _named('--text-embedder', spec):
        if kind == 'tokens':
            from vlm_planner.distance.planner_model import TokenEmbedder
            return TokenEmbedder(argument, values, spec)
        if kind == 'clip-text':
            from vlm_planner.distance.clip import ClipTextEmbedder
            return ClipTextEmbedder(argument, spec)
        from vlm_planner.distance.word_vectors import WordVectorEmbedder
        return WordVectorEmbedder(argument, spec)


@contextlib.contextmanager
def _named(option: str, spec: str) -> Iterator[None]:
    """Start the message of an error of the block with ``option spec:`` (unless it does)."""
    try:
        yield
    except VlmPlannerError as exc:
        message = str(exc)
        if message.startswith(option):
            raise
        raise type(exc)(f'{option} {spec}: {message}') from exc.__cause__


def _split(spec: str, forms: Sequence[str], option: str, other_forms: Sequence[str],
           other_option: str) -> tuple[str, str]:
    """``spec``'s kind and argument, checked against ``forms``."""
    kind, sep, argument = spec.strip().partition(':')
    kinds = [form.partition(':')[0] for form in forms]
    accepted = f'{option} takes one of: {", ".join(forms)}'
    if kind not in kinds:
        others = [form.partition(':')[0] for form in other_forms]
        where = f' ({kind} is given with {other_option})' if kind in others else ''
        raise ConfigError(f'{option} {spec!r}: unknown embedder {kind!r}{where}; {accepted}.')
    if not sep or not argument.strip():
        raise ConfigError(f'{option} {spec!r}: nothing follows "{kind}:"; {accepted}.')
    return kind, argument.strip()
