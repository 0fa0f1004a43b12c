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

"""Declare a table of :class:`vlm_planner.params.Param` as ROS parameters and read them back."""

from __future__ import annotations

from typing import Any, Sequence

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from vlm_planner import params
from vlm_planner.params import Param


def declare_params(node: Node, table: Sequence[Param]) -> dict[str, Any]:
    """Declare every parameter with its description and return the checked values in effect.

    Parameters are declared with dynamic typing so that ``rate:=10`` (an integer) reaches the
    table's own check, which accepts it for a float and explains any other mismatch.

    Raises:
        ConfigError: a parameter file or the command line gave a wrong type or range.
    """
    values = {}
    for param in table:
        descriptor = ParameterDescriptor(description=param.description,
                                         read_only=not param.dynamic, dynamic_typing=True)
        values[param.name] = node.declare_parameter(param.name, param.default, descriptor).value
    return params.complete(table, values)
