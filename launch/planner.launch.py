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

"""Start the VLM planner, and optionally the mock manipulator and the synthetic camera.

Examples::

    ros2 launch vlm_planner planner.launch.py
    ros2 launch vlm_planner planner.launch.py model_path:=/models/Qwen2.5-VL-7B-Instruct
    ros2 launch vlm_planner planner.launch.py use_sim_camera:=false camera_topic:=/camera/image
    ros2 launch vlm_planner planner.launch.py strategy:=consistency
    ros2 launch vlm_planner planner.launch.py namespace:=robot1 log_level:=debug
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = {
    'params_file': (PathJoinSubstitution([FindPackageShare('vlm_planner'), 'config',
                                          'planner.yaml']),
                    'ROS 2 parameter file for all nodes'),
    'model_path': ('', 'Local video VLM folder; when set, the transformers backend loads it '
                       'instead of the tiny untrained model'),
    'strategy': ('', 'Prompting strategy: base, cot, reflect or consistency (empty: from '
                     'params_file)'),
    'use_mock_manipulator': ('true', 'Start the mock manipulator'),
    'use_sim_camera': ('true', 'Start the synthetic tabletop camera'),
    'camera_topic': ('image', 'Camera topic the planner subscribes to'),
    'namespace': ('', 'Namespace of every node and topic'),
    'log_level': ('info', 'Log level of every node'),
}


def planner_overrides(context):
    """Parameters given as launch arguments override the parameter file's values."""
    overrides = {}
    model_path = LaunchConfiguration('model_path').perform(context)
    if model_path:
        overrides.update({'model.backend': 'transformers', 'model.path': model_path})
    strategy = LaunchConfiguration('strategy').perform(context)
    if strategy:
        overrides['strategy.name'] = strategy
    return overrides


def launch_nodes(context):
    """Build the node actions once launch arguments are known."""
    params_file = LaunchConfiguration('params_file')
    common = {
        'namespace': LaunchConfiguration('namespace'),
        'output': 'screen',
        'arguments': ['--ros-args', '--log-level', LaunchConfiguration('log_level')],
    }
    return [
        Node(package='vlm_planner', executable='planner_node', name='vlm_planner',
             parameters=[params_file, planner_overrides(context)],
             remappings=[('image', LaunchConfiguration('camera_topic')),
                         ('image/compressed',
                          [LaunchConfiguration('camera_topic'), '/compressed'])],
             **common),
        Node(package='vlm_planner', executable='mock_manipulator_node', name='mock_manipulator',
             parameters=[params_file], condition=IfCondition(
                 LaunchConfiguration('use_mock_manipulator')), **common),
        Node(package='vlm_planner', executable='scene_camera_node', name='scene_camera',
             parameters=[params_file], remappings=[('image', LaunchConfiguration('camera_topic'))],
             condition=IfCondition(LaunchConfiguration('use_sim_camera')), **common),
    ]


def generate_launch_description():
    """Launch description of the planner graph."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, (default, description) in ARGUMENTS.items()),
        OpaqueFunction(function=launch_nodes),
    ])
