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

"""The ament_python package is complete: manifest, data files, entry points, launch file."""

import configparser
from importlib import metadata
from pathlib import Path
import py_compile
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_package_xml_is_format_3_ament_python_with_runtime_and_test_dependencies():
    root = ET.parse(REPO / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'vlm_planner'
    assert root.find('export/build_type').text == 'ament_python'
    exec_deps = {e.text for e in root.findall('exec_depend')}
    test_deps = {e.text for e in root.findall('test_depend')}
    assert {'rclpy', 'sensor_msgs', 'std_msgs', 'std_srvs', 'diagnostic_msgs', 'launch',
            'launch_ros', 'python3-opencv', 'python3-numpy'} <= exec_deps
    assert {'launch_pytest', 'ament_flake8', 'ament_pep257', 'ament_copyright',
            'ament_xmllint'} <= test_deps


def test_setup_cfg_installs_scripts_where_ros2_run_finds_them():
    config = configparser.ConfigParser()
    config.read(REPO / 'setup.cfg')
    assert config['develop']['script_dir'] == '$base/lib/vlm_planner'
    assert config['install']['install_scripts'] == '$base/lib/vlm_planner'
    assert (REPO / 'resource' / 'vlm_planner').is_file()


def test_console_scripts_point_at_existing_mains():
    scripts = {e.name: e for e in metadata.entry_points(group='console_scripts')
               if e.value.startswith('vlm_planner')}
    assert set(scripts) >= {'planner_node', 'mock_manipulator_node', 'scene_camera_node',
                            'vlm-planner'}
    for entry in scripts.values():
        assert callable(entry.load()), entry


def test_launch_file_compiles_and_declares_documented_arguments():
    launch_file = REPO / 'launch' / 'planner.launch.py'
    py_compile.compile(str(launch_file), doraise=True)
    text = launch_file.read_text()
    for argument in ('params_file', 'model', 'strategy', 'dry_run', 'managed', 'on_planner_exit',
                     'use_mock_manipulator', 'use_sim_camera', 'camera_topic', 'namespace',
                     'log_level'):
        assert f"'{argument}'" in text, argument
        assert f'`{argument}`' in (REPO / 'README.md').read_text(), f'{argument} not in README'


@pytest.mark.slow
def test_wheel_installs_ament_index_manifest_launch_and_config_into_share(tmp_path):
    # Build the real wheel (what pip installs) and look at its data files; installing it here
    # would replace the developer's editable install.
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(tmp_path), str(REPO)],
                   check=True, capture_output=True, cwd=tmp_path)
    [wheel] = tmp_path.glob('vlm_planner-*.whl')
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    share = 'vlm_planner-0.1.0.data/data/share/'
    for relative in ('ament_index/resource_index/packages/vlm_planner',
                     'vlm_planner/package.xml', 'vlm_planner/launch/planner.launch.py',
                     'vlm_planner/config/planner.yaml',
                     'vlm_planner/config/actions/tabletop.yaml'):
        assert share + relative in names, relative
    assert 'vlm_planner/resources/prompt_default.yaml' in names


def test_readme_parameter_tables_match_the_code():
    from vlm_planner.cli import node_parameter_tables
    from vlm_planner.params import markdown_table
    readme = (REPO / 'README.md').read_text()
    for node, table in node_parameter_tables().items():
        assert markdown_table(table) in readme, (
            f'README parameters of {node} are stale: paste `vlm-planner params --node {node}`')


def test_shipped_parameter_file_is_the_one_generated_from_the_declarations():
    from vlm_planner.cli import parameter_file
    shipped = (REPO / 'config' / 'planner.yaml').read_text()
    assert shipped == parameter_file(), (
        'config/planner.yaml is stale: run `vlm-planner params --yaml > config/planner.yaml`')


def test_ros_descriptors_carry_ranges_choices_and_read_only():
    pytest.importorskip('rclpy')
    from vlm_planner.ros.parameters import descriptor
    from vlm_planner.settings import PLANNER_PARAMS
    table = {p.name: p for p in PLANNER_PARAMS}
    confidence = descriptor(table['min_confidence'])
    assert confidence.floating_point_range[0].from_value == 0.0
    assert confidence.floating_point_range[0].to_value == 1.0 and not confidence.read_only
    count = descriptor(table['keyframes.max_count'])
    assert count.integer_range[0].from_value == 1 and count.read_only
    assert "'base'" in descriptor(table['strategy.name']).description
