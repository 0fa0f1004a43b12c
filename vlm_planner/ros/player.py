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

"""Replay a rosbag2 recording onto its topics with the original timing (``vlm-planner play``).

The pip-only counterpart of ``ros2 bag play``: :class:`BagPlayer` reads a rosbag2 folder (sqlite3
or mcap) with ``rosbags`` and republishes every message's serialized CDR bytes, unchanged, on its
recorded topic, so nodes running anywhere on the ROS graph see the recording as if it were live.
:func:`play_bag` runs the player, and optionally a
:class:`~vlm_planner.ros.recorder.DecisionRecorder` that records the planner's answers, in one
process.

With ``clock_rate`` the player also publishes the recording's time on ``/clock``, so that nodes
started with ``use_sim_time:=true`` judge the recorded header stamps by the recording's clock (the
planner's ``max_frame_age`` check would otherwise find every replayed frame stale). The clock is
published from the moment the player starts, standing at the recording's start until the first
message (so that the first frame is not ahead of its subscribers' clocks), and stops with the
playback: a planner then sees the clock stand still and stops deciding (``max_clock_stall``).
:meth:`BagPlayer.recording_time_ns` is that same time, read directly: the decisions recorded by
:func:`play_bag` are stamped with it, so that the recorded bag is on the played bag's time axis.

Topics whose message type has no Python package installed here are skipped with a warning (as
``ros2 bag play`` does), unless they were asked for by name with ``topics``: then playing cannot do
what was asked and :class:`~vlm_planner.errors.MessageTypeError` says which package is missing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import threading
import time
from typing import Iterable, Mapping

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time

from vlm_planner.data.bag_io import IMAGE_TYPES, open_bag
from vlm_planner.errors import BagError, ConfigError, MessageTypeError
from vlm_planner.ros.message_types import message_class
from vlm_planner.ros.process import ros_process
from vlm_planner.ros.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from vlm_planner.ros.recorder import DecisionRecorder, parse_record_topics

#: ``/clock`` as ``ros2 bag play --clock`` publishes it (rclpy's time source subscribes so).
CLOCK_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                       reliability=ReliabilityPolicy.BEST_EFFORT)
#: How often waiting for subscribers looks again, without /clock to tick.
WAIT_POLL_S = 0.1
#: How long the end of playback waits for reliable subscribers to acknowledge the last messages.
ACK_TIMEOUT_S = 1.0


def absolute_name(topic: str) -> str:
    """A recorded topic name as the bag stores it: ``image`` and ``/image`` are the same."""
    return topic if topic.startswith('/') else f'/{topic}'


def parse_remaps(specs: Iterable[str]) -> dict[str, str]:
    """Recorded topic -> published topic from ``FROM:=TO`` strings (``ros2 bag play --remap``).

    Raises:
        ConfigError: A string is not ``FROM:=TO``.
    """
    remap = {}
    for spec in specs:
        source, sep, target = spec.partition(':=')
        if not (sep and source and target):
            raise ConfigError(f'cannot remap {spec!r}: expected FROM:=TO, e.g. '
                              '/camera/image_raw:=/image.')
        remap[absolute_name(source)] = target
    return remap


def playback_qos(msgtype: str, latched: bool) -> QoSProfile:
    """Return the QoS to republish a recorded topic with.

    Images go out with the sensor-data profile (best effort, what the planner subscribes with);
    topics recorded from a transient-local publisher are latched again; everything else is
    reliable, which reaches reliable and best-effort subscribers alike.
    """
    if msgtype in IMAGE_TYPES:
        return SENSOR_QOS
    return LATCHED_QOS if latched else COMMAND_QOS


@dataclasses.dataclass(frozen=True)
class PlayedTopic:
    """A recorded topic chosen for playback."""

    topic: str  # name in the bag
    msgtype: str
    out: str  # name it is published on (after remapping)
    count: int  # messages in the bag
    latched: bool  # recorded from a transient-local publisher


def _latched(connection) -> bool:
    from rosbags.interfaces import QosDurability
    profiles = getattr(connection.ext, 'offered_qos_profiles', None) or []
    return any(p.durability == QosDurability.TRANSIENT_LOCAL for p in profiles)


def choose_topics(recorded: Mapping, bag: Path, wanted: set[str], remap: Mapping[str, str],
                  skipped: list[str]) -> list[PlayedTopic]:
    """Pick the recorded topics to play.

    Args:
        recorded: ``rosbags`` topic name -> ``TopicInfo`` of the bag.
        bag: The bag's path, named in messages.
        wanted: Topics asked for by name (empty: every topic that can be played).
        remap: Recorded name -> name to publish on.
        skipped: Receives one line per topic left out and why.

    Returns:
        The topics to play, in name order.

    Raises:
        BagError: A wanted topic is not in the bag, or nothing is left to play.
        MessageTypeError: A wanted topic's message type cannot be loaded here.
    """
    if missing := sorted(wanted - set(recorded)):
        raise BagError(f'{", ".join(missing)} not in {bag}; it has '
                       f'{", ".join(sorted(recorded)) or "no topics"}.')
    chosen = []
    for topic, info in sorted(recorded.items()):
        if wanted and topic not in wanted:
            continue
        if info.msgtype is None:
            reason = (f'{topic} in {bag} was recorded with several message types; a topic can '
                      'only be played with one.')
            if wanted:
                raise BagError(reason)
            skipped.append(f'skipping {reason}')
            continue
        try:
            message_class(info.msgtype, topic)
        except MessageTypeError as exc:
            if wanted:
                raise
            skipped.append(f'skipping {topic}: {exc}')
            continue
        chosen.append(PlayedTopic(topic, info.msgtype, remap.get(topic, topic), info.msgcount,
                                  any(map(_latched, info.connections))))
    if not sum(t.count for t in chosen):
        raise BagError(f'nothing to play in {bag}: no messages on a topic whose type is '
                       'installed here.')
    return chosen


class BagPlayer(Node):
    """Republishes a rosbag2 recording's messages on their topics with the recorded timing.

    Playback runs on a background thread against a monotonic clock once :meth:`start` is called;
    :attr:`done` is set when it has finished (or stopped, or failed: see :attr:`error`).
    """

    def __init__(self, bag: str | Path, *, rate: float = 1.0, loop: bool = False,
                 topics: Iterable[str] = (), remap: Mapping[str, str] | None = None,
                 start_offset: float = 0.0, clock_rate: float = 0.0, progress: bool = False,
                 wait_for: Iterable[str] = (), **kwargs) -> None:
        """Open the bag, choose its topics and create their publishers.

        Args:
            bag: rosbag2 folder (or a single ``.db3`` / ``.mcap`` file).
            rate: Playback speed factor; 2.0 plays twice as fast.
            loop: Start over at the end until stopped.
            topics: Play only these recorded topics (default: all).
            remap: Recorded topic name -> name to publish on.
            start_offset: Seconds into the recording to start at.
            clock_rate: Publish the recording's time on ``/clock`` this often (Hz) while
                playing; 0: do not.
            progress: Show a progress bar (messages published / total) on stderr.
            wait_for: Topics, as published (after remapping), that must have a subscriber
                before playback starts, e.g. the camera topic of a planner still loading its
                model.
            **kwargs: Passed to :class:`rclpy.node.Node` (``context``, ``namespace``...).

        Raises:
            BagNotFoundError: ``bag`` does not exist.
            BagFormatError: ``bag`` is not a readable rosbag2 recording.
            BagError: A requested topic is not in the bag, or nothing is left to play.
            MessageTypeError: A requested topic's message type cannot be loaded.
            ConfigError: ``rate``, ``start_offset`` or ``clock_rate`` is out of range, or a
                ``wait_for`` topic is not played.
        """
        if not rate > 0:
            raise ConfigError(f'rate must be positive, got {rate}')
        if not clock_rate >= 0:
            raise ConfigError(f'clock rate must be 0 (off) or positive, got {clock_rate}')
        if not start_offset >= 0:
            raise ConfigError(f'start offset must be 0 or more seconds, got {start_offset}')
        wanted = {absolute_name(t) for t in topics}
        remap = {absolute_name(k): v for k, v in (remap or {}).items()}
        self.bag = Path(bag)
        skipped: list[str] = []
        with open_bag(self.bag) as reader:
            duration = max(reader.end_time - reader.start_time, 0) * 1e-9
            if reader.message_count and start_offset >= duration:
                raise ConfigError(f'start offset {start_offset} s is past the end of {self.bag} '
                                  f'({duration:.3f} s long).')
            #: Bag time (ns) that playback starts at.
            self.start_ns = reader.start_time + round(start_offset * 1e9)
            #: The topics played, in name order.
            self.played = choose_topics(reader.topics, self.bag, wanted, remap, skipped)
        super().__init__('bag_player', **kwargs)  # only now: nothing above leaves a node behind
        for reason in skipped:
            self.get_logger().warning(reason)
        self.rate = float(rate)
        self.loop = loop
        self.progress = progress
        #: Messages published so far (all passes).
        self.published = 0
        #: Messages of one pass; None with a start offset (the metadata counts whole topics).
        self.total: int | None = None if start_offset else sum(t.count for t in self.played)
        #: Why playback ended early, if it failed.
        self.error: BagError | None = None
        #: Set when playback has finished, stopped or failed.
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._delay = 0.0
        # The recording's time: _position_ns while no pass runs, else _pass_started-relative.
        self._time_lock = threading.Lock()
        self._position_ns = self.start_ns
        self._pass_started: float | None = None
        # /clock goes out from the playback thread between messages: a fast timer on a
        # multi-threaded executor was seen to busy-spin and stall the whole process.
        self._clock_period = 1.0 / clock_rate if clock_rate else 0.0
        if clock_rate:
            from rosgraph_msgs.msg import Clock
            self._clock_publisher = self.create_publisher(Clock, '/clock', CLOCK_QOS)
        #: Recorded topic name -> its publisher.
        self.topic_publishers = {
            t.topic: self.create_publisher(message_class(t.msgtype, t.topic), t.out,
                                           playback_qos(t.msgtype, t.latched))
            for t in self.played}
        published = {p.topic_name: p for p in self.topic_publishers.values()}
        #: Publishers that need a subscriber before playback starts.
        self.wait_for: list[Publisher] = []
        for name in wait_for:
            full = self.resolve_topic_name(name)
            if full not in published:
                self.destroy_node()
                raise ConfigError(f'cannot wait for a subscriber on {full}: it is not played '
                                  f'(played: {", ".join(sorted(published))}).')
            self.wait_for.append(published[full])
        self.get_logger().info(
            f'playing {self.bag} at {self.rate:g}x: ' + ', '.join(
                t.topic + (f' -> {t.out}' if t.out != t.topic else '') + f' ({t.count})'
                for t in self.played))

    def start(self, delay: float = 0.0) -> None:
        """Start playback on a background thread (once), after ``delay`` seconds.

        During the delay ``/clock`` (when published) already stands at the recording's start.
        """
        if self._thread is None:
            self._delay = max(delay, 0.0)
            self._thread = threading.Thread(target=self._run, name='bag_player', daemon=True)
            self._thread.start()

    def recording_time_ns(self) -> int:
        """The recording's time at this moment of playback (what ``/clock`` says), in ns.

        It stands at the start until playback begins, runs at ``rate`` while a pass plays,
        starts over with each pass of a loop, and stands where playback finished (just after
        the last message) or was stopped. It never goes back within a pass.
        """
        with self._time_lock:
            if self._pass_started is None:
                return self._position_ns
            return self._pass_time_ns(self._pass_started, time.monotonic())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop playback and wait up to ``timeout`` s for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def destroy_node(self) -> None:
        """Stop playback, then destroy the node."""
        self.stop()
        super().destroy_node()

    def _run(self) -> None:
        bar = None
        try:
            if self.progress:
                from tqdm import tqdm
                bar = tqdm(total=self.total, unit='msg', desc=self.bag.name, dynamic_ncols=True)
            if not self._hold(self._delay):
                return
            with open_bag(self.bag) as reader:  # its own: storage handles stay in one thread
                connections = [c for c in reader.connections if c.topic in self.topic_publishers]
                while self._play_once(reader, connections, bar) and self.loop:
                    if bar is not None:
                        bar.reset()
            self._wait_for_acks()
        except Exception as exc:  # reported to the caller through self.error
            if isinstance(exc, BagError):
                self.error = exc
            elif self.context.ok() and not self._stop.is_set():  # not a publish cut off by exit
                self.error = BagError(f'playing {self.bag} failed: {exc}')
        finally:
            if bar is not None:
                bar.close()
            self.done.set()

    def _hold(self, seconds: float) -> bool:
        """Wait for the ``wait_for`` subscribers, then ``seconds``; False if stopped meanwhile.

        ``/clock``, when published, stands at the recording's start all the while.
        """
        missing = [p.topic_name for p in self.wait_for if not p.get_subscription_count()]
        if missing:
            self.get_logger().info(f'waiting for a subscriber on {", ".join(missing)}')
        deadline = None
        while True:
            now = time.monotonic()
            if deadline is None and all(p.get_subscription_count() for p in self.wait_for):
                deadline = now + seconds
            if deadline is not None and now >= deadline:
                return True
            if self._clock_period:
                self._publish_clock_ns(self.recording_time_ns())
            step = self._clock_period or WAIT_POLL_S
            if self._stop.wait(step if deadline is None else min(step, deadline - now)):
                return False

    def _play_once(self, reader, connections, bar) -> bool:
        """Publish one pass; return whether it reached the end (not stopped)."""
        started = next_tick = time.monotonic()
        with self._time_lock:
            self._pass_started = started
        if self._clock_period:  # the pass's start before its first message (a loop went back)
            self._publish_clock_ns(self.start_ns)
            next_tick = started + self._clock_period
        try:
            for connection, stamp, data in reader.messages(connections, start=self.start_ns):
                due = started + (stamp - self.start_ns) * 1e-9 / self.rate
                while (now := time.monotonic()) < due:  # sleep until due, ticking /clock
                    if self._clock_period and now >= next_tick:
                        self._publish_clock_ns(self._pass_time_ns(started, now))
                        next_tick = max(next_tick + self._clock_period, now)
                    wake = min(due, next_tick) if self._clock_period else due
                    if self._stop.wait(wake - now):
                        return False
                if self._stop.is_set() or not self.context.ok():
                    return False
                self.topic_publishers[connection.topic].publish(
                    data if isinstance(data, bytes) else bytes(data))
                self.published += 1
                if bar is not None:
                    bar.update()
            return True
        finally:
            self._stand_still(started)

    def _pass_time_ns(self, started: float, now: float) -> int:
        """The recording's time at ``now`` (monotonic) of a pass begun at ``started``."""
        return self.start_ns + round((now - started) * self.rate * 1e9)

    def _stand_still(self, started: float) -> None:
        """Stop the recording's time where the pass ended (just after its last message).

        With ``/clock`` the final time goes out once more, so subscribers' clocks end on it.
        """
        with self._time_lock:
            self._position_ns = self._pass_time_ns(started, time.monotonic())
            self._pass_started = None
        if self._clock_period and self.context.ok():
            self._publish_clock_ns(self._position_ns)

    def _publish_clock_ns(self, stamp: int) -> None:
        """Publish ``stamp`` (the recording's time, ns) on ``/clock``."""
        from rosgraph_msgs.msg import Clock
        self._clock_publisher.publish(Clock(clock=Time(nanoseconds=stamp).to_msg()))

    def _wait_for_acks(self) -> None:
        for publisher in self.topic_publishers.values():
            if (self.context.ok() and not self._stop.is_set()
                    and publisher.qos_profile.reliability == ReliabilityPolicy.RELIABLE):
                publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))


def play_bag(bag: str | Path, *, rate: float = 1.0, loop: bool = False,
             topics: Iterable[str] = (), remap: Mapping[str, str] | None = None,
             start_offset: float = 0.0, clock_rate: float = 0.0, delay: float = 1.0,
             wait_for: Iterable[str] = (), record: str | Path | None = None,
             record_topics: Iterable[str] = (),
             storage: str = 'sqlite3', linger: float = 2.0, log_level: str = 'info',
             progress: bool = True) -> int:
    """Play a bag in this process, optionally recording decisions meanwhile.

    Ctrl-C, or SIGTERM when called from the main thread, stops playback and closes the recording.

    Args:
        bag: rosbag2 folder to play.
        rate: Playback speed factor.
        loop: Start over at the end until Ctrl-C.
        topics: Play only these recorded topics.
        remap: Recorded topic name -> name to publish on.
        start_offset: Seconds into the recording to start at.
        clock_rate: Publish the recording's time on ``/clock`` this often (Hz); 0: do not.
        delay: Seconds to wait before the first message, so that subscribers in other processes
            are discovered and matched (with ``clock_rate``, ``/clock`` stands at the
            recording's start meanwhile).
        wait_for: Before the delay, wait until these topics (as published) have a subscriber.
        record: Bag folder to record ``record_topics`` into (default: no recording), each
            message stamped with the recording's time when it arrived
            (:meth:`BagPlayer.recording_time_ns`), not with today's.
        record_topics: Topics to record, ``NAME`` or ``NAME:TYPE`` (default: decision, action).
        storage: Storage of the recorded bag, ``sqlite3`` or ``mcap``.
        linger: With ``record``, seconds to keep recording after the last message was played,
            so the decisions on the last frames are kept.
        log_level: ROS log level of the nodes.
        progress: Show a progress bar.

    Returns:
        The number of messages published.

    Raises:
        VlmPlannerError: The bag cannot be played or the recording cannot be written.
    """
    player = None
    with ros_process(['--ros-args', '--log-level', log_level]) as process:
        # The player first: a bag that cannot be played must not leave an empty recording.
        player = process.add(BagPlayer(bag, rate=rate, loop=loop, topics=topics, remap=remap,
                                       start_offset=start_offset, clock_rate=clock_rate,
                                       progress=progress, wait_for=wait_for,
                                       context=process.context))
        recorder = None
        if record is not None:
            recorder = process.add(DecisionRecorder(
                record, topics=parse_record_topics(record_topics), storage=storage,
                clock=player.recording_time_ns, context=process.context))
        process.start()
        player.start(delay)
        if process.wait(player.done):
            if player.error is not None:
                raise player.error
            if recorder is not None:
                process.sleep(linger)
        if recorder is not None:
            recorder.close()  # here, so that a failure to finish the bag is raised
    return player.published if player is not None else 0
