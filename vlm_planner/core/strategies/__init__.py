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

"""The prompting strategies of Akiyama et al. (2024), and any added since, behind one interface.

Each module of this package holds one strategy, registered by name with
``@register_strategy('name')``; importing the package imports them all (no central list). The
shipped ones: ``base`` (direct answer), ``cot`` (chain of thought), ``reflect``
(self-reflection) and ``consistency`` (self-consistency). See :mod:`.interface` for the result,
its confidence and ``on_invalid``, and each module for its strategy.
"""

from vlm_planner.core.strategies.interface import (ON_INVALID, SCORINGS, STRATEGY_REGISTRY,
                                                   Strategy, StrategyConfig, StrategyResult,
                                                   make_strategy, register_strategy,
                                                   strategy_names, unregister_strategy)

STRATEGY_REGISTRY.discover()

#: The strategies shipped with the package, registered when it was imported (the registry,
#: :func:`strategy_names`, also knows any registered later).
STRATEGIES = strategy_names()

__all__ = ['ON_INVALID', 'SCORINGS', 'STRATEGIES', 'STRATEGY_REGISTRY', 'Strategy',
           'StrategyConfig', 'StrategyResult', 'make_strategy', 'register_strategy',
           'strategy_names', 'unregister_strategy']
