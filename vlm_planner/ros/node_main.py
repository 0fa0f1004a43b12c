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

from typing import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from vlm_planner.errors import VlmPlannerError
from vlm_planner.ros.spinning import shutdown_after_callbacks

#: Exit status of a node that could not start because of its configuration (as the CLI's).
CONFIG_ERROR_STATUS = 2


def run_node(make_node: Callable[[], Node], name: str, args: list[str] | None = None,
             executor_class: type[Executor] = SingleThreadedExecutor) -> int:
    """Run the node ``make_node()`` builds until Ctrl-C or shutdown; return the exit status.

    A :class:`VlmPlannerError` while starting (bad parameter, missing file or model) is logged as
    FATAL under ``name`` with its explanation instead of a traceback.
    """
    rclpy.init(args=args)
    node = None
    executor = executor_class()
    try:
        node = make_node()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except VlmPlannerError as exc:
        rclpy.logging.get_logger(name).fatal(str(exc))
        return CONFIG_ERROR_STATUS
    finally:
        shutdown_after_callbacks(executor)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
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
