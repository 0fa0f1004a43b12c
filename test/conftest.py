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

"""Shared fixtures: ROS isolation per test session, a real rclpy context, and spin helpers."""

from __future__ import annotations

import os
import random
import time
from typing import Callable

import pytest

# Keep parallel or back-to-back test runs on this machine from hearing each other. Must happen
# before rclpy is initialised anywhere.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(1, 100)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


@pytest.fixture
def ros_context():
    """A fresh, initialised rclpy context, shut down after the test."""
    rclpy = pytest.importorskip('rclpy')
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)


@pytest.fixture
def executor(ros_context):
    """A multi-threaded executor spinning in a background thread; its nodes go afterwards.

    Tests wait with :func:`spin_until`, which only polls: all callbacks run on this thread's
    executor, as they would in a node process.
    """
    from rclpy.executors import MultiThreadedExecutor
    from vlm_planner.ros.spinning import ExecutorThread
    ex = MultiThreadedExecutor(num_threads=4, context=ros_context)
    spinner = ExecutorThread(ex).start()
    yield ex
    nodes = list(ex.get_nodes())  # shutdown() forgets them
    spinner.stop(destroy=nodes)


def spin_until(executor, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Wait until ``predicate()`` holds or ``timeout`` s pass (``executor`` spins meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(scope='session')
def tiny_model_cache(tmp_path_factory):
    """Point the tiny-model cache at a session folder, so tests build their own model once."""
    previous = os.environ.get('VLM_PLANNER_CACHE')
    os.environ['VLM_PLANNER_CACHE'] = str(tmp_path_factory.mktemp('vlm_planner_cache'))
    yield os.environ['VLM_PLANNER_CACHE']
    if previous is None:
        del os.environ['VLM_PLANNER_CACHE']
    else:
        os.environ['VLM_PLANNER_CACHE'] = previous


def rosout_qos():
    """Return a QoS that also gets log lines sent before the subscription matched."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    return QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
