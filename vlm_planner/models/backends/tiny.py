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

"""The ``tiny`` backend: an untrained tiny model of a real architecture, built offline and cached.

It runs with transformers like any model folder (:mod:`.transformers`); the build comes from
:func:`vlm_planner.models.tiny.ensure_tiny_model`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from vlm_planner.models.backends.transformers import load_folder
from vlm_planner.models.registry import register_backend

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend
    from vlm_planner.models.factory import ModelConfig

logger = logging.getLogger(__name__)


@register_backend('tiny', order=0)
def load(config: ModelConfig) -> VLMBackend:
    """Build (once, into the cache) and load the tiny model of ``config.tiny_arch``.

    Raises:
        ConfigError: the architecture is not supported or a setting is invalid.
    """
    from vlm_planner.models.tiny import ensure_tiny_model

    if config.path:
        logger.warning('model.path %r is ignored by the tiny backend.', config.path)
    return load_folder(config, ensure_tiny_model(arch=config.tiny_arch, seed=config.seed))
