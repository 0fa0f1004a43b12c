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

"""The ``main()`` every node executable shares: init, spin, clean shutdown, clear fatal errors."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable, NoReturn

import rclpy
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node

from vlm_planner.errors import VlmPlannerError
from vlm_planner.ros.process import ros_process

#: Exit status of a node that could not start because of its configuration (as the CLI's).
CONFIG_ERROR_STATUS = 2


def run_node(make_node: Callable[..., Node], name: str, args: list[str] | None = None,
             executor_class: Callable[..., Executor] = SingleThreadedExecutor) -> int:
    """Run the node ``make_node(context=...)`` builds until Ctrl-C, SIGTERM or shutdown.

    The node runs in a :func:`~vlm_planner.ros.process.ros_process`, so it ends the same way as
    under ``vlm-planner run``: callbacks finish, then the node is destroyed, then the context.

    Args:
        make_node: the node class, or any callable taking the ``context`` keyword.
        name: the logger name of the FATAL message.
        args: command-line arguments (None: ``sys.argv``).
        executor_class: the executor to spin the node with.

    Returns:
        The exit status: 0, or :data:`CONFIG_ERROR_STATUS` when a :class:`VlmPlannerError`
        (bad parameter, missing file or model, a crashed callback) stopped the node; it is
        logged as FATAL under ``name`` with its explanation instead of a traceback.
    """
    try:
        with ros_process(args, executor_class) as process:
            try:
                process.add(make_node(context=process.context))
            except VlmPlannerError as exc:
                rclpy.logging.get_logger(name).fatal(str(exc))  # while the context is up
                return CONFIG_ERROR_STATUS
            process.start()
            process.wait()
    except VlmPlannerError as exc:
        rclpy.logging.get_logger(name).fatal(str(exc))
        return CONFIG_ERROR_STATUS
    return 0


class SelfCleaningNode(Node):
    """A node whose set-up, in :meth:`setup`, destroys the node again when it fails.

    A node that raises half way through ``__init__`` would otherwise keep its publishers and
    timers alive in the context until garbage collection.
    """

    def __init__(self, node_name: str, **kwargs) -> None:
        """Create the node, then run :meth:`setup`; on any failure destroy it and re-raise."""
        super().__init__(node_name, **kwargs)
        try:
            self.setup()
        except BaseException:
            self.destroy_node()
            raise

    def setup(self) -> None:
        """Declare parameters and create the node's entities (subclasses fill this in)."""


def exit_now(status: int) -> NoReturn:
    """End the process with ``status`` at once, once the nodes are torn down.

    Python's own finalisation of torch and transformers takes seconds after a model was loaded,
    long enough for ``ros2 launch`` to escalate a Ctrl-C to SIGTERM; everything that matters
    (nodes, context, logs) is done by then, so the executables skip it.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)
