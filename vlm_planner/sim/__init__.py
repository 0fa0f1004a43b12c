"""The synthetic tabletop world: state and actions, task goals, and a camera renderer.

Pure Python, numpy and OpenCV; no rclpy. The ROS nodes in :mod:`vlm_planner.ros` wrap these.
"""

from vlm_planner.sim.render import render
from vlm_planner.sim.tasks import (BinTask, GoalParseError, parse_goal, StackTask, SUPPORTED_GOALS,
                                   TableTask, Task, UnsolvableTaskError)
from vlm_planner.sim.world import ApplyResult, COLOURS, Location, TabletopWorld

__all__ = [
    'ApplyResult', 'BinTask', 'COLOURS', 'GoalParseError', 'Location', 'StackTask',
    'SUPPORTED_GOALS', 'TableTask', 'TabletopWorld', 'Task', 'UnsolvableTaskError', 'parse_goal',
    'render',
]
