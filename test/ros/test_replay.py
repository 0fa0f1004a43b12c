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

"""Replaying a recording to the planner on the recording's clock, over real DDS.

The README's replay recipe is read from the README itself and run here: its ``vlm-planner run``
line's parameters start the planner node (on the tiny model), its ``vlm-planner play`` line runs
as written in a folder holding a camera recording ``run1``. The ``ros2`` lines of the same
section cannot run without a ROS install; they are checked to configure the same planner.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import shlex
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402
from rclpy.time import Time  # noqa: E402
from rosbags.rosbag2 import Reader  # noqa: E402
from rosbags.typesys import get_typestore, Stores  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from test.conftest import rosout_qos, spin_until  # noqa: E402
from test.data.bagfactory import scene_images  # noqa: E402
from test.ros.planner_harness import GOAL  # noqa: E402
from test.ros.test_planner_safety import scripted_planner  # noqa: E402
from test.ros.test_player import MS, Probe, T0, write_test_bag  # noqa: E402
from vlm_planner.cli import _checked_overrides, build_parser, main  # noqa: E402
from vlm_planner.data.bag_writer import BagWriter  # noqa: E402
from vlm_planner.errors import ConfigError  # noqa: E402
from vlm_planner.ros.conversions import rgb_to_image_msg, seconds_to_stamp  # noqa: E402
from vlm_planner.ros.player import BagPlayer, CLOCK_QOS  # noqa: E402

README = Path(__file__).resolve().parents[2] / 'README.md'
STORE = get_typestore(Stores.ROS2_JAZZY)
#: The camera recording: frames at 5 Hz from an old day, so that today's time cannot pass for it.
START = 1_600_000_000.0
PERIOD = 0.2
FRAMES = 16
#: Seconds between a frame's header stamp and the bag receiving it.
LATENCY = 0.005


def readme_replay_commands() -> list[list[list[str]]]:
    """The command lines of the README's replay recipe: one list per code block."""
    text = README.read_text()
    section = text[text.index('To watch the nodes on a recording instead'):]
    section = section[:section.index('\n## ')]
    blocks = re.findall(r'```bash\n(.*?)```', section, re.S)
    return [[shlex.split(line, comments=True) for line in block.replace('\\\n', ' ').splitlines()
             if line.strip()] for block in blocks]


def write_camera_recording(path: Path) -> None:
    """What ``ros2 bag record -o run1 /camera/image_raw`` leaves: camera frames, no goal."""
    with BagWriter(path, 'sqlite3') as bag:
        for i, rgb in enumerate(scene_images(FRAMES, width=64, height=48)):
            stamp = START + i * PERIOD
            bag.write('/camera/image_raw', round((stamp + LATENCY) * 1e9),
                      rgb_to_image_msg(rgb, 'rgb8', stamp=seconds_to_stamp(stamp)))


def read_bag(path: Path) -> list[tuple[str, int, str]]:
    """(topic, stamp in ns, text) of every message of a bag of std_msgs/String."""
    with Reader(path) as reader:
        return [(c.topic, stamp, STORE.deserialize_cdr(data, c.msgtype).data)
                for c, stamp, data in reader.messages()]


def test_the_two_replay_recipes_configure_the_same_planner():
    ours, theirs = readme_replay_commands()[:2]
    run = build_parser().parse_args(ours[0][1:-1])
    assert ours[0][:2] == ['vlm-planner', 'run'] and ours[0][-1] == '&'
    assert run.no_sim_camera and run.no_mock_manipulator  # the recording is the camera
    overrides = _checked_overrides(run)  # every name is a parameter of a node
    ros_run = theirs[0]
    assert ros_run[:3] == ['ros2', 'run', 'vlm_planner'] and ros_run[-1] == '&'
    pairs = [ros_run[i + 1] for i, arg in enumerate(ros_run) if arg in ('-p', '-r')]
    ros_params = dict(p.split(':=', 1) for p in pairs if not p.startswith('image:='))
    assert {k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in overrides.items()} == ros_params
    assert 'image:=/camera/image_raw' in pairs
    play = build_parser().parse_args(ours[1][1:])
    assert play.clock and play.record and play.wait_for == ['/image']
    assert play.remap == ['/camera/image_raw:=/image']
    assert any(cmd[:3] == ['ros2', 'bag', 'record'] and '--use-sim-time' in cmd
               and play.record in cmd for cmd in theirs)
    assert any(cmd[:3] == ['ros2', 'bag', 'play'] and '--clock' in cmd for cmd in theirs)


@pytest.mark.ros
def test_the_readme_replay_recipe_decides_on_the_recordings_clock_and_stops_at_its_end(
        planner, executor, tmp_path, monkeypatch, capsys):
    ours = readme_replay_commands()[0]
    node = planner(**_checked_overrides(build_parser().parse_args(ours[0][1:-1])))
    assert node.get_parameter('use_sim_time').value and node.goal
    write_camera_recording(tmp_path / 'run1')
    monkeypatch.chdir(tmp_path)
    play = ours[1]
    assert main(play[1:]) == 0  # as written; it returns once the recording has played
    out = play[play.index('--record') + 1]
    assert f'published {FRAMES} messages; recorded into {out}' in capsys.readouterr().out
    recorded = read_bag(tmp_path / out)
    decisions = [(stamp, json.loads(text)) for topic, stamp, text in recorded
                 if topic == '/decision']
    assert len(decisions) >= 2, recorded  # a decision every recorded second
    # The recording is over: its clock stands just after the last frame; the planner notices.
    assert spin_until(executor, lambda: node.session.clock_stopped, 5.0), node.session.problems
    stood = float(re.search(r'stood still at ([\d.]+) s', node.session.problems['clock'])[1])
    last = START + (FRAMES - 1) * PERIOD + LATENCY
    assert last - 1e-3 <= stood < last + 0.5, stood
    for stamp, record in decisions:
        assert record['goal'] == node.goal and record['action']
        # Stamped with the recording's time on arrival: just after the frame decided on
        # (and at most the end, which the message shows to the ms).
        assert START <= stamp * 1e-9 <= stood + 1e-3, (stamp, record['stamp'])
        assert 0 <= stamp * 1e-9 - record['stamp'] < 1.0, (stamp, record['stamp'])
    actions = [stamp for topic, stamp, _ in recorded if topic == '/action']
    assert actions and all(START <= stamp * 1e-9 <= stood + 1e-3 for stamp in actions)
    decided = node.stats['decisions']
    time.sleep(1.0)  # a trigger.period of real time: nothing more is decided on the last frame
    assert node.stats['decisions'] == decided


@pytest.mark.ros
def test_the_planner_pauses_while_the_clock_stands_still_says_so_and_resumes(
        planner, harness, executor):
    node = planner(planner=scripted_planner(), use_sim_time=True, goal=GOAL,
                   max_clock_stall=0.5, diagnostics_period=0.2,
                   **{'trigger.mode': 'timer', 'trigger.period': 0.2})
    logs: list[str] = []
    rosout = harness.node.create_subscription(
        Log, '/rosout', lambda m: logs.append(m.msg) if m.name == 'vlm_planner' else None,
        rosout_qos())
    clock = harness.node.create_publisher(Clock, '/clock', CLOCK_QOS)
    assert spin_until(executor, lambda: clock.get_subscription_count() >= 1
                      and rosout.get_publisher_count() >= 2, 10)
    now = [int(START * 1e9)]

    def play(seconds: float) -> None:
        """Play on: the clock moves, and a frame stamped with it comes every 0.1 s."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            now[0] += 100 * MS
            clock.publish(Clock(clock=Time(nanoseconds=now[0]).to_msg()))
            assert spin_until(executor, lambda: node.get_clock().now().nanoseconds == now[0], 5)
            harness.frame(stamp=Time(nanoseconds=now[0]).to_msg())
            time.sleep(0.1)

    play(1.0)
    assert spin_until(executor, lambda: node.stats['decisions'] >= 2, 5), node.stats
    # Playback stops: the clock and the camera stand still, the last frame stays fresh on it.
    assert spin_until(executor, lambda: node.session.clock_stopped, 5), node.session.problems
    decided = node.stats['decisions']
    harness.diagnostics.clear()
    assert spin_until(executor, lambda: any(
        'stood still' in d.status[0].message for d in harness.diagnostics), 5), \
        'diagnostics stopped with the clock, or did not report it'
    response = harness.call(Trigger, '/vlm_planner/plan')
    assert not response.success and 'stood still' in response.message, response.message
    assert spin_until(executor, lambda: any(
        line.startswith('the clock has stood still at') for line in logs), 5), logs
    time.sleep(0.5)
    assert node.stats['decisions'] == decided and node.stats['clock_stops'] == 1
    play(1.0)  # playback resumes
    assert spin_until(executor, lambda: node.stats['decisions'] >= decided + 2, 5), node.stats
    assert not node.session.clock_stopped and node.session.problems['clock'] == ''
    assert spin_until(executor, lambda: any(
        line.startswith('the clock moves again') for line in logs), 5), logs


@pytest.mark.ros
def test_the_players_clock_stands_at_the_start_until_playback_and_at_the_end_after(
        executor, ros_context, tmp_path):
    write_test_bag(tmp_path / 'bag', 'mcap')
    player = BagPlayer(tmp_path / 'bag', rate=4.0, clock_rate=50.0, topics=['/chatter'],
                       remap={'/chatter': '/late'}, wait_for=['/late'], context=ros_context)
    executor.add_node(player)
    clocks = Probe(executor, ros_context, {'/clock': 'rosgraph_msgs/msg/Clock'})

    def clock_values() -> list[int]:
        return [Time.from_msg(deserialize_message(d, Clock).clock).nanoseconds
                for d in clocks.data('/clock')]
    assert player.recording_time_ns() == T0
    player.start(delay=0.2)
    assert spin_until(executor, lambda: len(clock_values()) >= 5, 5)
    time.sleep(0.3)
    # Nobody subscribes to /late yet: playback waits, its clock standing at the start.
    assert player.published == 0 and set(clock_values()) == {T0}
    assert player.recording_time_ns() == T0
    late = Probe(executor, ros_context, {'/late': 'std_msgs/msg/String'})
    assert spin_until(executor, lambda: player.published >= 1, 5)
    assert T0 <= player.recording_time_ns() <= T0 + 900 * MS
    assert player.done.wait(10) and player.error is None
    end = player.recording_time_ns()
    assert T0 + 800 * MS <= end < T0 + 1200 * MS  # just after the last /chatter message
    assert spin_until(executor, lambda: len(late.data('/late')) == 4
                      and clock_values()[-1] == end, 5), clock_values()[-3:]
    assert clock_values() == sorted(clock_values())  # forward only, ending where playback did
    time.sleep(0.2)
    assert player.recording_time_ns() == end and clock_values()[-1] == end


@pytest.mark.ros
def test_the_player_waits_only_for_topics_it_plays(ros_context, tmp_path):
    write_test_bag(tmp_path / 'bag', 'sqlite3')
    with pytest.raises(ConfigError, match=r'/nope: it is not played \(played: /chatter\)'):
        BagPlayer(tmp_path / 'bag', topics=['/chatter'], wait_for=['nope'], context=ros_context)
