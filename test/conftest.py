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
    """A multi-threaded executor on the test's context; its nodes are destroyed afterwards."""
    from rclpy.executors import MultiThreadedExecutor
    ex = MultiThreadedExecutor(num_threads=4, context=ros_context)
    yield ex
    for node in list(ex.get_nodes()):
        ex.remove_node(node)
        node.destroy_node()
    ex.shutdown(timeout_sec=2.0)


def spin_until(executor, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Spin ``executor`` until ``predicate()`` holds or ``timeout`` s pass; return the result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=0.05)
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
