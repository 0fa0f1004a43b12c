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

"""``vlm-planner eval`` end to end on real rosbag2 recordings, including a kill and a resume."""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
import yaml

from test.data.bagfactory import LIBRARY, write_camera_bag
from test.models.fake_openai_api import MODEL, serve_fake_api
from vlm_planner.cli import main

REPO = Path(__file__).resolve().parents[2]
GOAL = 'put all blocks in the bin'


def annotated_recording(folder: Path, storage: str, points: int) -> Path:
    """A bag of the tabletop being cleared and an annotation file with ``points`` decisions."""
    bag = write_camera_bag(folder / 'bag', storage, count=4 * points + 2, period=0.1)
    times = [round(0.35 + 0.4 * i, 2) for i in range(points)]
    candidates = LIBRARY.labels[:4]
    annotation = {
        'bag': 'bag', 'topic': bag.topic, 'task': f'clear-{storage}',
        'decision_points': [{'id': f'p{i}', 'time': t, 'goal': GOAL,
                             'candidates': candidates, 'answer': i % 4}
                            for i, t in enumerate(times)]}
    path = folder / 'annotations.yaml'
    path.write_text(yaml.safe_dump(annotation))
    return path


def eval_command(out: Path, *data: Path, strategies='base,reflect') -> list[str]:
    return [sys.executable, '-m', 'vlm_planner.cli', 'eval', '--quiet', '--data',
            *map(str, data), '--model', 'tiny', '--strategies', strategies, '--out', str(out)]


def read_results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / 'results.jsonl').read_text().splitlines()]


@pytest.mark.slow
def test_eval_over_both_storages_writes_results_and_a_report(tmp_path, tiny_model_cache):
    sqlite = annotated_recording(tmp_path / 'a', 'sqlite3', 3)
    mcap = annotated_recording(tmp_path / 'b', 'mcap', 2)
    out = tmp_path / 'out'
    result = subprocess.run(eval_command(out, sqlite, mcap), capture_output=True, text=True,
                            timeout=300, env=os.environ.copy(), cwd=REPO)
    assert result.returncode == 0, result.stderr
    records = read_results(out)
    assert len(records) == (3 + 2) * 2
    assert {r['task'] for r in records} == {'clear-sqlite3', 'clear-mcap'}
    for record in records:
        assert record['predicted'] in range(4) and record['answer'] in range(4)
        # Nothing after the decision point reached the model.
        assert max(record['keyframe_stamps']) <= record['decision_time']
    report = (out / 'report.md').read_text()
    assert 'untrained model' in report and 'reflect' in report
    assert (out / 'accuracy.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.slow
def test_a_killed_eval_resumes_without_losing_or_repeating_anything(tmp_path, tiny_model_cache):
    data = annotated_recording(tmp_path / 'a', 'sqlite3', 8)
    out = tmp_path / 'out'
    total = 8 * 2
    process = subprocess.Popen(eval_command(out, data, strategies='base,cot'),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=os.environ.copy(), cwd=REPO)
    results = out / 'results.jsonl'
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if results.exists() and results.read_text().count('\n') >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, 'the run finished before it could be killed'
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    before = read_results(out)
    assert 3 <= len(before) < total
    resumed = subprocess.run(eval_command(out, data, strategies='base,cot'),
                             capture_output=True, text=True, timeout=300,
                             env=os.environ.copy(), cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    assert f'{len(before)} already in' in resumed.stdout
    after = read_results(out)
    assert after[:len(before)] == before  # kept as written
    keys = [(r['item_id'], r['strategy']) for r in after]
    assert len(keys) == len(set(keys)) == total


def test_bad_data_path_is_reported_with_the_file_name(tmp_path):
    bad = tmp_path / 'notes.yaml'
    bad.write_text('just: text\n')
    result = subprocess.run(eval_command(tmp_path / 'out', bad), capture_output=True,
                            text=True, timeout=120, env=os.environ.copy(), cwd=REPO)
    assert result.returncode == 2
    assert 'notes.yaml' in result.stderr


@pytest.mark.parametrize('how', ['--model', '-p'])
def test_eval_of_a_served_model_asks_its_server(tmp_path, how, capsys):
    data = annotated_recording(tmp_path / 'a', 'sqlite3', 2)
    out = tmp_path / 'out'
    with serve_fake_api() as api:
        model = (['--model', f'openai:{api.url}#{MODEL}'] if how == '--model' else
                 ['-p', 'model.backend:=openai', '-p', f'model.url:={api.url}', '-p',
                  f'model.api_model:={MODEL}'])
        code = main(['eval', '--quiet', '--data', str(data), *model, '--out', str(out)])
        posts = api.posts()

    assert code == 0, capsys.readouterr().err
    records = read_results(out)
    assert len(records) == len(posts) == 2
    assert {r['model'] for r in records} == {f'{urlparse(api.url).netloc}/{MODEL}'}
    assert not any(r['untrained'] for r in records)
    assert [r['predicted'] for r in records] == [0, 0]  # the fake server ranks ' A' first
    assert 'untrained model' not in (out / 'report.md').read_text()


def test_eval_refuses_a_model_option_that_parameters_contradict(tmp_path, capsys):
    data = annotated_recording(tmp_path / 'a', 'sqlite3', 1)

    code = main(['eval', '--quiet', '--data', str(data), '--model', 'tiny', '-p',
                 'model.backend:=openai', '--out', str(tmp_path / 'out')])

    assert code == 2
    assert 'drop --model tiny or drop the parameter model.backend' in capsys.readouterr().err
