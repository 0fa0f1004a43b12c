"""Declare a table of :class:`vlm_planner.settings.Param` as ROS parameters and read them back."""

from __future__ import annotations

from typing import Any, Iterable

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

from vlm_planner.errors import ConfigError
from vlm_planner.settings import Param


def declare_params(node: Node, params: Iterable[Param]) -> dict[str, Any]:
    """Declare every parameter with its description and return the values in effect.

    Raises:
        ConfigError: a parameter file or command line gave a value of the wrong type.
    """
    values = {}
    for param in params:
        descriptor = ParameterDescriptor(description=param.description,
                                         read_only=not param.dynamic)
        try:
            values[param.name] = node.declare_parameter(
                param.name, param.default, descriptor).value
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            raise ConfigError(
                f'parameter {param.name} of node {node.get_name()} must be a '
                f'{type(param.default).__name__} like {param.default!r}: {exc}') from None
    return values
