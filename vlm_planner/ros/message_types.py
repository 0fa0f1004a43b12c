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

"""Load the rclpy message class of a ROS 2 type name, for topics known only by their type name.

The player, the recorder and the tests create publishers and subscriptions for types read from a
bag or given on the command line; this is where such a name becomes a class.
"""

from __future__ import annotations

import importlib

from vlm_planner.errors import MessageTypeError


def message_class(msgtype: str, topic: str = '') -> type:
    """Import the rclpy message class of a type name such as ``sensor_msgs/msg/Image``.

    Args:
        msgtype: ROS 2 type name, ``package/msg/Name`` (``package/Name`` is read as the same).
        topic: Topic the type belongs to, named in the error message.

    Returns:
        The generated Python message class.

    Raises:
        MessageTypeError: The name is malformed or its Python package is not installed.
    """
    parts = msgtype.split('/')
    if len(parts) == 2:
        parts.insert(1, 'msg')
    where = f' (topic {topic})' if topic else ''
    if len(parts) != 3 or parts[1] != 'msg' or not all(parts):
        raise MessageTypeError(f'{msgtype!r}{where} is not a ROS 2 message type name; expected '
                               'package/msg/Name, e.g. sensor_msgs/msg/Image.')
    package, _, name = parts
    try:
        cls = getattr(importlib.import_module(f'{package}.msg'), name)
    except (ImportError, AttributeError):
        raise MessageTypeError(
            f'cannot load message type {msgtype}{where}: the Python package {package!r} is not '
            f'installed or has no message {name}. Install it (pip install ros-jazzy-'
            f'{package.replace("_", "-")}, or source a ROS 2 workspace that has it).') from None
    if not (isinstance(cls, type) and hasattr(cls, 'get_fields_and_field_types')):
        raise MessageTypeError(f'{package}.msg.{name}{where} is not a ROS 2 message class.')
    return cls
