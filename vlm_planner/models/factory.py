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

"""Choose and load a model backend from configuration.

Importing this module is cheap: torch and transformers load only when :func:`load_backend` runs, so
configuration parsing stays fast.
"""

from __future__ import annotations

import dataclasses
import logging

from vlm_planner.errors import ConfigError
from vlm_planner.models.base import VLMBackend

logger = logging.getLogger(__name__)

#: Backend names :class:`ModelConfig` accepts.
BACKENDS = ('tiny', 'transformers', 'openai')

#: Weight quantizations :class:`ModelConfig` accepts besides ``''`` (none).
QUANTIZATIONS = ('4bit', '8bit')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which model runs and how.

    Attributes:
        backend: ``'transformers'`` (a local model folder) or ``'tiny'`` (an untrained random
            model of a real architecture, built offline and cached; for tests and demos) or
            ``'openai'`` (a model served over an OpenAI-compatible API: vLLM, SGLang, llama.cpp
            server, Ollama).
        path: model folder for ``'transformers'``; unused by ``'tiny'``.
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        dtype: ``'auto'``, ``'bfloat16'``, ``'float16'`` or ``'float32'``.
        attn_implementation: attention kernel (``'sdpa'``, ``'flash_attention_2'``, ...); empty for
            the model's default.
        max_frames: most video frames sent per prompt.
        max_pixels: pixel budget per frame or image before the model's own processor.
        trust_remote_code: allow code shipped in the model folder to run.
        quantization: ``''`` (weights as ``dtype``), ``'4bit'`` or ``'8bit'`` for the local
            backends; loads with bitsandbytes, which needs a CUDA GPU.
        tiny_arch: architecture of the ``'tiny'`` model.
        seed: seed of the ``'tiny'`` model's random weights.
        url: API root of the ``'openai'`` server, such as ``http://localhost:8000/v1``.
        api_model: served model name for ``'openai'``; empty for the first one the server lists.
        timeout: seconds the ``'openai'`` server may take to connect and then per read.
        retries: extra attempts after a connection error, 5xx or 429 answer of the server.
    """

    backend: str = 'transformers'
    path: str = ''
    device: str = 'auto'
    dtype: str = 'auto'
    attn_implementation: str = ''
    max_frames: int = 8
    max_pixels: int = 448 * 448
    trust_remote_code: bool = False
    quantization: str = ''
    tiny_arch: str = 'qwen2_5_vl'
    seed: int = 0
    url: str = ''
    api_model: str = ''
    timeout: float = 60.0
    retries: int = 2

    def __post_init__(self) -> None:
        """Reject an unknown backend or quantization and non-positive limits."""
        if self.backend not in BACKENDS:
            raise ConfigError(
                f'model.backend is {self.backend!r}; choose one of {", ".join(BACKENDS)}.')
        if self.max_frames < 1:
            raise ConfigError(f'model.max_frames must be at least 1, got {self.max_frames}.')
        if self.max_pixels < 1:
            raise ConfigError(f'model.max_pixels must be at least 1, got {self.max_pixels}.')
        if self.quantization and self.quantization not in QUANTIZATIONS:
            raise ConfigError(f'model.quantization is {self.quantization!r}; use an empty string '
                              f'(none), {", ".join(QUANTIZATIONS)}.')
        if not self.timeout > 0:
            raise ConfigError(f'model.timeout must be positive, got {self.timeout}.')
        if self.retries < 0:
            raise ConfigError(f'model.retries must be at least 0, got {self.retries}.')


def load_backend(config: ModelConfig) -> VLMBackend:
    """Load the backend ``config`` describes.

    The returned backend has an ``untrained`` attribute, True when its model is a random tiny build
    whose choices mean nothing.

    Raises:
        ConfigError: the configuration is incomplete or invalid.
        ModelLoadError: the model cannot be loaded.
    """
    if config.backend == 'openai':
        return _openai_backend(config)
    from vlm_planner.models.hf import TransformersBackend

    if config.backend == 'tiny':
        from vlm_planner.models.tiny import ensure_tiny_model

        if config.path:
            logger.warning('model.path %r is ignored by the tiny backend.', config.path)
        path = ensure_tiny_model(arch=config.tiny_arch, seed=config.seed)
    elif not config.path:
        raise ConfigError(
            'model.path is empty: set it to a local model folder (config.json + safetensors '
            "weights), or set model.backend to 'tiny' for an untrained offline test model.")
    else:
        path = config.path
    backend = TransformersBackend(
        path=path, device=config.device, dtype=config.dtype,
        attn_implementation=config.attn_implementation, max_frames=config.max_frames,
        max_pixels=config.max_pixels, trust_remote_code=config.trust_remote_code,
        quantization=config.quantization)
    if backend.untrained:
        logger.warning(
            'Model %s is randomly initialised and untrained: its choices are random. Use it to '
            'test the pipeline, not to control a robot.', backend.name)
    return backend


def _openai_backend(config: ModelConfig) -> VLMBackend:
    """Configure a client of an OpenAI-compatible server; nothing is sent until it is asked."""
    from vlm_planner.models.openai_server import OpenAIServerBackend

    if not config.url:
        raise ConfigError(
            'model.url is empty: set it to the API root of the model server, such as '
            'http://localhost:8000/v1 for `vllm serve MODEL`.')
    if config.path:
        logger.warning('model.path %r is ignored by the openai backend.', config.path)
    return OpenAIServerBackend(
        base_url=config.url, model=config.api_model, timeout=config.timeout,
        retries=config.retries, max_frames=config.max_frames, max_pixels=config.max_pixels)
