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

"""Embeddings from the planner's own model: its vision tower and its input token embeddings.

``MODEL`` is a model specification (:mod:`vlm_planner.models.spec`) of a local model: ``tiny``
or ``tiny:ARCH`` (built offline into the cache), ``demo`` (the shipped demo model), or a model or
LoRA adapter folder. The folder is found as ``vlm-planner finetune`` finds its base model and
loaded once on the CPU in float32, whichever embedders use it.

* :class:`VisionTowerEmbedder`: each frame goes through the model's image processor and its
  vision tower; the embedding is the mean of the tower's output tokens (the merged tokens the
  language model receives, ``pooler_output``, where the tower returns them). Supported: the
  Qwen-VL family (:data:`VISION_ARCHS`), whose towers take ``pixel_values`` and
  ``grid_thw``.
* :class:`TokenEmbedder`: the mean of the input embedding rows of the text's tokens (no special
  tokens, no chat template).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from vlm_planner.distance.embedders import Embedder
from vlm_planner.errors import ConfigError

#: Model types whose vision tower :class:`VisionTowerEmbedder` knows how to call.
VISION_ARCHS = ('qwen2_vl', 'qwen2_5_vl', 'qwen3_vl')


def model_folder(model: str, values: Mapping[str, Any]) -> Path:
    """The local folder of the model specification ``model``.

    Raises:
        ConfigError: the specification is malformed, names a missing folder, a served model, or
            the demo model where it was not built.
    """
    from vlm_planner.models.spec import parse_model_spec
    from vlm_planner.train.modeling import base_folder

    backend = parse_model_spec(model).parameters['model.backend']
    if backend == 'demo':
        from vlm_planner.models.backends import demo
        return demo.demo_model_folder()
    if backend not in ('tiny', 'transformers'):
        raise ConfigError(f'model {model!r} runs on the {backend} backend, without local '
                          'weights; the embedders need a local model: tiny, tiny:ARCH, demo, or '
                          'a model or LoRA adapter folder.')
    return base_folder(model, values)


@functools.lru_cache(maxsize=2)
def load_model(folder: str) -> tuple[Any, Any]:
    """Load the processor and model in ``folder`` (float32, CPU, eval mode), once per folder.

    Raises:
        ModelLoadError: the folder holds no loadable model.
    """
    from vlm_planner.models.hf import load_pretrained
    processor, model = load_pretrained(folder, dtype=torch.float32)
    model.eval()
    return processor, model


def check_vision_arch(model_type: str, spec: str) -> None:
    """Refuse a model whose vision tower :class:`VisionTowerEmbedder` cannot call.

    Raises:
        ConfigError: ``model_type`` is not in :data:`VISION_ARCHS`.
    """
    if model_type not in VISION_ARCHS:
        raise ConfigError(f'--embedder {spec}: the vision tower of {model_type or "this"} models '
                          f'is not supported (supported: {", ".join(VISION_ARCHS)}); use '
                          'clip:FOLDER, or a model of a supported architecture.')


def pooled_tokens(output: Any) -> torch.Tensor:
    """The mean over the output tokens of a vision tower's output (tensor or model output)."""
    if isinstance(output, torch.Tensor):
        tokens = output
    elif getattr(output, 'pooler_output', None) is not None:
        tokens = output.pooler_output
    else:
        tokens = output[0]
    return tokens.reshape(-1, tokens.shape[-1]).float().mean(dim=0)


class VisionTowerEmbedder(Embedder):
    """The planner model's vision tower, mean-pooled over its output tokens.

    Args:
        model: the model specification (``tiny``, ``demo``, a folder, ...).
        values: complete planner parameters (``model.tiny_arch`` refines ``tiny``).
        spec: the embedder specification, for messages and reports.

    Raises:
        ConfigError: the model is not local, missing, or of an unsupported architecture.
        ModelLoadError: the folder holds no loadable model.
    """

    def __init__(self, model: str, values: Mapping[str, Any], spec: str) -> None:
        self.spec = spec
        processor, self.model = load_model(str(model_folder(model, values)))
        check_vision_arch(str(getattr(self.model.config, 'model_type', '')), spec)
        from vlm_planner.train.modeling import vision_tower_names
        names = vision_tower_names(self.model)
        self.image_processor: Any = getattr(processor, 'image_processor', None)
        if not names or self.image_processor is None:
            raise ConfigError(f'--embedder {spec}: the model has no vision tower or no image '
                              'processor; give a vision-language model.')
        self.tower = self.model.get_submodule(names[0])

    def embed(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Return the mean output token of the vision tower for each RGB frame."""
        rows = []
        with torch.no_grad():
            for image in inputs:
                pixels = self.image_processor(images=[image], return_tensors='pt')
                output = self.tower(pixels['pixel_values'].to(self.model.dtype),
                                    grid_thw=pixels['image_grid_thw'])
                rows.append(pooled_tokens(output).numpy())
        return np.stack(rows).astype(np.float64)


class TokenEmbedder(Embedder):
    """The mean of the planner model's input token embeddings over a text's tokens.

    Args:
        model: the model specification (``tiny``, ``demo``, a folder, ...).
        values: complete planner parameters (``model.tiny_arch`` refines ``tiny``).
        spec: the embedder specification, for messages and reports.

    Raises:
        ConfigError: the model is not local or missing.
        ModelLoadError: the folder holds no loadable model.
    """

    def __init__(self, model: str, values: Mapping[str, Any], spec: str) -> None:
        self.spec = spec
        processor, loaded = load_model(str(model_folder(model, values)))
        self.tokenizer = getattr(processor, 'tokenizer', processor)
        self.table = loaded.get_input_embeddings().weight.detach().float()

    def embed(self, inputs: Sequence[str]) -> np.ndarray:
        """Return the mean input embedding of each text's tokens.

        Raises:
            ConfigError: a text has no token.
        """
        rows = []
        for text in inputs:
            ids = self.tokenizer(text, add_special_tokens=False)['input_ids']
            if not ids:
                raise ConfigError(f'--text-embedder {self.spec}: the text {text!r} has no token '
                                  'to embed.')
            rows.append(self.table[torch.as_tensor(ids)].mean(dim=0).numpy())
        return np.stack(rows).astype(np.float64)
