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

"""The ``vlm-planner`` command as a user runs it."""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

from test.models.fake_openai_api import MODEL, serve_fake_api
from vlm_planner.cli import main
from vlm_planner.models.model_card import read_model_card

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, '-m', 'vlm_planner.cli', *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


@pytest.mark.slow
def test_demo_completes_its_task_with_the_default_model():
    result = run_cli('demo', '-p', 'execution_time:=0.2')  # what `make demo` runs
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith('step  1  ') and '-> succeeded' in line for line in lines), lines
    assert 'Goal "put the red block in the bin" reached after 2 steps (model demo_model' \
        in result.stdout
    assert 'untrained' not in result.stdout


@pytest.mark.slow
def test_demo_episodes_print_the_success_rate_and_two_runs_keep_apart():
    command = [sys.executable, '-m', 'vlm_planner.cli', 'demo', '--episodes', '2', '--seed',
               '1000', '-p', 'execution_time:=0.2']
    # Two runs at once on one ROS domain: each keeps to its own namespace.
    runs = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=os.environ.copy()) for _ in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=240)
        assert run.returncode == 0, err
        assert 'still executing' not in err and 'rejected' not in err, err
        lines = out.splitlines()
        assert lines[1].startswith('episode   1  bin-single put the red block in the bin')
        assert lines[2].startswith('episode   2  bin-multi ')
        assert 'goal reached in 2 of 2 episodes (100 %)' in out, out
        assert '  bin-single 1/1' in lines and '  bin-multi  1/1' in lines


def test_demo_says_when_the_model_is_untrained(tiny_model_cache):
    result = run_cli('demo', '--steps', '1', '-p', 'execution_time:=0.2',
                     '-p', 'model.backend:=tiny')
    assert result.returncode == 0, result.stderr
    assert any(line.startswith('step  1  ') for line in result.stdout.splitlines())
    assert 'untrained' in result.stdout


def test_params_prints_every_node_table(capsys):
    assert main(['params']) == 0
    out = capsys.readouterr().out
    for heading in ('### vlm_planner', '### mock_manipulator', '### scene_camera'):
        assert heading in out
    assert '| `strategy.name` | `base` |' in out


def test_bad_override_and_bad_parameter_exit_with_a_message(tiny_model_cache):
    with pytest.raises(SystemExit):
        main(['run', '-p', 'no-separator'])
    result = run_cli('run', '-p', 'keyframes.max_count:=0')
    assert result.returncode == 2
    assert 'keyframes.max_count must be >= 1' in result.stderr


def test_missing_params_file_is_named(capsys, tmp_path):
    assert main(['run', '--params', str(tmp_path / 'nope.yaml')]) == 2
    assert 'nope.yaml' in capsys.readouterr().err


def test_make_tiny_model_writes_a_marked_model_folder(tmp_path, capsys):
    assert main(['make-tiny-model', '--out', str(tmp_path / 'm')]) == 0
    card = read_model_card(tmp_path / 'm')
    assert card.untrained is True and card.details['arch'] == 'qwen2_5_vl'
    assert (tmp_path / 'm' / 'config.json').is_file()
    assert 'untrained' in capsys.readouterr().out


def test_plan_prints_the_decision_record_for_an_image_folder(tmp_path, tiny_model_cache):
    import json

    import cv2

    from vlm_planner.sim.render import render
    from vlm_planner.sim.world import TabletopWorld
    frames = tmp_path / 'frames'
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f'{i}.png'), render(TabletopWorld.random_initial(i)))
    result = run_cli('plan', '--frames', str(frames), '--goal', 'put the red block in the bin',
                     '--strategy', 'reflect', '-p', 'keyframes.policy:=interval',
                     '--model', 'tiny')
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record['strategy'] == 'reflect' and record['untrained'] is True
    assert record['action'] in record['candidates'] and len(record['candidates']) == 8
    assert record['keyframe_stamps'] == [0.0, 1.0, 2.0]


@pytest.fixture
def frame_folder(tmp_path):
    """Three small camera frames in a folder."""
    import cv2
    import numpy as np
    folder = tmp_path / 'frames'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(folder / f'{i}.png'), rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return folder


@pytest.fixture
def api():
    """A fake OpenAI-compatible model server on loopback."""
    with serve_fake_api() as fake:
        yield fake


def plan(frames, *options):
    return main(['plan', '--frames', str(frames), '--goal', 'put the red block in the bin',
                 *options])


def test_plan_asks_the_served_model_the_parameters_name(api, frame_folder, capsys):
    assert plan(frame_folder, '-p', 'model.backend:=openai', '-p', f'model.url:={api.url}') == 0

    record = json.loads(capsys.readouterr().out)
    assert record['model'] == MODEL and record['untrained'] is False
    # The fake server ranks ' A' first: the first candidate is the one chosen.
    assert record['action'] == record['candidates'][0]
    posts = api.posts()
    assert len(posts) == 1 and posts[0]['model'] == MODEL and posts[0]['logprobs'] is True
    assert 'put the red block in the bin' in json.dumps(posts[0]['messages'])


def test_plan_asks_the_served_model_the_model_option_names(api, frame_folder, capsys):
    assert plan(frame_folder, '--model', f'openai:{api.url}#{MODEL}', '-p',
                'model.timeout:=5') == 0

    assert json.loads(capsys.readouterr().out)['model'] == MODEL
    assert [method for method, *_ in api.requests] == ['POST']  # served name given: no listing


def test_plan_refuses_a_model_option_that_parameters_contradict(frame_folder, capsys):
    assert plan(frame_folder, '--model', 'tiny', '-p', 'model.backend:=openai') == 2

    err = capsys.readouterr().err
    assert "--model tiny selects model.backend 'tiny'" in err
    assert 'drop --model tiny or drop the parameter model.backend' in err


def test_plan_names_the_accepted_forms_of_a_bad_model(frame_folder, capsys):
    assert plan(frame_folder, '--model', 'vllm:http://localhost:8000/v1') == 2

    assert "'vllm' is not a backend" in capsys.readouterr().err


def test_likelihood_scoring_with_a_served_model_is_a_clear_error(api, frame_folder, capsys):
    assert plan(frame_folder, '--model', api.url, '-p', 'strategy.scoring:=likelihood') == 2

    err = capsys.readouterr().err
    assert "strategy.scoring 'likelihood' needs a backend that scores whole answers" in err
    assert 'strategy.scoring:=letter' in err
    assert api.posts() == []


def test_plan_reports_a_missing_frames_path(tmp_path):
    result = run_cli('plan', '--frames', str(tmp_path / 'nope'), '--goal', 'g')
    assert result.returncode == 2
    assert 'nope does not exist' in result.stderr


@pytest.mark.parametrize('executable, argument, message', [
    ('planner_node', 'keyframes.max_count:=0', 'keyframes.max_count must be >= 1'),
    ('mock_manipulator_node', 'failure_rate:=2.0', 'failure_rate must be >= 0.0 and <= 1.0'),
    ('scene_camera_node', 'goal:=fly to the moon', 'Supported goals'),
])
def test_node_executables_refuse_bad_parameters_with_a_fatal_explanation(
        executable, argument, message, tiny_model_cache):
    script = Path(sys.executable).parent / executable
    result = subprocess.run([str(script), '--ros-args', '-p', argument], capture_output=True,
                            text=True, timeout=120, env=os.environ.copy())
    assert result.returncode == 2
    assert '[FATAL]' in result.stderr and message in result.stderr


def test_misspelt_parameter_is_refused_with_suggestions(capsys):
    assert main(['demo', '-p', 'stratgy.name:=cot']) == 2
    err = capsys.readouterr().err
    assert "no node has a parameter 'stratgy.name'" in err and 'strategy.name' in err


@pytest.mark.parametrize('executable, ready', [
    ('planner_node', 'planning with'),
    ('mock_manipulator_node', 'ready:'),
    ('scene_camera_node', 'initial world'),
])
def test_node_executables_stop_cleanly_on_ctrl_c(executable, ready, tmp_path, tiny_model_cache):
    script = Path(sys.executable).parent / executable
    log = tmp_path / 'stderr.txt'
    with open(log, 'w') as err:
        process = subprocess.Popen([str(script), '--ros-args', '-p', 'trigger.mode:=timer']
                                   if executable == 'planner_node' else [str(script)],
                                   stdout=subprocess.DEVNULL, stderr=err, env=os.environ.copy())
        try:
            deadline = time.monotonic() + 120
            while ready not in log.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.1)
            assert ready in log.read_text(), 'the node did not come up'
            time.sleep(0.5)  # let it run its timers and callbacks for a moment
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            process.kill()
    text = log.read_text()
    assert 'Traceback' not in text and 'never retrieved' not in text, text


@pytest.mark.slow
@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_run_stops_cleanly_on_sigterm_and_ctrl_c(signum, tmp_path, tiny_model_cache):
    log = tmp_path / 'stderr.txt'
    with open(log, 'w') as err:
        process = subprocess.Popen([sys.executable, '-m', 'vlm_planner.cli', 'run'], cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=err, env=os.environ.copy())
        try:
            deadline = time.monotonic() + 120
            while 'planning with' not in log.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.1)
            assert 'planning with' in log.read_text(), 'the planner did not come up'
            time.sleep(0.5)
            started = time.monotonic()
            process.send_signal(signum)
            assert process.wait(timeout=30) == 0  # SIGTERM used to kill it before its teardown
            assert time.monotonic() - started < 10
        finally:
            process.kill()
    text = log.read_text()
    assert 'Traceback' not in text and 'never retrieved' not in text, text
