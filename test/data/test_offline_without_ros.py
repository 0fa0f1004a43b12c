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

"""The offline tools read bags without any ROS package: checked in a process where none imports."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
import subprocess
import sys

import yaml

from test.data.bagfactory import write_camera_bag
from vlm_planner.data.bags import read_camera

REPO = Path(__file__).resolve().parents[2]

#: Runs in a fresh interpreter: any import of a ROS package fails, then the bag is read.
CHILD = '''
import hashlib, importlib.abc, json, sys

BLOCKED = ('rclpy', 'sensor_msgs', 'std_msgs', 'builtin_interfaces', 'rosidl_runtime_py',
           'rosidl_parser', 'rpyutils', 'rosgraph_msgs', 'diagnostic_msgs')


class NoRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is not installed (blocked by the test)')
        return None


sys.meta_path.insert(0, NoRos())
try:
    import sensor_msgs.msg  # noqa: F401
    raise SystemExit('the import blocker does not work')
except ImportError:
    pass

import vlm_planner.data.bags as bags
import vlm_planner.data.episodes as episodes
import vlm_planner.eval.runner  # noqa: F401

bag, annotation = sys.argv[1:3]
frames = [(f.stamp, list(f.image.shape), hashlib.sha256(f.image.tobytes()).hexdigest())
          for f in bags.read_camera(bag)]
items = [(i.item_id, len(i.frames)) for i in episodes.load_dataset(annotation).items(
    episodes.KeyframeConfig())]
loaded = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)
print(json.dumps({'frames': frames, 'items': items, 'ros_modules': loaded}))
'''


def read_without_ros(bag: Path, annotation: Path) -> dict:
    result = subprocess.run([sys.executable, '-c', CHILD, str(bag), str(annotation)], cwd=REPO,
                            capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_bags_and_data_sets_are_read_without_ros_packages(tmp_path):
    for storage, encoding in (('sqlite3', 'rgb8'), ('mcap', 'png')):
        bag = write_camera_bag(tmp_path / f'bag_{storage}', storage, encoding, count=6)
        annotation = tmp_path / f'notes_{storage}.yaml'
        annotation.write_text(yaml.safe_dump({'bag': bag.path.name, 'decision_points': [
            {'id': 'early', 'time': 0.2, 'goal': 'put the red block in the bin',
             'candidates': ['pick up the red block', 'pick up the blue block'], 'answer': 0},
            {'id': 'late', 'time': 0.5, 'goal': 'put the red block in the bin',
             'candidates': ['pick up the red block', 'pick up the blue block'], 'answer': 1}]}))

        got = read_without_ros(bag.path, annotation)

        assert got['ros_modules'] == []
        want = [(f.stamp, list(f.image.shape), hashlib.sha256(f.image.tobytes()).hexdigest())
                for f in read_camera(bag.path)]
        assert [tuple(f) for f in got['frames']] == want and len(want) == 6
        assert [f.stamp for f in bag.frames] == [stamp for stamp, _, _ in want]
        assert [item_id for item_id, _ in got['items']] == ['early', 'late']
        assert all(count >= 1 for _, count in got['items'])
