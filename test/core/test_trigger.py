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

"""Tests for the decision trigger state machine."""

import pytest

from vlm_planner.core.trigger import MIN_RETRY_S, DecisionTrigger
from vlm_planner.errors import ConfigError


def test_idle_mode_waits_for_status_then_settle_time():
    trigger = DecisionTrigger('idle', settle_time=0.5)
    assert not trigger.due(0.0)
    trigger.on_status('idle', 1.0)
    assert not trigger.due(1.4)
    assert trigger.due(1.5)


def test_idle_mode_waits_for_outcome_of_published_action():
    trigger = DecisionTrigger('idle', settle_time=0.0)
    trigger.on_status('succeeded', 0.0)
    trigger.on_decision(0.1, published=True)
    trigger.on_status('succeeded', 0.2)  # heartbeat of the previous outcome
    assert not trigger.due(0.3)
    trigger.on_status('executing', 0.4)
    assert not trigger.due(0.5)
    trigger.on_status('succeeded', 1.5)
    assert trigger.due(1.5)


def test_immediate_failure_without_executing_counts_as_outcome():
    trigger = DecisionTrigger('idle', settle_time=0.0)
    trigger.on_status('idle', 0.0)
    trigger.on_decision(0.0, published=True)
    trigger.on_status('failed', 0.1)
    assert trigger.due(0.1)


def test_lost_action_is_given_up_after_timeout():
    trigger = DecisionTrigger('idle', settle_time=0.0, action_timeout=5.0)
    trigger.on_status('idle', 0.0)
    trigger.on_decision(0.0, published=True)
    trigger.on_status('idle', 1.0)
    assert not trigger.due(4.9)
    assert trigger.due(5.1)


def test_unpublished_decision_is_retried_later():
    trigger = DecisionTrigger('idle', settle_time=0.0)
    trigger.on_status('idle', 0.0)
    trigger.on_decision(0.0, published=False)
    assert not trigger.due(MIN_RETRY_S - 0.01)
    assert trigger.due(MIN_RETRY_S)


def test_estop_blocks_until_ready_again():
    trigger = DecisionTrigger('idle', settle_time=0.0)
    trigger.on_status('idle', 0.0)
    trigger.on_status('estopped', 0.1)
    assert not trigger.due(1.0)
    trigger.on_status('idle', 2.0)
    assert trigger.due(2.0)


def test_timer_and_service_modes():
    timer = DecisionTrigger('timer', period=2.0)
    assert timer.due(0.0)
    timer.on_decision(0.0, published=True)
    assert not timer.due(1.9) and timer.due(2.0)
    service = DecisionTrigger('service')
    service.on_status('idle', 0.0)
    assert not service.due(100.0)


def test_reset_forgets_pending_action():
    trigger = DecisionTrigger('idle', settle_time=0.0)
    trigger.on_status('idle', 0.0)
    trigger.on_decision(0.0, published=True)
    trigger.reset()
    trigger.on_status('idle', 1.0)
    assert trigger.due(1.0)


@pytest.mark.parametrize('kwargs', [{'mode': 'always'}, {'period': 0}, {'settle_time': -1},
                                    {'action_timeout': 0}])
def test_bad_trigger_config(kwargs):
    with pytest.raises(ConfigError):
        DecisionTrigger(**kwargs)
