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

import sys
from typing import Any, Sequence

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.exceptions import InvalidParameterValueException
from rclpy.node import Node

from vlm_planner import params
from vlm_planner.errors import ConfigError
from vlm_planner.params import Param

_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
          float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
_INT64 = (-2 ** 63, 2 ** 63 - 1)


def descriptor(param: Param) -> ParameterDescriptor:
    """The ROS descriptor of ``param``: description, type, range, choices, read-only.

    ``ros2 param describe`` shows all of it. ROS ranges are inclusive, so an exclusive bound
    (``> 0``) is given as its value and stated in the description; the table's own check, run on
    every value, enforces it. Dynamic typing lets ``rate:=10`` (an integer) reach that check,
    which accepts it for a float and explains any other mismatch.
    """
    text = param.description
    notes = [n for n in (param.limits, 'one of ' + ', '.join(repr(c) for c in param.choices)
                         if param.choices else '') if n]
    if notes:
        text += f' ({"; ".join(notes)})'
    result = ParameterDescriptor(description=text, type=_TYPES[param.type],
                                 read_only=not param.dynamic, dynamic_typing=True)
    low = param.above if param.above is not None else param.minimum
    if (low, param.maximum) != (None, None):
        if param.type is float:
            result.floating_point_range = [FloatingPointRange(
                from_value=float(-sys.float_info.max if low is None else low),
                to_value=float(sys.float_info.max if param.maximum is None else param.maximum))]
        elif param.type is int:
            result.integer_range = [IntegerRange(
                from_value=int(_INT64[0] if low is None else low),
                to_value=int(_INT64[1] if param.maximum is None else param.maximum))]
    return result


def declare_params(node: Node, table: Sequence[Param]) -> dict[str, Any]:
    """Declare every parameter of ``table`` on ``node`` and return the checked values in effect.

    Raises:
        ConfigError: a parameter file or the command line gave a wrong type or range.
    """
    values = {}
    for param in table:
        if node.has_parameter(param.name):  # a lifecycle node configured a second time
            values[param.name] = node.get_parameter(param.name).value
            continue
        try:
            values[param.name] = node.declare_parameter(param.name, param.default,
                                                        descriptor(param)).value
        except InvalidParameterValueException as exc:  # outside the descriptor's range
            raise ConfigError(f'parameter {param.name} must be {param.limits}: {exc}') from exc
    return params.complete(table, values)
