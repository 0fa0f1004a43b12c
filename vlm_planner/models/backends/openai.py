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

"""The ``openai`` backend: a model served over an OpenAI-compatible API.

vLLM, SGLang, the llama.cpp server and Ollama serve it; see
:mod:`vlm_planner.models.openai_server`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from vlm_planner.errors import ConfigError
from vlm_planner.models.registry import register_backend

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend
    from vlm_planner.models.factory import ModelConfig

logger = logging.getLogger(__name__)


@register_backend('openai', order=2)
def load(config: ModelConfig) -> VLMBackend:
    """Configure a client of the server at ``config.url``; nothing is sent until it is asked.

    Raises:
        ConfigError: ``config.url`` is empty or malformed, or a setting is invalid.
    """
    from vlm_planner.models.openai_server import OpenAIServerBackend

    if not config.url:
        raise ConfigError(
            'model.url is empty: set it to the API root of the model server, such as '
            'http://localhost:8000/v1 for `vllm serve MODEL`.')
    if config.path:
        logger.warning('model.path %r is ignored by the openai backend.', config.path)
    return OpenAIServerBackend(
        base_url=config.url, model=config.api_model, timeout=config.timeout,
        retries=config.retries, max_frames=config.max_frames, max_pixels=config.pixel_budget,
        max_in_flight=config.max_in_flight)
