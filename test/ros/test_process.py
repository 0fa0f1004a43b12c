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

"""Tests of the one ROS process context: spinning, signals, ordered teardown, crashes."""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from test.conftest import spin_until  # noqa: E402
from vlm_planner.errors import NodeCrashedError  # noqa: E402
from vlm_planner.ros.process import ros_process  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


class Ticker(Node):
    """Counts timer ticks; notes, when destroyed, whether its context was still up."""

    def __init__(self, name: str, journal: list[str], *, fail_after: int = 0, **kwargs) -> None:
        super().__init__(name, **kwargs)
        self.journal = journal
        self.ticks = 0
        self.fail_after = fail_after
        self.create_timer(0.01, self._tick)

    def _tick(self) -> None:
        self.ticks += 1
        if self.fail_after and self.ticks >= self.fail_after:
            raise RuntimeError('tick failed')

    def destroy_node(self) -> None:
        self.journal.append(f'{self.get_name()} destroyed, context up: {self.context.ok()}')
        super().destroy_node()


@pytest.mark.ros
@pytest.mark.filterwarnings('error::pytest.PytestUnhandledThreadExceptionWarning')
def test_nodes_spin_then_go_in_order_before_the_context():
    journal: list[str] = []
    with ros_process([]) as process:
        first = process.add(Ticker('first', journal, context=process.context))
        second = process.add(Ticker('second', journal, context=process.context))
        time.sleep(0.05)
        assert first.ticks == 0  # nothing spins before start()
        process.start()
        assert spin_until(None, lambda: first.ticks >= 5 and second.ticks >= 5, 10)
        assert process.ok() and not process.interrupted
    ticks = first.ticks
    time.sleep(0.1)
    assert first.ticks == ticks, 'callbacks ran after the block ended'
    assert journal == ['first destroyed, context up: True', 'second destroyed, context up: True']
    assert not process.context.ok() and process.error is None


@pytest.mark.ros
def test_ctrl_c_ends_the_block_quietly_and_tears_down():
    journal: list[str] = []
    with ros_process([]) as process:
        process.add(Ticker('ticker', journal, context=process.context))
        process.start()
        raise KeyboardInterrupt
    assert process.interrupted and journal == ['ticker destroyed, context up: True']
    assert not process.context.ok()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # put back


@pytest.mark.ros
def test_wait_returns_when_its_event_is_set_or_the_context_goes():
    with ros_process([], SingleThreadedExecutor) as process:
        process.start()
        done = threading.Event()
        threading.Timer(0.2, done.set).start()
        started = time.monotonic()
        assert process.wait(done) and time.monotonic() - started < 5
        threading.Timer(0.2, lambda: rclpy.shutdown(context=process.context)).start()
        assert not process.wait() and not process.ok()


@pytest.mark.ros
@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')
def test_a_crashed_callback_is_raised_after_the_teardown():
    journal: list[str] = []
    with pytest.raises(NodeCrashedError, match='RuntimeError: tick failed') as err:
        with ros_process([], SingleThreadedExecutor) as process:
            process.add(Ticker('crashing', journal, fail_after=3, context=process.context))
            process.start()
            assert not process.wait()  # returns: spinning ended
    assert isinstance(err.value.__cause__, RuntimeError)
    assert journal == ['crashing destroyed, context up: True']


@pytest.mark.ros
@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_process_cleanly(tmp_path, signum):
    script = '''
import sys
from rclpy.node import Node
from vlm_planner.ros.process import ros_process


class Marker(Node):
    def destroy_node(self):
        print('destroyed with the context up:', self.context.ok(), flush=True)
        super().destroy_node()


with ros_process([]) as process:
    process.add(Marker('marker', context=process.context))
    process.start()
    print('ready', flush=True)
    process.wait()
print('interrupted:', process.interrupted, flush=True)
'''
    child = subprocess.Popen([sys.executable, '-c', script], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert child.stdout.readline().strip() == 'ready'
        started = time.monotonic()
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert time.monotonic() - started < 5
    assert out.splitlines() == ['destroyed with the context up: True', 'interrupted: True']
    assert 'Traceback' not in err, err
