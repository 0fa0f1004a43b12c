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

"""Tests for the strategy registry: adding a strategy is one module (here this test) and a name."""

import numpy as np
import pytest

from test.core.scripted_backend import ScriptedBackend
from vlm_planner.core.actions import Action, ActionLibrary
from vlm_planner.core.frames import Frame
from vlm_planner.core.planner import Planner
from vlm_planner.core.strategies import (STRATEGIES, STRATEGY_REGISTRY, Strategy,
                                         StrategyConfig, StrategyResult, make_strategy,
                                         register_strategy, strategy_names, unregister_strategy)
from vlm_planner.errors import ConfigError

LIBRARY = ActionLibrary([Action('pick up the red block'), Action('wait')])
FRAMES = [Frame(np.zeros((8, 8, 3), np.uint8), 1.0)]


class FirstStrategy(Strategy):
    """An example strategy: always the first candidate, without asking the model."""

    def decide(self, backend, question):
        """Pick option A."""
        return StrategyResult(0, 1.0, rationale='always the first', answer_method='first')


@pytest.fixture
def first_strategy():
    register_strategy('first')(FirstStrategy)
    yield FirstStrategy
    unregister_strategy('first')


def test_the_shipped_strategies_register_themselves():
    assert STRATEGIES == ('base', 'cot', 'reflect', 'consistency')  # by order, not file name
    assert strategy_names() == STRATEGIES
    for name in STRATEGIES:
        assert make_strategy(StrategyConfig(name=name)).name == name


def test_a_strategy_defined_elsewhere_registers_by_name_and_runs_in_the_planner(first_strategy):
    assert strategy_names() == (*STRATEGIES, 'first')  # default order: after the shipped ones
    strategy = make_strategy(StrategyConfig(name='first'))
    assert isinstance(strategy, FirstStrategy) and strategy.name == 'first'
    backend = ScriptedBackend(probs=[0.0, 1.0])
    decision = Planner(backend, LIBRARY, strategy).decide('tidy up', FRAMES)
    assert decision.action == 'pick up the red block' and decision.index == 0
    assert decision.strategy == 'first' and decision.answer_method == 'first'
    assert decision.accepted and not backend.score_calls


def test_an_unregistered_strategy_is_unknown_again(first_strategy):
    unregister_strategy('first')
    with pytest.raises(ConfigError, match="'first'; choose one of base"):
        StrategyConfig(name='first')
    with pytest.raises(ConfigError, match="strategy 'first' is unknown; choose one of base"):
        STRATEGY_REGISTRY.get('first')


def test_a_taken_name_or_a_class_that_is_no_strategy_is_refused(first_strategy):
    class Other(FirstStrategy):
        pass

    with pytest.raises(ConfigError, match="'first' is taken"):
        register_strategy('first')(Other)
    with pytest.raises(ConfigError, match='does not derive from Strategy'):
        register_strategy('not-a-strategy')(dict)
    with pytest.raises(ConfigError, match='non-empty'):
        register_strategy(' padded ')
    assert 'not-a-strategy' not in strategy_names()
