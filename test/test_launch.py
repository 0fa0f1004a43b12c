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

"""launch_pytest test of ``launch/planner.launch.py``: the whole graph as separate processes.

It runs where the ROS 2 launch packages are installed (a sourced ROS 2 workspace after
``colcon build``); elsewhere it is skipped with the reason.
"""

from pathlib import Path
import time

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='launch_pytest is not installed; it comes with ROS 2 (apt install '
    'ros-jazzy-launch-pytest) and is not on the package index. Run `colcon test` in a ROS 2 '
    'workspace to include this test.')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (apt install '
                    'ros-jazzy-launch-ros).')

import launch  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
import rclpy  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from vlm_planner.config_paths import default_actions_file  # noqa: E402
from vlm_planner.core.actions import ActionLibrary  # noqa: E402
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / 'launch' / 'planner.launch.py'


@launch_pytest.fixture
def planner_graph():
    """The shipped launch file with its defaults: planner, mock manipulator, scene camera."""
    return launch.LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                                 launch_arguments={'log_level': 'info'}.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=planner_graph)
def test_launched_graph_closes_the_loop():
    labels = ActionLibrary.from_yaml(default_actions_file()).labels
    rclpy.init()
    node = rclpy.create_node('launch_test_listener')
    actions, statuses = [], []
    node.create_subscription(String, 'action', lambda m: actions.append(m.data), COMMAND_QOS)
    node.create_subscription(String, 'manipulator/status', lambda m: statuses.append(m.data),
                             LATCHED_QOS)
    try:
        deadline = time.monotonic() + 120.0  # includes loading the model
        while time.monotonic() < deadline and not (actions and 'succeeded' in statuses):
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    assert actions, 'the launched planner published no action within 120 s'
    assert all(a in labels for a in actions)
    assert 'executing' in statuses and 'succeeded' in statuses


@launch_pytest.fixture
def managed_planner_graph():
    """The launch file with the planner as a lifecycle node, brought up by the launch file."""
    return launch.LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                                 launch_arguments={'managed': 'true',
                                                   'dry_run': 'false'}.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=managed_planner_graph)
def test_launched_managed_planner_is_configured_activated_and_plans():
    from lifecycle_msgs.msg import State
    from lifecycle_msgs.srv import GetState
    rclpy.init()
    node = rclpy.create_node('launch_test_lifecycle_client')
    actions = []
    node.create_subscription(String, 'action', lambda m: actions.append(m.data), COMMAND_QOS)
    client = node.create_client(GetState, '/vlm_planner/get_state')
    try:
        assert client.wait_for_service(timeout_sec=60.0), 'no lifecycle services'
        deadline = time.monotonic() + 120.0
        state = None
        while time.monotonic() < deadline and not actions:
            future = client.call_async(GetState.Request())
            rclpy.spin_until_future_complete(node, future, timeout_sec=5.0)
            state = future.result().current_state.id if future.result() else state
            rclpy.spin_once(node, timeout_sec=0.5)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    assert state == State.PRIMARY_STATE_ACTIVE
    assert actions, 'the managed planner published no action within 120 s'


def load_launch_module():
    """The launch file as a module, to build its node list without running it."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('planner_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('arguments, executables', [
    ({}, ['mock_manipulator_node']),
    ({'arm': 'bridge'}, ['skill_bridge_node', 'sim_joint_controller_node']),
    ({'arm': 'bridge', 'use_sim_arm': 'false'}, ['skill_bridge_node']),
    ({'arm': 'bridge', 'use_mock_manipulator': 'false'}, []),
    ({'use_mock_manipulator': 'false'}, []),
])
def test_arm_argument_chooses_the_arm_nodes(arguments, executables):
    module = load_launch_module()
    context = launch.LaunchContext()
    for name, (default, _, _) in module.ARGUMENTS.items():
        context.launch_configurations[name] = default if isinstance(default, str) else 'p.yaml'
    context.launch_configurations.update(arguments)
    nodes = module.arm_nodes(context, {'output': 'screen'})
    assert [node.node_executable for node in nodes] == executables
    names = {'arm', 'skills_file', 'trajectory_topic', 'use_sim_arm'}
    assert names <= set(module.ARGUMENTS)
    default, _, choices = module.ARGUMENTS['arm']
    assert default == 'mock' and choices == ['mock', 'bridge']


@launch_pytest.fixture
def bridge_graph():
    """The launch file with arm:=bridge: the skill bridge drives the simulated controller."""
    return launch.LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                                 launch_arguments={'arm': 'bridge'}.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=bridge_graph)
def test_launched_bridge_executes_actions_on_the_simulated_arm():
    from trajectory_msgs.msg import JointTrajectory
    labels = ActionLibrary.from_yaml(default_actions_file()).labels
    rclpy.init()
    node = rclpy.create_node('launch_test_bridge_listener')
    actions, statuses, trajectories = [], [], []
    node.create_subscription(String, 'action', lambda m: actions.append(m.data), COMMAND_QOS)
    node.create_subscription(String, 'manipulator/status', lambda m: statuses.append(m.data),
                             LATCHED_QOS)
    node.create_subscription(JointTrajectory, 'joint_trajectory_controller/joint_trajectory',
                             trajectories.append, COMMAND_QOS)
    try:
        # Includes loading the model and one skill of the shipped file (several seconds).
        deadline = time.monotonic() + 180.0
        while time.monotonic() < deadline and not (actions and 'succeeded' in statuses):
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    assert actions, 'the launched planner published no action within 180 s'
    assert all(a in labels for a in actions)
    assert 'executing' in statuses and 'succeeded' in statuses, statuses
    assert trajectories, 'the bridge sent no arm trajectory'
