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

"""Embeddings from a local CLIP model: image features and text features.

``clip:FOLDER`` and ``clip-text:FOLDER`` name a folder holding a CLIP model saved by
``transformers`` (``config.json`` of model type ``clip``, the weights, and the processor's files:
image processor and tokenizer), such as a downloaded ``openai/clip-vit-base-patch32``. The
embeddings are ``get_image_features`` and ``get_text_features``: the projected, unnormalised
features CLIP compares. The model is loaded once per folder, on the CPU in float32.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vlm_planner.distance.embedders import Embedder
from vlm_planner.errors import ConfigError

#: Inputs per forward pass.
BATCH = 32

_EXPECTED = ('a local CLIP model folder saved by transformers (config.json of model type clip, '
             'model.safetensors, and the processor files: preprocessor or processor config and '
             'tokenizer), e.g. a downloaded openai/clip-vit-base-patch32')


def load_clip(folder: str, spec: str) -> tuple[Any, Any]:
    """Load the CLIP processor and model in ``folder`` (once per folder; see :func:`_loaded`).

    Args:
        folder: the CLIP model folder.
        spec: the option and specification, for messages (``--embedder clip:FOLDER``).

    Raises:
        ConfigError: the folder is missing, or holds no loadable CLIP model.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ConfigError(f'{spec}: the CLIP model folder {path} does not exist; give '
                          f'{_EXPECTED}.')
    if not (path / 'config.json').is_file():
        raise ConfigError(f'{spec}: {path} holds no config.json, so it is not a model folder; '
                          f'give {_EXPECTED}.')
    try:
        model_type = json.loads((path / 'config.json').read_text(encoding='utf-8'))['model_type']
    except (OSError, ValueError, KeyError, TypeError):
        model_type = None
    if model_type != 'clip':
        raise ConfigError(f'{spec}: {path / "config.json"} is of model type {model_type!r}, not '
                          f"'clip'; give {_EXPECTED}.")
    try:
        return _loaded(str(path.resolve()))
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds of errors
        raise ConfigError(f'{spec}: cannot load a CLIP model from {path}: {exc}; give '
                          f'{_EXPECTED}.') from None


@functools.lru_cache(maxsize=2)
def _loaded(folder: str) -> tuple[Any, Any]:
    """The processor and model in ``folder``, float32 on the CPU, in eval mode."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(folder, local_files_only=True)
    processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    model.float().eval()
    return processor, model


def features(output: Any) -> torch.Tensor:
    """The feature rows of ``get_*_features``: a tensor, or a model output's ``pooler_output``."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class _ClipEmbedder(Embedder):
    """A CLIP tower's features of inputs, in batches of :data:`BATCH`.

    Args:
        folder: the CLIP model folder.
        spec: the embedder specification, for messages and reports.
        option: the command-line option that named it, for messages.

    Raises:
        ConfigError: see :func:`load_clip`.
    """

    def __init__(self, folder: str, spec: str, option: str) -> None:
        self.spec = spec
        self.processor, self.model = load_clip(folder, f'{option} {spec}')

    def embed(self, inputs: Sequence[Any]) -> np.ndarray:
        """Return the features of each input."""
        rows = []
        with torch.no_grad():
            for start in range(0, len(inputs), BATCH):
                output = self._features(list(inputs[start:start + BATCH]))
                rows.append(features(output).float().numpy())
        return np.concatenate(rows).astype(np.float64)

    def _features(self, batch: list[Any]) -> Any:
        raise NotImplementedError


class ClipImageEmbedder(_ClipEmbedder):
    """A CLIP model's image features of RGB frames (``--embedder clip:FOLDER``)."""

    def __init__(self, folder: str, spec: str) -> None:
        super().__init__(folder, spec, '--embedder')

    def _features(self, batch: list[np.ndarray]) -> Any:
        pixels = self.processor(images=batch, return_tensors='pt')['pixel_values']
        return self.model.get_image_features(pixel_values=pixels)


class ClipTextEmbedder(_ClipEmbedder):
    """A CLIP model's text features (``--text-embedder clip-text:FOLDER``).

    Texts longer than the model's context are truncated.
    """

    def __init__(self, folder: str, spec: str) -> None:
        super().__init__(folder, spec, '--text-embedder')

    def _features(self, batch: list[str]) -> Any:
        tokens = self.processor(text=batch, padding=True, truncation=True, return_tensors='pt')
        return self.model.get_text_features(input_ids=tokens['input_ids'],
                                            attention_mask=tokens['attention_mask'])
