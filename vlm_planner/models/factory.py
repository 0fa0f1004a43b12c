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

Backends register themselves by name (:mod:`.registry`, one module each in :mod:`.backends`);
:func:`load_backend` dispatches ``model.backend`` to the registered loader. Importing this module
is cheap: torch and transformers load only when a loader runs, so configuration parsing stays
fast.
"""

from __future__ import annotations

import dataclasses
import logging

from vlm_planner.params import check_fields, option
from vlm_planner.models.base import VLMBackend
from vlm_planner.models.registry import backend_names, get_backend_loader

logger = logging.getLogger(__name__)

#: Backend names registered when this module was imported (``tiny``, ``transformers``,
#: ``openai`` first); :func:`~vlm_planner.models.registry.backend_names` gives the current ones.
BACKENDS = backend_names()

#: Architecture of the ``'tiny'`` model when none is given.
DEFAULT_TINY_ARCH = 'qwen2_5_vl'

#: Weight quantizations :class:`ModelConfig` accepts besides ``''`` (none).
QUANTIZATIONS = ('4bit', '8bit')


#: Pixel budget per frame when ``model.max_pixels`` is 0.
DEFAULT_MAX_PIXELS = 448 * 448


def _tiny_archs() -> tuple[str, ...]:
    from vlm_planner.models.tiny import SUPPORTED_ARCHS
    return tuple(SUPPORTED_ARCHS)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which model runs and how: the ``model.*`` parameters.

    The backend-specific fields (``path``, ``tiny_arch``, ``url``...) are read only by the
    backend they name. ``seed`` (of the tiny model's random weights) is no parameter.
    """

    backend: str = option(
        'demo', "A registered backend. 'transformers': a local Hugging Face video VLM folder "
        "(model.path). 'openai': a model served over an OpenAI-compatible API (model.url: vLLM, "
        "SGLang, llama.cpp server, Ollama). 'tiny': a tiny randomly initialised model of a real "
        "architecture (model.tiny_arch) built offline; its choices are untrained. 'demo': the "
        'tabletop planner that `make demo-model` trains into vlm_planner/resources/demo_model.',
        choices=backend_names)
    path: str = option('', 'Local model folder (config.json + safetensors) for the '
                       'transformers backend.')
    tiny_arch: str = option(DEFAULT_TINY_ARCH, "Architecture of the 'tiny' model.",
                            choices=_tiny_archs)
    url: str = option('', "API root of the 'openai' backend, e.g. http://localhost:8000/v1. The "
                      'key comes from VLM_PLANNER_API_KEY or OPENAI_API_KEY, if set.')
    api_model: str = option('', "Served model name for the 'openai' backend. Empty: the first "
                            'one the server lists.')
    timeout: float = option(60.0, "Seconds the 'openai' server may take to answer.", above=0.0)
    retries: int = option(2, "Extra attempts after the 'openai' server fails to connect or "
                          'answers 5xx/429.', minimum=0)
    max_in_flight: int = option(
        8, "Most requests the 'openai' backend sends at once when the evaluator asks several "
        'items together (eval --batch-size); the server batches them.', minimum=1)
    quantization: str = option('', "'' (none), '4bit' or '8bit': load the weights quantized "
                               'with bitsandbytes (CUDA only).', choices=('', *QUANTIZATIONS))
    device: str = option('auto', "'auto' (cuda if available), 'cpu', 'cuda' or 'cuda:N'.")
    dtype: str = option('auto', "'auto' (bfloat16 on GPU, float32 on CPU), 'bfloat16', "
                        "'float16' or 'float32' (or bf16, fp16, fp32).")
    attn_implementation: str = option('', "Attention kernel, e.g. 'sdpa' or "
                                      "'flash_attention_2'. Empty: the transformers default.")
    max_frames: int = option(8, 'Most keyframes sent to the model as the progress video.',
                             minimum=1)
    max_pixels: int = option(0, 'Pixel budget per frame (width x height); frames are '
                             f'downscaled to fit. 0: {DEFAULT_MAX_PIXELS}.', minimum=0)
    video_fps: float = option(
        0.0, 'Frame rate the progress video is said to have (Qwen-VL models place frames in time '
        'by it). 0: the mean rate of its keyframes. A fixed rate keeps the positions of frames '
        'already sent unchanged as keyframes are added, so model.prompt_reuse_tokens can reuse '
        'them; fine-tune and ask a model with the same value.', minimum=0.0)
    keyframe_cache: bool = option(
        True, 'Prepare each keyframe once (resized, normalised, patchified) and keep its vision '
        'features for later decisions; only new frames are prepared and encoded. Qwen2-VL, '
        'Qwen2.5-VL, and Qwen3-VL prompts without a video; other architectures prepare every '
        'prompt whole (transformers backend).')
    prompt_reuse_tokens: int = option(
        32768, "Keep the language model's KV cache of the last prompt, up to this many tokens, "
        'and run the next prompt only from where the two differ (needs model.keyframe_cache). '
        '0: off.', minimum=0)
    trust_remote_code: bool = option(False, 'Allow model folders that ship their own Python '
                                     'code. Off unless you trust the folder.')
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self, 'model.')

    @property
    def pixel_budget(self) -> int:
        """The pixel budget per frame in effect (``max_pixels``, or the default for 0)."""
        return self.max_pixels or DEFAULT_MAX_PIXELS


def load_backend(config: ModelConfig) -> VLMBackend:
    """Load the backend ``config`` describes, through the loader registered for its name.

    Logs a warning when the model is untrained (:attr:`VLMBackend.untrained`).

    Raises:
        ConfigError: the configuration is incomplete or invalid.
        ModelLoadError: the model cannot be loaded.
    """
    backend = get_backend_loader(config.backend)(config)
    if backend.untrained:
        logger.warning(
            'Model %s is randomly initialised and untrained: its choices are random. Use it to '
            'test the pipeline, not to control a robot.', backend.name)
    return backend
