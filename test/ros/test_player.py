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

"""Tests of bag playback and decision recording over real DDS.

The bags are written here with ``rosbags``; the probe subscribes in serialized form, so "identical
content" means the very CDR bytes that were recorded. Timing is checked loosely (order and
approximate spacing), since callbacks run late on a busy two-core machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.qos import DurabilityPolicy, ReliabilityPolicy  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402
from rclpy.time import Time  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,  # noqa: E402
                                QosReliability, QosTime)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import get_typestore, Stores  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from test.conftest import spin_until  # noqa: E402
from vlm_planner.errors import (BagError, BagFormatError, BagNotFoundError,  # noqa: E402
                                ConfigError, MessageTypeError)
from vlm_planner.ros.message_types import message_class  # noqa: E402
from vlm_planner.ros.player import BagPlayer, parse_remaps  # noqa: E402
from vlm_planner.ros.qos import COMMAND_QOS, SENSOR_QOS  # noqa: E402
from vlm_planner.ros.recorder import DecisionRecorder, parse_record_topics  # noqa: E402

TIMEOUT = 10.0
STORE = get_typestore(Stores.ROS2_JAZZY)
T0 = 1_700_000_000_000_000_000  # recording start, ns
MS = 1_000_000
#: (topic, offset in ms) of every recorded message, in recording order.
SCHEDULE = [('/chatter', 0), ('/goal', 100), ('/image', 200), ('/chatter', 300), ('/image', 400),
            ('/chatter', 500), ('/image', 600), ('/chatter', 800)]
LATCHED = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL,
              QosTime(0, 0), QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)
TYPES = {'/chatter': 'std_msgs/msg/String', '/goal': 'std_msgs/msg/String',
         '/image': 'sensor_msgs/msg/Image'}


def _message(topic: str, index: int):
    if topic == '/image':
        Image = STORE.types['sensor_msgs/msg/Image']
        Header = STORE.types['std_msgs/msg/Header']
        Time = STORE.types['builtin_interfaces/msg/Time']
        import numpy as np
        data = np.full(4 * 3 * 3, index, dtype=np.uint8)
        return Image(header=Header(stamp=Time(sec=index, nanosec=0), frame_id='camera'),
                     height=3, width=4, encoding='rgb8', is_bigendian=0, step=12, data=data)
    return STORE.types['std_msgs/msg/String'](data=f'{topic} #{index}')


def write_test_bag(path, storage: str, *, custom_type: bool = False) -> list[tuple]:
    """Write SCHEDULE into a bag; return its (topic, stamp, cdr bytes) in order."""
    recorded = []
    with Writer(path, version=9, storage_plugin=StoragePlugin[storage.upper()]) as writer:
        connections = {topic: writer.add_connection(
            topic, msgtype, typestore=STORE,
            offered_qos_profiles=[LATCHED] if topic == '/goal' else [])
            for topic, msgtype in TYPES.items()}
        for index, (topic, offset) in enumerate(SCHEDULE):
            data = bytes(STORE.serialize_cdr(_message(topic, index), TYPES[topic]))
            stamp = T0 + offset * MS
            writer.write(connections[topic], stamp, data)
            recorded.append((topic, stamp, data))
        if custom_type:
            custom = writer.add_connection('/custom', 'foo_msgs/msg/Bar', msgdef='int32 x\n',
                                           rihs01='RIHS01_' + '0' * 64)
            writer.write(custom, T0 + 500 * MS, b'\x00\x01\x00\x00\x05\x00\x00\x00')
    return recorded


class Probe:
    """Subscribes raw to topics and keeps (arrival time, bytes) per topic."""

    def __init__(self, executor, context, topics):
        self.executor = executor
        self.node = rclpy.create_node(f'probe_{uuid.uuid4().hex[:8]}', context=context)
        executor.add_node(self.node)
        self.received: dict[str, list[tuple[float, bytes]]] = {t: [] for t in topics}
        self.subscriptions = [
            self.node.create_subscription(
                message_class(msgtype), topic,
                lambda data, topic=topic: self.received[topic].append((time.monotonic(), data)),
                SENSOR_QOS if msgtype.endswith(('Image', 'Clock')) else COMMAND_QOS, raw=True)
            for topic, msgtype in topics.items()]

    def count(self) -> int:
        return sum(len(v) for v in self.received.values())

    def data(self, topic: str) -> list[bytes]:
        return [d for _, d in self.received[topic]]


def start_player(executor, context, bag, probe, **options) -> BagPlayer:
    """A player whose publishers and the probe's subscriptions have matched, then started."""
    player = BagPlayer(bag, context=context, **options)
    executor.add_node(player)
    assert spin_until(executor, lambda: all(
        p.get_subscription_count() >= 1 for p in player.topic_publishers.values()) and all(
        s.get_publisher_count() >= 1 for s in probe.subscriptions
        if s.topic_name in {p.topic_name for p in player.topic_publishers.values()}),
        TIMEOUT), 'the probe did not match the player'
    player.started_at = time.monotonic()
    player.start()
    return player


@pytest.mark.ros
@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_plays_every_message_in_order_with_scaled_timing(executor, ros_context, tmp_path,
                                                         storage):
    recorded = write_test_bag(tmp_path / 'bag', storage)
    probe = Probe(executor, ros_context, TYPES)
    rate = 2.0
    player = start_player(executor, ros_context, tmp_path / 'bag', probe, rate=rate)
    assert player.done.wait(TIMEOUT) and player.error is None
    assert spin_until(executor, lambda: probe.count() == len(SCHEDULE), TIMEOUT), probe.received
    assert player.published == player.total == len(SCHEDULE)
    for topic in TYPES:
        assert probe.data(topic) == [d for t, _, d in recorded if t == topic], topic
    arrivals = sorted((when, topic) for topic, got in probe.received.items() for when, _ in got)
    for (when, topic), (want_topic, stamp, _) in zip(arrivals, recorded):
        # Never early (a message can only arrive after its scheduled send), and not far late: a
        # busy machine delays callbacks, so the upper bound is loose; the lower one is exact.
        expected = (stamp - T0) * 1e-9 / rate
        assert expected <= when - player.started_at < expected + 1.0, (topic, expected)
    assert [topic for _, topic in arrivals] == [topic for topic, _, _ in recorded]


@pytest.mark.ros
def test_topic_filter_remap_and_clock(executor, ros_context, tmp_path):
    recorded = write_test_bag(tmp_path / 'bag', 'mcap')
    probe = Probe(executor, ros_context, {**TYPES, '/renamed': 'std_msgs/msg/String',
                                          '/clock': 'rosgraph_msgs/msg/Clock'})
    player = start_player(executor, ros_context, tmp_path / 'bag', probe, rate=4.0,
                          topics=['chatter'], remap=parse_remaps(['chatter:=/renamed']),
                          clock_rate=100.0)
    assert [t.topic for t in player.played] == ['/chatter']
    assert player.done.wait(TIMEOUT) and player.error is None
    want = [d for t, _, d in recorded if t == '/chatter']
    assert spin_until(executor, lambda: len(probe.received['/renamed']) == len(want), TIMEOUT)
    time.sleep(0.2)
    assert probe.data('/renamed') == want
    clock = [Time.from_msg(deserialize_message(d, Clock).clock).nanoseconds
             for d in probe.data('/clock')]
    assert len(clock) >= 3 and clock == sorted(clock)  # the recording's time, moving forward
    assert T0 <= clock[0] and clock[-1] <= T0 + 900 * MS
    assert probe.count() == len(want) + len(clock)  # nothing on /chatter, /image or /goal


@pytest.mark.ros
def test_start_offset_and_loop(executor, ros_context, tmp_path):
    recorded = write_test_bag(tmp_path / 'bag', 'sqlite3')
    probe = Probe(executor, ros_context, {'/chatter': 'std_msgs/msg/String'})
    player = start_player(executor, ros_context, tmp_path / 'bag', probe, rate=4.0, loop=True,
                          topics=['/chatter'], start_offset=0.35)
    tail = [d for t, s, d in recorded if t == '/chatter' and s >= T0 + 350 * MS]
    assert len(tail) == 2
    assert spin_until(executor, lambda: len(probe.received['/chatter']) >= 6, TIMEOUT)
    player.stop()
    assert player.done.is_set() and player.error is None
    assert probe.data('/chatter')[:6] == tail * 3


@pytest.mark.ros
def test_qos_follows_the_recording(ros_context, tmp_path):
    write_test_bag(tmp_path / 'bag', 'sqlite3')
    player = BagPlayer(tmp_path / 'bag', context=ros_context)
    try:
        qos = {topic: p.qos_profile for topic, p in player.topic_publishers.items()}
        assert qos['/goal'].durability == DurabilityPolicy.TRANSIENT_LOCAL
        assert qos['/image'].reliability == ReliabilityPolicy.BEST_EFFORT
        assert qos['/chatter'].reliability == ReliabilityPolicy.RELIABLE
        assert qos['/chatter'].durability == DurabilityPolicy.VOLATILE
    finally:
        player.destroy_node()


@pytest.mark.ros
def test_stop_ends_a_slow_playback_promptly(ros_context, tmp_path):
    write_test_bag(tmp_path / 'bag', 'mcap')
    player = BagPlayer(tmp_path / 'bag', rate=0.01, context=ros_context)
    try:
        player.start()
        assert spin_until(None, lambda: player.published == 1, TIMEOUT)
        started = time.monotonic()
        player.stop()  # the next message is due 10 s after the first
        assert player.done.is_set() and time.monotonic() - started < 3.0
        assert player.published == 1 and player.error is None
    finally:
        player.destroy_node()


@pytest.mark.ros
def test_missing_and_corrupt_bags_are_clear_errors(ros_context, tmp_path):
    with pytest.raises(BagNotFoundError, match='does not exist'):
        BagPlayer(tmp_path / 'nope', context=ros_context)
    with pytest.raises(BagFormatError, match='no metadata.yaml'):
        BagPlayer(tmp_path, context=ros_context)
    for storage, name in (('sqlite3', 'bad.db3'), ('mcap', 'bad.mcap')):
        write_test_bag(tmp_path / 'bad', storage)
        (tmp_path / 'bad' / name).write_bytes(b'garbage' * 100)
        with pytest.raises(BagFormatError, match='corrupt'):
            BagPlayer(tmp_path / 'bad', context=ros_context)
        for path in (tmp_path / 'bad').iterdir():
            path.unlink()
        (tmp_path / 'bad').rmdir()


@pytest.mark.ros
def test_bad_options_are_clear_errors(ros_context, tmp_path):
    write_test_bag(tmp_path / 'bag', 'sqlite3', custom_type=True)
    with pytest.raises(BagError, match=r'/nope not in .*it has /chatter, /custom, /goal'):
        BagPlayer(tmp_path / 'bag', topics=['nope'], context=ros_context)
    with pytest.raises(MessageTypeError, match=r"foo_msgs/msg/Bar \(topic /custom\).*'foo_msgs'"):
        BagPlayer(tmp_path / 'bag', topics=['/custom'], context=ros_context)
    with pytest.raises(ConfigError, match='past the end'):
        BagPlayer(tmp_path / 'bag', start_offset=5.0, context=ros_context)
    with pytest.raises(ConfigError, match='rate'):
        BagPlayer(tmp_path / 'bag', rate=0, context=ros_context)
    with pytest.raises(ConfigError, match='FROM:=TO'):
        parse_remaps(['chatter=/x'])
    player = BagPlayer(tmp_path / 'bag', context=ros_context)  # the unknown type is skipped
    try:
        assert [t.topic for t in player.played] == ['/chatter', '/goal', '/image']
    finally:
        player.destroy_node()


@pytest.mark.ros
@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_recorder_writes_a_readable_bag(executor, ros_context, tmp_path, storage):
    namespace = f'/rec_{uuid.uuid4().hex[:8]}'
    recorder = DecisionRecorder(tmp_path / 'decisions', storage=storage, context=ros_context,
                                namespace=namespace)
    executor.add_node(recorder)
    probe = rclpy.create_node('planner_probe', context=ros_context, namespace=namespace)
    executor.add_node(probe)
    decisions = probe.create_publisher(String, 'decision', COMMAND_QOS)
    actions = probe.create_publisher(String, 'action', COMMAND_QOS)
    assert spin_until(executor, lambda: decisions.get_subscription_count() >= 1
                      and actions.get_subscription_count() >= 1, TIMEOUT)
    sent = []
    before = time.time_ns()
    for i in range(5):
        decisions.publish(String(data=f'{{"step": {i}}}'))
        sent.append((f'{namespace}/decision', f'{{"step": {i}}}'))
        if i % 2:
            actions.publish(String(data=f'action {i}'))
            sent.append((f'{namespace}/action', f'action {i}'))
    assert spin_until(executor, lambda: recorder.count == len(sent), TIMEOUT), recorder.count
    recorder.close()
    with Reader(tmp_path / 'decisions') as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == {
            f'{namespace}/decision': 'std_msgs/msg/String',
            f'{namespace}/action': 'std_msgs/msg/String'}
        got = [(c.topic, STORE.deserialize_cdr(data, c.msgtype).data, stamp)
               for c, stamp, data in reader.messages()]
    assert len(got) == len(sent) and sorted(t[:2] for t in got) == sorted(sent)
    decided = [d for t, d in sent if t.endswith('decision')]
    assert [d for t, d, _ in got if t.endswith('decision')] == decided  # in order
    assert all(before <= stamp <= time.time_ns() for _, _, stamp in got)


@pytest.mark.ros
def test_recorder_options(ros_context, tmp_path):
    assert parse_record_topics([]) == {'decision': 'std_msgs/msg/String',
                                       'action': 'std_msgs/msg/String'}
    assert parse_record_topics(['decision', 'debug_image:sensor_msgs/msg/Image']) == {
        'decision': 'std_msgs/msg/String', 'debug_image': 'sensor_msgs/msg/Image'}
    (tmp_path / 'taken').mkdir()
    with pytest.raises(BagError, match='exists already'):
        DecisionRecorder(tmp_path / 'taken', context=ros_context)
    with pytest.raises(ConfigError, match='storage'):
        DecisionRecorder(tmp_path / 'new', storage='bag', context=ros_context)
    with pytest.raises(MessageTypeError, match='foo_msgs'):
        DecisionRecorder(tmp_path / 'new', topics={'x': 'foo_msgs/msg/Bar'},
                         context=ros_context)
    assert not (tmp_path / 'new').exists()


@pytest.mark.ros
def test_play_command_plays_and_records(tmp_path, capsys):
    from vlm_planner.cli import main
    recorded = write_test_bag(tmp_path / 'bag', 'mcap')
    out = tmp_path / 'out'
    # The recorder in the same process records what the player publishes.
    assert main(['play', str(tmp_path / 'bag'), '--rate', '4', '--delay', '1', '--record',
                 str(out), '--record-topics', 'chatter', 'goal', '--storage', 'sqlite3',
                 '--linger', '0.5']) == 0
    assert f'published {len(SCHEDULE)} messages; recorded into {out}' in capsys.readouterr().out
    with Reader(out) as reader:
        got = [(c.topic, bytes(data)) for c, _, data in reader.messages()]
    assert got == [(t, d) for t, _, d in recorded if t in ('/chatter', '/goal')]
    assert main(['play', str(tmp_path / 'missing'), '--record', str(tmp_path / 'out2')]) == 2
    assert 'does not exist' in capsys.readouterr().err
    assert not (tmp_path / 'out2').exists()


def test_message_types_load_by_name_and_the_recorder_needs_no_player():
    assert message_class('std_msgs/msg/String') is String
    assert message_class('std_msgs/String') is String
    with pytest.raises(MessageTypeError, match="'std_msgs' is not a ROS 2 message type name"):
        message_class('std_msgs')
    code = ('import sys, vlm_planner.ros.recorder; '
            'print("vlm_planner.ros.player" in sys.modules)')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == 'False', result.stderr
