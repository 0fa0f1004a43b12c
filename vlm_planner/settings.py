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

"""Every planner parameter in one table, and the wiring from flat values to planning objects.

The ROS node declares these as ROS parameters (nested names with dots, as in
``config/planner.yaml``) and the command line offers the same names, so one table documents both.
Nothing here imports rclpy or torch.
"""

from __future__ import annotations

from typing import Any, Mapping

from vlm_planner import params
from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.keyframes import POLICIES, KeyframeConfig
from vlm_planner.core.planner import Planner
from vlm_planner.core.prompts import PromptTemplate
from vlm_planner.core.strategies import SCORINGS, STRATEGIES, StrategyConfig, make_strategy
from vlm_planner.core.trigger import MODES, DecisionTrigger
from vlm_planner.models.factory import BACKENDS, QUANTIZATIONS, ModelConfig, load_backend
from vlm_planner.models.tiny import SUPPORTED_ARCHS
from vlm_planner.params import Param

PLANNER_PARAMS: tuple[Param, ...] = (
    Param('goal', '', 'Task goal in words. Empty: wait for one on the goal topic. A goal message '
          'overrides it.', dynamic=True),
    Param('actions_file', '', 'Action library YAML. Empty: the shipped '
          'config/actions/tabletop.yaml.'),
    Param('prompt_file', '', 'Prompt wording YAML. Empty: the default EgoPlan-style wording.'),
    Param('image_transport', 'raw', "'raw' subscribes to image (sensor_msgs/Image), 'compressed' "
          'to image/compressed (sensor_msgs/CompressedImage).', choices=('raw', 'compressed')),
    Param('model.backend', 'tiny', "'transformers': a local Hugging Face video VLM folder "
          "(model.path). 'openai': a model served over an OpenAI-compatible API (model.url: "
          "vLLM, SGLang, llama.cpp server, Ollama). 'tiny': a tiny randomly initialised model "
          'of a real architecture (model.tiny_arch) built offline; its choices are untrained.',
          choices=BACKENDS),
    Param('model.path', '', 'Local model folder (config.json + safetensors) for the '
          'transformers backend.'),
    Param('model.tiny_arch', 'qwen2_5_vl', "Architecture of the 'tiny' model.",
          choices=SUPPORTED_ARCHS),
    Param('model.url', '', "API root of the 'openai' backend, e.g. http://localhost:8000/v1. "
          'The key comes from VLM_PLANNER_API_KEY or OPENAI_API_KEY, if set.'),
    Param('model.api_model', '', "Served model name for the 'openai' backend. Empty: the first "
          'one the server lists.'),
    Param('model.timeout', 60.0, "Seconds the 'openai' server may take to answer.", above=0.0),
    Param('model.retries', 2, "Extra attempts after the 'openai' server fails to connect or "
          'answers 5xx/429.', minimum=0),
    Param('model.quantization', '', "'' (none), '4bit' or '8bit': load the weights quantized "
          'with bitsandbytes (CUDA only).', choices=('', *QUANTIZATIONS)),
    Param('model.device', 'auto', "'auto' (cuda if available), 'cpu', 'cuda' or 'cuda:N'."),
    Param('model.dtype', 'auto', "'auto' (bfloat16 on GPU, float32 on CPU), 'bfloat16', "
          "'float16' or 'float32' (or bf16, fp16, fp32)."),
    Param('model.attn_implementation', '', "Attention kernel, e.g. 'sdpa' or "
          "'flash_attention_2'. Empty: the transformers default."),
    Param('model.max_frames', 8, 'Most keyframes sent to the model as the progress video.',
          minimum=1),
    Param('model.max_pixels', 0, 'Pixel budget per frame (width x height); frames are '
          'downscaled to fit. 0: the backend default.', minimum=0),
    Param('model.trust_remote_code', False, 'Allow model folders that ship their own Python code. '
          'Off unless you trust the folder.'),
    Param('strategy.name', 'base', "Prompting strategy: 'base', 'cot' (chain of thought), "
          "'reflect' (self-reflection) or 'consistency' (self-consistency).", dynamic=True,
          choices=STRATEGIES),
    Param('strategy.scoring', 'letter', "How options are scored where a strategy scores them: "
          "'letter' (answer-letter probabilities, one forward pass) or 'likelihood' (each whole "
          "action's mean token log-probability, EgoPlan's lowest loss, prompt computed once).",
          dynamic=True, choices=SCORINGS),
    Param('strategy.samples', 5, 'Self-consistency: answers sampled per decision (one batch).',
          dynamic=True, minimum=1),
    Param('strategy.temperature', 0.7, 'Self-consistency: sampling temperature.', dynamic=True,
          above=0.0),
    Param('strategy.max_new_tokens', 128, 'Chain of thought and self-consistency: longest '
          'reasoning, in tokens.', dynamic=True, minimum=1),
    Param('min_confidence', 0.0, 'Publish the action only when the decision confidence (0..1) '
          'reaches this; the decision record is published either way.', dynamic=True,
          minimum=0.0, maximum=1.0),
    Param('keyframes.policy', 'change', "'change': keep a frame when the scene changed; "
          "'interval': keep one every keyframes.min_interval seconds.", choices=POLICIES),
    Param('keyframes.max_count', 8, 'Most keyframes kept; the first of the task always stays.',
          minimum=1),
    Param('keyframes.min_interval', 0.5, 'Seconds between keyframes, at least.', minimum=0.0),
    Param('keyframes.change_threshold', 0.02, "'change' policy: mean absolute difference of small "
          'grey thumbnails (0..1) that makes a keyframe.', minimum=0.0, maximum=1.0),
    Param('trigger.mode', 'idle', "'idle': decide when the manipulator reports idle, succeeded or "
          "failed; 'timer': every trigger.period seconds; 'service': only on ~/plan.",
          choices=MODES),
    Param('trigger.period', 5.0, "'timer' mode: seconds between decisions.", above=0.0),
    Param('trigger.settle_time', 0.5, "'idle' mode: seconds to wait after the manipulator "
          'stops, so the camera shows the result.', minimum=0.0),
    Param('trigger.action_timeout', 30.0, "'idle' mode: seconds after which an action whose "
          'outcome never came is given up on.', above=0.0),
    Param('max_frame_age', 2.0, 'Skip a decision when the newest frame is older than this '
          '(seconds).', above=0.0),
    Param('plan_service_timeout', 60.0, 'Seconds ~/plan waits for its decision.', above=0.0),
    Param('diagnostics_period', 1.0, 'Seconds between /diagnostics messages.', above=0.0),
    Param('publish_debug_image', True, 'Publish the annotated frame on debug_image.'),
)

DYNAMIC = frozenset(p.name for p in PLANNER_PARAMS if p.dynamic)


def complete(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` over the defaults, refusing unknown names, wrong types and bad ranges."""
    return params.complete(PLANNER_PARAMS, values)


def strategy_config(values: Mapping[str, Any]) -> StrategyConfig:
    """The strategy part of complete ``values``."""
    return StrategyConfig(name=values['strategy.name'], samples=values['strategy.samples'],
                          temperature=values['strategy.temperature'],
                          max_new_tokens=values['strategy.max_new_tokens'],
                          scoring=values['strategy.scoring'])


def keyframe_config(values: Mapping[str, Any]) -> KeyframeConfig:
    """The keyframe part of complete ``values``."""
    return KeyframeConfig(policy=values['keyframes.policy'],
                          max_count=values['keyframes.max_count'],
                          min_interval=values['keyframes.min_interval'],
                          change_threshold=values['keyframes.change_threshold'])


def make_trigger(values: Mapping[str, Any]) -> DecisionTrigger:
    """A decision trigger from complete ``values``."""
    return DecisionTrigger(values['trigger.mode'], period=values['trigger.period'],
                           settle_time=values['trigger.settle_time'],
                           action_timeout=values['trigger.action_timeout'])


def model_config(values: Mapping[str, Any]) -> ModelConfig:
    """The model part of complete ``values``."""
    overrides = {'max_pixels': values['model.max_pixels']} if values['model.max_pixels'] else {}
    return ModelConfig(backend=values['model.backend'], path=values['model.path'],
                       device=values['model.device'], dtype=values['model.dtype'],
                       attn_implementation=values['model.attn_implementation'],
                       max_frames=values['model.max_frames'],
                       trust_remote_code=values['model.trust_remote_code'],
                       quantization=values['model.quantization'],
                       tiny_arch=values['model.tiny_arch'], url=values['model.url'],
                       api_model=values['model.api_model'], timeout=values['model.timeout'],
                       retries=values['model.retries'], **overrides)


def load_actions(values: Mapping[str, Any]) -> ActionLibrary:
    """The action library named by ``actions_file`` (or the shipped default)."""
    return ActionLibrary.from_yaml(values['actions_file'] or default_actions_file())


def load_template(values: Mapping[str, Any]) -> PromptTemplate:
    """The prompt wording named by ``prompt_file`` (or the default)."""
    path = values['prompt_file']
    return PromptTemplate.from_yaml(path) if path else PromptTemplate.default()


def make_planner(values: Mapping[str, Any], backend) -> Planner:
    """A planner over ``backend`` configured by complete ``values``."""
    strategy = make_strategy(strategy_config(values), load_template(values))
    return Planner(backend, load_actions(values), strategy,
                   min_confidence=values['min_confidence'])


def build_planner(values: Mapping[str, Any]) -> Planner:
    """Validate ``values``, load the model and return a ready planner.

    Cheap checks run before the model loads, so a typo fails in milliseconds, not minutes.
    """
    values = complete(values)
    load_actions(values)
    load_template(values)
    keyframe_config(values)
    make_trigger(values)
    strategy_config(values)
    model = model_config(values)
    return make_planner(values, load_backend(model))
