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

"""Start the VLM planner, and optionally an arm (mock, or the skill bridge) and the camera.

Examples::

    ros2 launch vlm_planner planner.launch.py
    ros2 launch vlm_planner planner.launch.py model:=/models/Qwen2.5-VL-7B-Instruct
    ros2 launch vlm_planner planner.launch.py model:=openai:http://localhost:8000/v1
    ros2 launch vlm_planner planner.launch.py use_sim_camera:=false camera_topic:=/camera/image
    ros2 launch vlm_planner planner.launch.py strategy:=consistency dry_run:=true
    ros2 launch vlm_planner planner.launch.py managed:=true   # lifecycle node, brought up here
    ros2 launch vlm_planner planner.launch.py namespace:=robot1 log_level:=debug
    ros2 launch vlm_planner planner.launch.py arm:=bridge   # skills on a simulated arm
    ros2 launch vlm_planner planner.launch.py arm:=bridge use_sim_arm:=false \
        skills_file:=/path/ur5e.yaml \
        trajectory_topic:=/scaled_joint_trajectory_controller/joint_trajectory

The choices of ``strategy`` come from the registered strategies and ``model`` is parsed by the
same function as ``vlm-planner plan --model`` and ``eval --model``.
"""

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, OpaqueFunction,
                            RegisterEventHandler, Shutdown)
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from vlm_planner.core.strategies import strategy_names
from vlm_planner.models.spec import FORMS, apply_model_spec

BOOLEAN = ['true', 'false']
ON_EXIT = ['shutdown', 'respawn', 'continue']
ARMS = ['mock', 'bridge']
DEFAULT_TRAJECTORY_TOPIC = 'joint_trajectory_controller/joint_trajectory'
#: The simulated controller's other trajectory topic (the gripper's), kept when the arm's moves.
SIM_GRIPPER_TOPIC = 'gripper_controller/joint_trajectory'


#: name: (default, description, choices or None)
ARGUMENTS = {
    'params_file': (PathJoinSubstitution([FindPackageShare('vlm_planner'), 'config',
                                          'planner.yaml']),
                    'ROS 2 parameter file for all nodes', None),
    'model': ('', 'Model specification (' + ', '.join(FORMS) + '); empty: from params_file',
              None),
    'strategy': ('', 'Prompting strategy (empty: from params_file)', ['', *strategy_names()]),
    'dry_run': ('', 'true: decide and publish decision records but never an action (empty: '
                    'from params_file)', ['', *BOOLEAN]),
    'managed': ('false', 'Start the planner as a lifecycle node and bring it up (configure, '
                         'activate) from this launch file', BOOLEAN),
    'on_planner_exit': ('shutdown', 'What happens when the planner process ends: shut the '
                                    'whole launch down, respawn the planner, or continue',
                        ON_EXIT),
    'use_mock_manipulator': ('true', 'Start the arm side at all (the mock manipulator, or the '
                                     'skill bridge with arm:=bridge)', BOOLEAN),
    'arm': ('mock', 'What executes the actions: the mock manipulator, or the skill bridge '
                    'driving a ros2_control arm through a skills file', ARMS),
    'skills_file': ('', 'Skills file of the bridge (empty: from params_file, whose default is '
                        'the shipped config/skills/tabletop_arm.yaml)', None),
    'trajectory_topic': (DEFAULT_TRAJECTORY_TOPIC, 'Topic of the arm controller\'s '
                         'JointTrajectory commands, for the bridge', None),
    'use_sim_arm': ('true', 'With arm:=bridge, also start the simulated joint controller; '
                            'false for a real robot', BOOLEAN),
    'use_sim_camera': ('true', 'Start the synthetic tabletop camera', BOOLEAN),
    'camera_topic': ('image', 'Camera topic the planner subscribes to', None),
    'namespace': ('', 'Namespace of every node and topic', None),
    'log_level': ('info', 'Log level of every node', ['debug', 'info', 'warn', 'error',
                                                      'fatal']),
}


def planner_overrides(context) -> dict:
    """Parameters given as launch arguments override the parameter file's values."""
    overrides: dict = {}
    model = LaunchConfiguration('model').perform(context)
    if model:
        overrides = apply_model_spec(overrides, model, source='model:=')
    strategy = LaunchConfiguration('strategy').perform(context)
    if strategy:
        overrides['strategy.name'] = strategy
    dry_run = LaunchConfiguration('dry_run').perform(context)
    if dry_run:
        overrides['dry_run'] = dry_run == 'true'
    return overrides


def planner_node(context, common: dict) -> list:
    """The planner (plain or lifecycle) and what brings it up or reacts to its exit."""
    managed = LaunchConfiguration('managed').perform(context) == 'true'
    on_exit = LaunchConfiguration('on_planner_exit').perform(context)
    options = dict(
        package='vlm_planner', name='vlm_planner',
        parameters=[LaunchConfiguration('params_file'), planner_overrides(context)],
        remappings=[('image', LaunchConfiguration('camera_topic')),
                    ('image/compressed', [LaunchConfiguration('camera_topic'), '/compressed'])],
        respawn=on_exit == 'respawn', respawn_delay=2.0,
        on_exit=[Shutdown(reason='the planner exited')] if on_exit == 'shutdown' else None,
        **common)
    if not managed:
        return [Node(executable='planner_node', **options)]
    node = LifecycleNode(executable='managed_planner_node',
                         namespace=LaunchConfiguration('namespace'),
                         **{k: v for k, v in options.items() if k != 'namespace'})
    configure = EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                            transition_id=Transition.TRANSITION_CONFIGURE))
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, goal_state='inactive',
        entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                              transition_id=Transition.TRANSITION_ACTIVATE))]))
    return [activate, node, configure]


def arm_nodes(context, common: dict) -> list:
    """The arm side: nothing, the mock manipulator, or the skill bridge (and simulated arm)."""
    if LaunchConfiguration('use_mock_manipulator').perform(context) != 'true':
        return []
    params_file = LaunchConfiguration('params_file')
    if LaunchConfiguration('arm').perform(context) == 'mock':
        return [Node(package='vlm_planner', executable='mock_manipulator_node',
                     name='mock_manipulator', parameters=[params_file], **common)]
    # Overrides only for the arguments given, so that params_file's values hold otherwise.
    overrides: dict = {}
    skills_file = LaunchConfiguration('skills_file').perform(context)
    if skills_file:
        overrides['skills_file'] = skills_file
    trajectory_topic = LaunchConfiguration('trajectory_topic').perform(context)
    if trajectory_topic and trajectory_topic != DEFAULT_TRAJECTORY_TOPIC:
        overrides['trajectory_topic'] = trajectory_topic
    nodes = [Node(package='vlm_planner', executable='skill_bridge_node', name='skill_bridge',
                  parameters=[params_file, overrides], **common)]
    if LaunchConfiguration('use_sim_arm').perform(context) == 'true':
        sim_overrides = ({'trajectory_topics': f'{trajectory_topic}, {SIM_GRIPPER_TOPIC}'}
                         if 'trajectory_topic' in overrides else {})
        nodes.append(Node(package='vlm_planner', executable='sim_joint_controller_node',
                          name='sim_joint_controller', parameters=[params_file, sim_overrides],
                          **common))
    return nodes


def launch_nodes(context):
    """Build the node actions once launch arguments are known."""
    params_file = LaunchConfiguration('params_file')
    common = {
        'namespace': LaunchConfiguration('namespace'),
        'output': 'screen',
        'arguments': ['--ros-args', '--log-level', LaunchConfiguration('log_level')],
    }
    return [
        *planner_node(context, common),
        *arm_nodes(context, common),
        Node(package='vlm_planner', executable='scene_camera_node', name='scene_camera',
             parameters=[params_file], remappings=[('image', LaunchConfiguration('camera_topic'))],
             condition=IfCondition(LaunchConfiguration('use_sim_camera')), **common),
    ]


def generate_launch_description():
    """Launch description of the planner graph."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description,
                                choices=choices)
          for name, (default, description, choices) in ARGUMENTS.items()),
        OpaqueFunction(function=launch_nodes),
    ])
