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

"""The planner's parameter table, joined from the configuration dataclasses, and its wiring.

The wiring turns flat parameter values into planning objects.

Each parameter is declared once, as a field of the dataclass that uses it (see
:mod:`vlm_planner.params`): :class:`~vlm_planner.core.session.SessionConfig` (goal, freshness,
safety), :class:`PlanningConfig` and :class:`NodeConfig` here, ``model.*``, ``strategy.*``,
``keyframes.*`` and ``trigger.*``. The ROS node declares the joined table as ROS parameters
(nested names with dots, as in ``config/planner.yaml``), the command line offers the same names,
and the README tables and ``config/planner.yaml`` are generated from it. Nothing here imports
rclpy or torch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Collection, Mapping

from vlm_planner import params
from vlm_planner.config_paths import default_actions_file
from vlm_planner.core.actions import ActionLibrary
from vlm_planner.core.keyframes import KeyframeConfig
from vlm_planner.core.planner import Planner
from vlm_planner.core.prompts import PromptTemplate
from vlm_planner.core.session import DecisionSession, SessionConfig
from vlm_planner.core.strategies import StrategyConfig, make_strategy
from vlm_planner.core.trigger import TriggerConfig
from vlm_planner.models.base import check_scoring
from vlm_planner.models.factory import ModelConfig, load_backend
from vlm_planner.models.model_card import CARD_NAME, read_model_card
from vlm_planner.errors import ConfigError
from vlm_planner.params import check_fields, option, Param, params_of


@dataclasses.dataclass(frozen=True)
class PlanningConfig:
    """What the planner chooses from and how its answers are accepted."""

    actions_file: str = option('', 'Action library YAML. Empty: the shipped '
                               'config/actions/tabletop.yaml.')
    prompt_file: str = option('', 'Prompt wording YAML. Empty: the default EgoPlan-style '
                              'wording.')
    min_confidence: float = option(0.0, 'Publish the action only when the decision confidence '
                                   '(0..1) reaches this; the decision record is published '
                                   'either way.', dynamic=True, minimum=0.0, maximum=1.0)
    max_rationale_chars: int = option(2000, 'Longest rationale kept in a decision record; a '
                                      'longer one is cut in the middle with a marker. 0: none.',
                                      dynamic=True, minimum=0)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """ROS input and output of the planner node (topics, services, diagnostics)."""

    image_transport: str = option('raw', "'raw' subscribes to image (sensor_msgs/Image), "
                                  "'compressed' to image/compressed (sensor_msgs/"
                                  'CompressedImage).', choices=('raw', 'compressed'))
    plan_service_timeout: float = option(60.0, 'Seconds ~/plan waits for its decision.',
                                         above=0.0)
    diagnostics_period: float = option(1.0, 'Seconds between /diagnostics messages.', above=0.0)
    publish_debug_image: bool = option(True, 'Publish the annotated frame on debug_image.')
    max_image_pixels: int = option(
        4096 * 4096, 'Largest camera frame accepted, in pixels (width x height), checked before '
        'decoding; a larger one (a decompression bomb) is dropped with a warning.', minimum=1)

    def __post_init__(self) -> None:
        check_fields(self)


PLANNER_PARAMS: tuple[Param, ...] = (
    *params_of(SessionConfig), *params_of(PlanningConfig), *params_of(NodeConfig),
    *params_of(ModelConfig, 'model.'), *params_of(StrategyConfig, 'strategy.'),
    *params_of(KeyframeConfig, 'keyframes.'),
    *params_of(TriggerConfig, 'trigger.'),
)

DYNAMIC = frozenset(p.name for p in PLANNER_PARAMS if p.dynamic)


def complete(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` over the defaults, refusing unknown names, wrong types and bad ranges."""
    return params.complete(PLANNER_PARAMS, values)


def strategy_config(values: Mapping[str, Any]) -> StrategyConfig:
    """The strategy part of complete ``values``."""
    return params.build(StrategyConfig, values, 'strategy.')


def keyframe_config(values: Mapping[str, Any]) -> KeyframeConfig:
    """The keyframe part of complete ``values``."""
    return params.build(KeyframeConfig, values, 'keyframes.')


def trigger_config(values: Mapping[str, Any]) -> TriggerConfig:
    """The trigger part of complete ``values``."""
    return params.build(TriggerConfig, values, 'trigger.')


def session_config(values: Mapping[str, Any]) -> SessionConfig:
    """The goal, freshness and safety part of complete ``values``."""
    return params.build(SessionConfig, values)


def node_config(values: Mapping[str, Any]) -> NodeConfig:
    """The ROS input and output part of complete ``values``."""
    return params.build(NodeConfig, values)


def model_config(values: Mapping[str, Any]) -> ModelConfig:
    """The model part of complete ``values``."""
    return params.build(ModelConfig, values, 'model.')


def load_actions(values: Mapping[str, Any]) -> ActionLibrary:
    """The action library named by ``actions_file`` (or the shipped default)."""
    return ActionLibrary.from_yaml(values['actions_file'] or default_actions_file())


def load_template(values: Mapping[str, Any]) -> PromptTemplate:
    """The prompt wording named by ``prompt_file`` (or the default)."""
    path = values['prompt_file']
    return PromptTemplate.from_yaml(path) if path else PromptTemplate.default()


def make_planner(values: Mapping[str, Any], backend) -> Planner:
    """A planner over ``backend`` configured by complete ``values``.

    Raises:
        ConfigError: the backend cannot do the configured ``strategy.scoring``.
    """
    check_scoring(backend, values['strategy.scoring'])
    strategy = make_strategy(strategy_config(values), load_template(values))
    return Planner(backend, load_actions(values), strategy,
                   min_confidence=values['min_confidence'],
                   max_rationale_chars=values['max_rationale_chars'])


def model_folder(values: Mapping[str, Any]) -> Path | None:
    """The local folder of the model complete ``values`` select, if it is one."""
    if values['model.backend'] == 'transformers' and values['model.path']:
        return Path(values['model.path'])
    if values['model.backend'] == 'demo':
        from vlm_planner.models.backends.demo import demo_model_folder
        return demo_model_folder()
    return None


def recommended(values: Mapping[str, Any],
                explicit: Collection[str] = ()) -> dict[str, Any]:
    """The parameters the model's card recommends, for those ``values`` leave at their defaults.

    A value other than the declared default, or a name in ``explicit`` (given on the command
    line), counts as the user's choice and is kept; so the model is asked as it is best asked
    unless told otherwise. A relative ``prompt_file`` is relative to the model folder.

    Raises:
        ConfigError: the card names a parameter the planner does not have, or a bad value.
    """
    folder = model_folder(values)
    if folder is None or not folder.is_dir():
        return {}
    card = read_model_card(folder)
    defaults = {p.name: p.default for p in PLANNER_PARAMS}
    chosen = {}
    for name, value in card.recommended.items():
        if name not in defaults:
            raise ConfigError(f'the model card {folder / CARD_NAME} recommends {name!r}, which '
                              'is no planner parameter; fix or remove it there.')
        if name not in explicit and values[name] == defaults[name] and value != defaults[name]:
            relative = name == 'prompt_file' and value and not Path(str(value)).is_absolute()
            chosen[name] = str(folder / str(value)) if relative else value
    complete({**values, **chosen})  # a bad recommended value fails here, naming the parameter
    return chosen


def check(values: Mapping[str, Any], explicit: Collection[str] = ()) -> dict[str, Any]:
    """Complete ``values``, apply the model card's recommendations, and run every cheap check.

    The checks (files, sections) run before a model loads.

    So a typo fails in milliseconds, not minutes.
    """
    values = complete(values)
    values = {**values, **recommended(values, explicit)}
    load_actions(values)
    load_template(values)
    for section in (keyframe_config, trigger_config, session_config, node_config,
                    strategy_config, model_config):
        section(values)
    return values


def build_planner(values: Mapping[str, Any], explicit: Collection[str] = ()) -> Planner:
    """Validate ``values`` (see :func:`check`), load the model and return a ready planner."""
    values = check(values, explicit)
    return make_planner(values, load_backend(model_config(values)))


def make_session(values: Mapping[str, Any], planner: Planner | None,
                 clock: Callable[[], float]) -> DecisionSession:
    """A decision session configured by complete ``values``, reading time from ``clock``."""
    return DecisionSession(planner, clock=clock, config=session_config(values),
                           keyframes=keyframe_config(values), trigger=trigger_config(values))
