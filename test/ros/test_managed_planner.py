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

"""The lifecycle planner node, driven over real DDS through its lifecycle services."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip('rclpy')

from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from test.conftest import spin_until  # noqa: E402
from test.ros.planner_harness import GOAL, LABELS  # noqa: E402
from vlm_planner.ros.planner_node import ManagedPlannerNode  # noqa: E402


def transition(harness, transition_id):
    request = ChangeState.Request()
    request.transition.id = transition_id
    return harness.call(ChangeState, '/vlm_planner/change_state', request, timeout=60).success


def state(harness):
    return harness.call(GetState, '/vlm_planner/get_state').current_state.id


def test_lifecycle_configure_activate_deactivate_cleanup(planner, harness):
    node = planner(node_class=ManagedPlannerNode, goal=GOAL, **{'trigger.mode': 'service'})
    assert state(harness) == State.PRIMARY_STATE_UNCONFIGURED
    assert node.ports.planner is None  # nothing loaded before configure
    assert harness.node.count_publishers('action') == 0

    assert transition(harness, Transition.TRANSITION_CONFIGURE)
    assert state(harness) == State.PRIMARY_STATE_INACTIVE
    assert node.ports.planner is not None
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert not response.success and 'not active' in response.message

    assert transition(harness, Transition.TRANSITION_ACTIVATE)
    assert state(harness) == State.PRIMARY_STATE_ACTIVE
    harness.frame()
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert response.success and response.message in LABELS
    assert spin_until(harness.executor, lambda: harness.actions, 10)

    assert transition(harness, Transition.TRANSITION_DEACTIVATE)
    assert state(harness) == State.PRIMARY_STATE_INACTIVE
    assert spin_until(harness.executor,
                      lambda: harness.image_pub.get_subscription_count() == 0, 10)
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert not response.success and len(harness.actions) == 1

    backend = node.ports.planner.backend
    assert transition(harness, Transition.TRANSITION_CLEANUP)
    assert state(harness) == State.PRIMARY_STATE_UNCONFIGURED
    assert node.ports.planner is None and backend.model is None  # the weights are freed

    # A second round reads the parameters again and loads the model again.
    assert transition(harness, Transition.TRANSITION_CONFIGURE)
    assert transition(harness, Transition.TRANSITION_ACTIVATE)
    harness.frame()
    assert harness.call(Trigger, '/vlm_planner/plan').success


def test_a_failed_configure_says_why_and_stays_unconfigured(planner, harness):
    node = planner(node_class=ManagedPlannerNode,
                   **{'model.backend': 'transformers', 'model.path': '/no/such/model'})
    assert not transition(harness, Transition.TRANSITION_CONFIGURE)
    assert state(harness) == State.PRIMARY_STATE_UNCONFIGURED
    assert node.ports.planner is None
