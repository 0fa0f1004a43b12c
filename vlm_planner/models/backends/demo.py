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

"""The ``demo`` backend: the small trained tabletop planner shipped with the package.

Its weights are in ``vlm_planner/resources/demo_model/`` (a real Qwen2.5-VL architecture of about
0.55 M parameters, trained from scratch on generated tabletop episodes by ``make demo-model``;
its model card says on what and how well). It plans the synthetic tabletop world of
``vlm-planner demo`` and the launch file's scene camera; for a real robot, use a real model.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from vlm_planner.errors import ConfigError
from vlm_planner.models.registry import register_backend

if TYPE_CHECKING:
    from vlm_planner.models.base import VLMBackend
    from vlm_planner.models.factory import ModelConfig


def demo_model_folder() -> Path:
    """The folder of the shipped demo model.

    Raises:
        ConfigError: the folder holds no model (a source tree whose model was not built).
    """
    folder = Path(str(resources.files('vlm_planner').joinpath('resources/demo_model')))
    if not (folder / 'config.json').is_file():
        raise ConfigError(f'the demo model is missing from {folder}; rebuild it with '
                          "`make demo-model`, or set model.backend to 'tiny' (untrained) or "
                          "'transformers' with model.path.")
    return folder


@register_backend('demo', order=3)
def load(config: ModelConfig) -> VLMBackend:
    """Load the shipped demo model with the other settings of ``config``."""
    from vlm_planner.models.backends.transformers import load_folder

    return load_folder(config, demo_model_folder())
