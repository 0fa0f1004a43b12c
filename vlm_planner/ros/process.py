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

"""One ROS process: its context, executor, Ctrl-C and SIGTERM, and orderly end in one place.

``vlm-planner run``, ``demo`` and ``play`` and every node executable run their nodes so::

    with ros_process(args) as process:
        node = process.add(MyNode(context=process.context))
        process.start()     # spin on a background thread
        process.wait()      # until Ctrl-C, SIGTERM, shutdown, or a callback crashes

Ending the block, however it ends, stops spinning, lets the callbacks already running finish,
shuts the executor down, destroys the nodes in the order they were added and shuts the context
down (see :class:`~vlm_planner.ros.spinning.ExecutorThread` for why in that order). Ctrl-C and
SIGTERM inside the block end it quietly, as a normal end; a further signal during the teardown
is ignored, so the teardown (bounded by timeouts) always completes. A callback that raised, which
ended spinning, is raised afterwards as :class:`~vlm_planner.errors.NodeCrashedError`, so the
process exits with an error instead of 0.

The process has its own :class:`rclpy.Context`, so rclpy installs no signal handlers of its own;
the handlers set here (main thread only) are restored when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from types import FrameType
from typing import Callable, Iterator, TypeVar

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

from vlm_planner.errors import NodeCrashedError
from vlm_planner.ros.spinning import ExecutorThread

NodeT = TypeVar('NodeT', bound=Node)

#: How often (s) waiting loops look at the context, the spinning thread and their event.
POLL_S = 0.1


class RosProcess:
    """The context, executor and nodes of a process, as :func:`ros_process` yields them."""

    def __init__(self, context: rclpy.Context, executor: Executor) -> None:
        """Hold ``executor`` (not yet spinning) of the initialised ``context``."""
        self.context = context
        self.executor = executor
        #: Nodes destroyed at the end, in this order.
        self.nodes: list[Node] = []
        #: Whether Ctrl-C, SIGTERM or an external shutdown ended the block.
        self.interrupted = False
        self._spinner = ExecutorThread(executor)
        self._started = False

    def add(self, node: NodeT) -> NodeT:
        """Spin ``node`` with the executor and destroy it at the end; return it."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def start(self) -> None:
        """Start spinning on a background thread (once)."""
        if not self._started:
            self._started = True
            self._spinner.start()

    @property
    def error(self) -> BaseException | None:
        """The exception a callback raised that ended spinning, or None."""
        return self._spinner.error

    def ok(self) -> bool:
        """Whether the context is up and, once started, the executor still spins."""
        return self.context.ok() and (not self._started or self._spinner.is_alive())

    def wait(self, done: threading.Event | None = None) -> bool:
        """Block until ``done`` is set or :meth:`ok` turns false; return whether ``done`` is set.

        Without ``done``, block until shutdown, a signal or a crash.
        """
        event = done if done is not None else threading.Event()
        while self.ok():
            if event.wait(POLL_S):
                return True
        return event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless :meth:`ok` turns false first; return :meth:`ok`."""
        deadline = time.monotonic() + seconds
        while self.ok() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(POLL_S, left))
        return self.ok()

    def close(self) -> None:
        """Stop spinning, shut the executor down, destroy the nodes, shut the context down."""
        try:
            self._spinner.stop(destroy=self.nodes)
        finally:
            rclpy.try_shutdown(context=self.context)


@contextlib.contextmanager
def ros_process(args: list[str] | None = None,
                executor_class: Callable[..., Executor] = MultiThreadedExecutor,
                ) -> Iterator[RosProcess]:
    """Initialise a ROS context and executor for the block; end them in order (module docstring).

    Args:
        args: command-line arguments for the context (``--ros-args ...``); None reads
            ``sys.argv`` as ``rclpy.init`` does.
        executor_class: the executor to spin the nodes with; called with ``context=``.

    Yields:
        The process: add nodes with :meth:`RosProcess.add`, then :meth:`RosProcess.start`.

    Raises:
        NodeCrashedError: after the teardown, when a callback raised and so ended spinning.
    """
    signals = _InterruptingSignals()
    context = rclpy.Context()
    try:
        rclpy.init(args=args, context=context)
        process = RosProcess(context, executor_class(context=context))
    except BaseException:
        rclpy.try_shutdown(context=context)
        signals.restore()
        raise
    try:
        yield process
    except (KeyboardInterrupt, ExternalShutdownException):
        process.interrupted = True
    finally:
        signals.shielded = True
        try:
            process.close()
        finally:
            signals.restore()
    if process.error is not None:
        raise NodeCrashedError(
            f'a node callback raised {type(process.error).__name__}: {process.error}; the '
            'process stopped (the traceback is above). This is a bug: please report it.'
        ) from process.error


class _InterruptingSignals:
    """Turns SIGINT and SIGTERM into KeyboardInterrupt in the main thread, until restored.

    The default SIGTERM would end the process before its nodes are destroyed (a recorder's bag
    left unfinished, a latched topic left to the garbage collector). Python handlers can only be
    set in the main thread; elsewhere nothing changes.
    """

    def __init__(self) -> None:
        #: While true, signals are ignored (the teardown runs).
        self.shielded = False
        self._previous: dict[int, object] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if previous is not None:  # None: set outside Python, and could not be put back
                self._previous[signum] = previous
                signal.signal(signum, self._interrupt)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        if not self.shielded:
            raise KeyboardInterrupt

    def restore(self) -> None:
        """Put the previous handlers back (once)."""
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
