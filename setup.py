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

"""Install vlm_planner as an ament_python ROS 2 package and as a pip package."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'vlm_planner'


def config_files():
    """Map every file under config/ to share/vlm_planner/config/..., keeping sub-folders."""
    entries = {}
    for path in glob('config/**/*', recursive=True):
        if os.path.isfile(path):
            target = os.path.join('share', package_name, os.path.dirname(path))
            entries.setdefault(target, []).append(path)
    return sorted(entries.items())


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={'vlm_planner': ['resources/*.yaml', 'resources/demo_model/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        *config_files(),
    ],
    install_requires=['setuptools', 'numpy', 'PyYAML', 'tqdm', 'opencv-python-headless', 'rosbags',
                      'transformers', 'torch', 'torchvision', 'safetensors', 'matplotlib',
                      'pillow'],
    zip_safe=False,
    python_requires='>=3.10',
    maintainer='vlm_planner maintainers',
    maintainer_email='maintainers@vlm-planner.invalid',
    description='Plan a robot\'s next action with a locally hosted video-language model.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'planner_node = vlm_planner.ros.planner_node:main',
            'managed_planner_node = vlm_planner.ros.planner_node:managed_main',
            'mock_manipulator_node = vlm_planner.ros.mock_manipulator_node:main',
            'scene_camera_node = vlm_planner.ros.scene_camera_node:main',
            'sim_joint_controller_node = vlm_planner.ros.sim_joint_controller_node:main',
            'skill_bridge_node = vlm_planner.ros.skill_bridge_node:main',
            'vlm-planner = vlm_planner.cli:main',
        ],
    },
)
