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

"""Tests of the background executor thread."""

import gc
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import MultiThreadedExecutor  # noqa: E402

from test.conftest import spin_until  # noqa: E402
from vlm_planner.ros.spinning import ExecutorThread  # noqa: E402


@pytest.fixture
def thread_errors():
    """Exceptions raised in any thread during the test."""
    errors = []
    previous = threading.excepthook
    threading.excepthook = errors.append
    yield errors
    threading.excepthook = previous


def _ticking_node(context, executor):
    node = rclpy.create_node('ticker', context=context)
    ticks = []
    node.create_timer(0.01, lambda: ticks.append(time.monotonic()))
    executor.add_node(node)
    return node, ticks


def test_stop_ends_callbacks_and_the_thread_before_nodes_go(ros_context, thread_errors):
    executor = MultiThreadedExecutor(context=ros_context)
    node, ticks = _ticking_node(ros_context, executor)
    spinner = ExecutorThread(executor).start()
    assert spin_until(None, lambda: len(ticks) >= 10, 10), 'the timer did not run'
    spinner.stop()
    assert not spinner.is_alive()
    time.sleep(0.05)  # let a callback that was already running finish
    count = len(ticks)
    time.sleep(0.2)
    assert len(ticks) == count, 'callbacks ran after stop()'
    node.destroy_node()
    assert thread_errors == []


def test_the_thread_ends_when_the_context_shuts_down(ros_context, thread_errors):
    executor = MultiThreadedExecutor(context=ros_context)
    node, ticks = _ticking_node(ros_context, executor)
    spinner = ExecutorThread(executor).start()
    assert spin_until(None, lambda: ticks, 10)
    rclpy.shutdown(context=ros_context)
    assert spin_until(None, lambda: not spinner.is_alive(), 10)
    spinner.stop()
    node.destroy_node()
    assert thread_errors == []


def test_callbacks_handed_to_the_pool_finish_before_shutdown(ros_context, thread_errors, capsys):
    # Slow callbacks in one mutually exclusive group on a two-thread pool: at any moment some are
    # queued or turned away, and each of those touches the executor's guard condition.
    executor = MultiThreadedExecutor(num_threads=2, context=ros_context)
    node = rclpy.create_node('busy', context=ros_context)
    ran = []
    for _ in range(4):
        node.create_timer(0.001, lambda: (time.sleep(0.005), ran.append(1)))
    executor.add_node(node)
    spinner = ExecutorThread(executor).start()
    assert spin_until(None, lambda: len(ran) >= 20, 10)
    spinner.stop()
    node.destroy_node()
    time.sleep(0.2)  # a callback left behind in the pool would fail now...
    del executor, spinner
    gc.collect()  # ...and rclpy reports its exception when the task is collected
    assert 'never retrieved' not in capsys.readouterr().err
    assert thread_errors == []
