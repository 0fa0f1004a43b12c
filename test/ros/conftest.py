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

"""Fixtures of the ROS tests: a harness node and a planner node started on demand."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.parameter import Parameter  # noqa: E402

from test.ros.planner_harness import Harness  # noqa: E402
from vlm_planner.ros.planner_node import PlannerNode  # noqa: E402


@pytest.fixture
def harness(executor, ros_context):
    return Harness(executor, ros_context)


@pytest.fixture
def planner(executor, ros_context, tiny_model_cache, harness):
    """Start a planner node with the given parameters (and optionally a given planner)."""
    def start(node_class=PlannerNode, planner=None, **params):
        params.setdefault('model.backend', 'tiny')  # checks of the node, not of a model
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        node = node_class(context=ros_context, parameter_overrides=overrides, planner=planner)
        executor.add_node(node)
        harness.planner = node
        return node
    return start
