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

"""An executor spinning on a background thread that stops cleanly before its nodes go."""

from __future__ import annotations

import threading
import time
from typing import Iterable

from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node


class ExecutorThread:
    """Spin ``executor`` on a daemon thread until :meth:`stop` or the context shuts down.

    Stopping ends the spin loop, joins the thread and lets callbacks already running finish,
    *then* shuts the executor down. Jazzy's ``Executor.shutdown()`` destroys the executor's guard
    condition at once, without the wait its documentation promises; a spinning thread or a
    pool callback that still uses that guard then raises, and a C++ wait still running at
    interpreter exit aborts the process.
    """

    def __init__(self, executor: Executor, *, name: str = 'vlm_planner_executor',
                 poll: float = 0.1) -> None:
        """Prepare the thread; ``poll`` is how often (s) the loop looks for a stop request."""
        self.executor = executor
        #: The exception that ended spinning (a callback raised), or None.
        self.error: BaseException | None = None
        self._poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)

    def start(self) -> ExecutorThread:
        """Start spinning; return self."""
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        """Whether the spin loop still runs."""
        return self._thread.is_alive()

    def stop(self, destroy: Iterable[Node] = (), timeout: float = 10.0) -> None:
        """End the spin loop, shut the executor down, then destroy the nodes in ``destroy``.

        Each step waits up to ``timeout`` s. Nodes are destroyed explicitly because one left to
        the garbage collector keeps its DDS endpoints (a latched topic, a service) visible.
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        shutdown_after_callbacks(self.executor, timeout)
        for node in destroy:
            node.destroy_node()

    def _spin(self) -> None:
        # A spin_once loop on this thread is what Executor.spin() does, with a stop check added.
        while not self._stop.is_set() and self.executor.context.ok():
            try:
                self.executor.spin_once(timeout_sec=self._poll)
            except ExternalShutdownException:
                break
            except Exception as exc:  # a callback raised: the thread ends, reporting it
                self.error = exc
                raise


def shutdown_after_callbacks(executor: Executor, timeout: float = 10.0) -> None:
    """Shut ``executor`` down once the callbacks it already started have finished.

    Call it after spinning has ended and before the executor's nodes are destroyed.
    """
    # rclpy-internal (Jazzy): the callbacks a MultiThreadedExecutor handed to its thread pool,
    # queued or running. Each touches the guard condition that shutdown() destroys, and the
    # entities of nodes that destroy_node() invalidates.
    handed_out = list(getattr(executor, '_futures', ()))
    deadline = time.monotonic() + timeout
    while not all(task.done() for task in handed_out) and time.monotonic() < deadline:
        time.sleep(0.01)
    executor.shutdown(timeout_sec=timeout)
