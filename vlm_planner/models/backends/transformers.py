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

"""The ``transformers`` backend: a local model folder run by :mod:`vlm_planner.models.hf`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vlm_planner.errors import ConfigError
from vlm_planner.models.registry import register_backend

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend
    from vlm_planner.models.factory import ModelConfig


@register_backend('transformers', order=1)
def load(config: ModelConfig) -> VLMBackend:
    """Load the model folder ``config.path`` with transformers.

    Raises:
        ConfigError: ``config.path`` is empty or a setting is invalid.
        ModelLoadError: the folder is missing, is not a model folder, or fails to load.
    """
    if not config.path:
        raise ConfigError(
            'model.path is empty: set it to a local model folder (config.json + safetensors '
            "weights), or set model.backend to 'tiny' for an untrained offline test model.")
    return load_folder(config, config.path)


def load_folder(config: ModelConfig, path: str | Path) -> VLMBackend:
    """Load the model folder ``path`` with transformers, with the other settings of ``config``."""
    from vlm_planner.models.hf import TransformersBackend

    return TransformersBackend(
        path=path, device=config.device, dtype=config.dtype,
        attn_implementation=config.attn_implementation, max_frames=config.max_frames,
        max_pixels=config.pixel_budget, trust_remote_code=config.trust_remote_code,
        quantization=config.quantization, keyframe_cache=config.keyframe_cache,
        prompt_reuse_tokens=config.prompt_reuse_tokens, video_fps=config.video_fps)
