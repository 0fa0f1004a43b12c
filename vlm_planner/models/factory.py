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
BACKENDS = ('tiny', 'transformers')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which model runs and how.

    Attributes:
        backend: ``'transformers'`` (a local model folder) or ``'tiny'`` (an untrained random
            model of a real architecture, built offline and cached; for tests and demos).
        path: model folder for ``'transformers'``; unused by ``'tiny'``.
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        dtype: ``'auto'``, ``'bfloat16'``, ``'float16'`` or ``'float32'``.
        attn_implementation: attention kernel (``'sdpa'``, ``'flash_attention_2'``, ...); empty for
            the model's default.
        max_frames: most video frames sent per prompt.
        max_pixels: pixel budget per frame or image before the model's own processor.
        trust_remote_code: allow code shipped in the model folder to run.
        tiny_arch: architecture of the ``'tiny'`` model.
        seed: seed of the ``'tiny'`` model's random weights.
    """

    backend: str = 'transformers'
    path: str = ''
    device: str = 'auto'
    dtype: str = 'auto'
    attn_implementation: str = ''
    max_frames: int = 8
    max_pixels: int = 448 * 448
    trust_remote_code: bool = False
    tiny_arch: str = 'qwen2_5_vl'
    seed: int = 0

    def __post_init__(self) -> None:
        """Reject an unknown backend and non-positive limits."""
        if self.backend not in BACKENDS:
            raise ConfigError(
                f'model.backend is {self.backend!r}; choose one of {", ".join(BACKENDS)}.')
        if self.max_frames < 1:
            raise ConfigError(f'model.max_frames must be at least 1, got {self.max_frames}.')
        if self.max_pixels < 1:
            raise ConfigError(f'model.max_pixels must be at least 1, got {self.max_pixels}.')


def load_backend(config: ModelConfig) -> VLMBackend:
    """Load the backend ``config`` describes.

    The returned backend has an ``untrained`` attribute, True when its model is a random tiny build
    whose choices mean nothing.

    Raises:
        ConfigError: the configuration is incomplete or invalid.
        ModelLoadError: the model cannot be loaded.
    """
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
        max_pixels=config.max_pixels, trust_remote_code=config.trust_remote_code)
    if backend.untrained:
        logger.warning(
            'Model %s is randomly initialised and untrained: its choices are random. Use it to '
            'test the pipeline, not to control a robot.', backend.name)
    return backend
