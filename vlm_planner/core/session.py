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

"""The decision session: everything between camera frames and a decided action, without ROS.

A :class:`DecisionSession` holds the task goal, the keyframe buffer, the decision trigger, the
safety state (e-stop, pause, rate limit, dry run), the preconditions of a decision (a goal, a
fresh frame) and the statistics, all driven by ONE clock that its owner passes in: the live node
passes its ROS clock (which follows ``/clock`` under ``use_sim_time``), the offline replay of a
recording passes a :class:`ReplayClock` set to the recording's time. The planner node only turns
messages into session calls and session results into messages; the evaluator and the training
data replay recordings through the same session, so what is measured offline is what runs live.

Safety rules kept here, whatever the trigger or the caller:

* no action while the arm reports ``estopped`` or the ``estop`` input is true; after a release
  the session stays paused until :meth:`DecisionSession.resume` is called;
* frames stamped more than ``future_tolerance`` ahead of the clock are dropped, and a clock that
  jumps back behind the buffered frames (a replay restarted, a clock reset) restarts the task;
* a decision is refused when the newest frame is too old or stamped in the future;
* a clock that stands still (under ``use_sim_time``: a replay ended or paused, a simulator
  stopped) pauses deciding until it moves again, when the owner also gives a steady clock to
  measure the standstill by (see :meth:`DecisionSession.clock_notes`);
* at most ``max_decision_rate`` decisions a second, by any path;
* in ``dry_run`` decisions are made and reported but never acted on.

Feedback from the arm: an action it reports ``failed`` (after the owner said it
:meth:`~DecisionSession.sent` it) is left out of the candidates of the next decisions until an
action succeeds, the goal changes or the task restarts (``avoid_failed_actions``). A failed
action usually changed nothing, so the same choice in the same scene would fail again and a
planner that sees only the current frame would make it again and again.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Callable, Iterable

import numpy as np

from vlm_planner.core.frames import Frame
from vlm_planner.core.keyframes import KeyframeBuffer, KeyframeConfig
from vlm_planner.core.planner import Decision, Planner
from vlm_planner.core.trigger import DecisionTrigger, TriggerConfig
from vlm_planner.params import check_fields, option

#: Characters of a rejected goal quoted back in messages and logs.
GOAL_QUOTE_CHARS = 80


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """Goal, freshness and safety settings of a decision session (top-level parameters)."""

    goal: str = option('', 'Task goal in words. Empty: wait for one on the goal topic. A goal '
                       'message overrides it.', dynamic=True)
    max_goal_chars: int = option(1000, 'Longest goal accepted, in characters; a longer one is '
                                 'rejected with a warning and the current goal stays.',
                                 minimum=1)
    max_frame_age: float = option(2.0, 'Skip a decision when the newest frame is older than '
                                  'this (seconds).', above=0.0)
    future_tolerance: float = option(
        0.5, 'Frames stamped more than this many seconds ahead of the node clock are dropped; '
        'a clock that jumps back by more restarts the task (seconds).', minimum=0.0)
    max_clock_stall: float = option(
        2.0, 'Pause deciding while the node clock stands still for longer than this many '
        'seconds of real time (use_sim_time: a replay ended or paused, the simulator stopped, '
        'nothing publishes /clock); deciding resumes when it moves. 0: never pause.',
        minimum=0.0)
    max_decision_rate: float = option(0.0, 'Most decisions per second by any path (trigger or '
                                      '~/plan). 0: no limit.', minimum=0.0, dynamic=True)
    dry_run: bool = option(False, 'Decide and publish decision records, but never publish on '
                           'action.', dynamic=True)
    avoid_failed_actions: bool = option(
        True, 'Leave an action the arm reported failed out of the candidates until an action '
        'succeeds, the goal changes or the task restarts (a failed action usually changed '
        'nothing, so the same choice would fail again). false: the model may choose it again, '
        'for arms whose failures are worth retrying.', dynamic=True)

    def __post_init__(self) -> None:
        check_fields(self)


class ReplayClock:
    """A clock for offline replay: it reads whatever time it was last moved to."""

    def __init__(self, start: float = 0.0) -> None:
        self.time = start

    def __call__(self) -> float:
        """The time the clock was last moved to, in seconds."""
        return self.time

    def advance_to(self, time: float) -> None:
        """Move the clock to ``time`` (replay goes forward; a loop may move it back)."""
        self.time = time


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one decision attempt produced."""

    decision: Decision | None  # None when no decision was made (see ``problem``)
    problem: str = ''  # why no decision was made, or why it was not acted on
    act: bool = False  # whether the action may be published

    @property
    def decided(self) -> bool:
        """Whether the model was asked and answered."""
        return self.decision is not None


class DecisionSession:
    """One task's decision state, fed by frames, goal and arm status (see module docstring).

    Thread-safe: inputs may arrive from several callback threads while a decision runs.
    """

    def __init__(self, planner: Planner | None, *, clock: Callable[[], float],
                 config: SessionConfig | None = None,
                 keyframes: KeyframeConfig | None = None,
                 trigger: TriggerConfig | None = None,
                 steady_clock: Callable[[], float] | None = None) -> None:
        """Create a session; ``planner`` may be None where only frames are replayed.

        ``steady_clock`` (seconds, e.g. ``time.monotonic``) measures how long ``clock`` has
        stood still (``max_clock_stall``); None: the session never pauses for a still clock
        (offline replay moves its clock only from frame to frame).
        """
        self.planner = planner
        self.clock = clock
        self.steady_clock = steady_clock
        self.config = config or SessionConfig()
        self.buffer = KeyframeBuffer(keyframes)
        self.trigger = DecisionTrigger.from_config(trigger or TriggerConfig())
        self._goal = ''
        self._lock = threading.Lock()  # session state; never held while the model runs
        self._deciding = threading.Lock()  # one decision at a time
        # Held while an action is published, so an e-stop cannot slip in between check and send.
        self.action_gate = threading.Lock()
        self._arm_estopped = False
        self._estop_input = False
        self._paused = False
        self._closed = False
        self._last_attempt: float | None = None
        self._clock_seen: tuple[float, float] | None = None  # (clock reading, steady time)
        self._clock_stopped = False
        self._clock_notes: list[str] = []
        self.last_decision: Decision | None = None
        # The action last sent to the arm, while its outcome is unknown, and the arm's status
        # then; the actions it reported failed since the last success (see avoid_failed_actions).
        self._sent: tuple[str, str] | None = None
        self._arm_moved = False
        self._failed_actions: list[str] = []
        self.stats = dict.fromkeys(
            ('frames_received', 'frames_rejected', 'frames_from_future', 'frames_out_of_order',
             'clock_jumps', 'decisions', 'actions_published', 'failed_decisions',
             'held_low_confidence', 'needs_help', 'refused_estop', 'rate_limited',
             'goals_rejected', 'clock_stops', 'actions_failed'), 0)
        #: Latest unresolved problem per area, reported until it clears.
        self.problems = {'camera': '', 'goal': '', 'decision': '', 'safety': '', 'clock': ''}
        if self.config.goal:
            self.set_goal(self.config.goal)

    # --- inputs -------------------------------------------------------------------------------

    @property
    def goal(self) -> str:
        """The current task goal; empty until one is given."""
        return self._goal

    def set_goal(self, text: str) -> str:
        """Take a goal; one other than the current goal starts a new task. Return a problem or ''.

        The first goal keeps the frames seen so far: the task began when the camera did.
        """
        goal = text.strip()
        if len(goal) > self.config.max_goal_chars:
            self.stats['goals_rejected'] += 1
            problem = (f'goal of {len(goal)} characters rejected (max_goal_chars '
                       f'{self.config.max_goal_chars}): "{goal[:GOAL_QUOTE_CHARS]}..."; '
                       f'the goal stays "{self._goal[:GOAL_QUOTE_CHARS]}"')
            self.problems['goal'] = problem
            return problem
        self.problems['goal'] = ''
        if goal and goal != self._goal:
            with self._lock:
                previous, self._goal = self._goal, goal
            if previous:  # a different task: its keyframes start at the current frame
                self.buffer.reset(keep_latest=True)
                self._forget_outcomes()
        return ''

    def add_frame(self, image: np.ndarray, stamp: float | None = None) -> str:
        """Offer a camera frame taken at ``stamp`` (None: now). Return a problem or ''."""
        now = self.clock()
        stamp = now if stamp is None else stamp
        tolerance = self.config.future_tolerance
        self.stats['frames_received'] += 1
        if stamp > now + tolerance:
            self.stats['frames_from_future'] += 1
            return self._camera_problem(
                f'dropped a frame stamped {stamp - now:.2f} s ahead of the clock '
                f'(future_tolerance {tolerance} s): are the camera and this node on the same '
                'clock (use_sim_time, time sync)?')
        latest = self.buffer.latest
        if latest is not None and stamp < latest.stamp:
            if latest.stamp > now + tolerance and latest.stamp - stamp > tolerance:
                # The clock and the frames went back together: a replay restarted, a clock reset.
                self.stats['clock_jumps'] += 1
                self.buffer.reset()
                self.trigger.reset()
                self._forget_outcomes()
                self.problems['camera'] = (f'clock jumped back {latest.stamp - stamp:.2f} s: '
                                           'keyframes of the task so far dropped')
            else:
                self.stats['frames_out_of_order'] += 1
                return ''  # an older frame delivered late: the newer one already stands
        self.buffer.add(Frame(image, stamp))
        if not self.problems['camera'].startswith('clock jumped'):
            self.problems['camera'] = ''
        return ''

    def reject_frame(self, problem: str) -> str:
        """Count a frame that could not be decoded; return the problem as reported."""
        self.stats['frames_received'] += 1
        self.stats['frames_rejected'] += 1
        return self._camera_problem(f'dropped a camera frame: {problem}')

    def _camera_problem(self, problem: str) -> str:
        self.problems['camera'] = problem
        return problem

    def on_status(self, status: str) -> None:
        """Take a manipulator status (idle, executing, succeeded, failed, estopped)."""
        status = status.strip()
        with self.action_gate:
            self._arm_estopped = status == 'estopped'
            if self._arm_estopped:
                self._pause('the manipulator reports estopped')
        self._note_outcome(status)
        self.trigger.on_status(status, self.clock())

    def sent(self, action: str) -> None:
        """Note that ``action`` goes out to the arm (call it just before publishing it).

        Before, so that the arm's answer cannot arrive ahead of the note.
        """
        with self._lock:
            self.stats['actions_published'] += 1
            self._sent = (action, self.trigger.status)
            self._arm_moved = False

    def _note_outcome(self, status: str) -> None:
        """Attribute a ``failed`` or ``succeeded`` status to the action last sent, if it is its.

        As for the trigger, a status is the action's outcome once the arm was seen executing
        since the action went out, or the status changed from the one it had then (a heartbeat
        of the previous outcome is not this action's).
        """
        with self._lock:
            if self._sent is None:
                return
            action, status_then = self._sent
            if status == 'executing':
                self._arm_moved = True
                return
            theirs = self._arm_moved or status != status_then
            if status not in ('failed', 'succeeded') or not theirs:
                return
            self._sent = None
            if status == 'succeeded':
                self._failed_actions.clear()
            elif action not in self._failed_actions:
                self.stats['actions_failed'] += 1
                self._failed_actions.append(action)

    def _forget_outcomes(self) -> None:
        with self._lock:
            self._sent = None
            self._failed_actions.clear()

    @property
    def failed_actions(self) -> tuple[str, ...]:
        """Actions the arm reported failed since the last success, in the order they failed."""
        with self._lock:
            return tuple(self._failed_actions)

    def candidates(self) -> list[str] | None:
        """The labels the next decision chooses from; None: the planner's whole library.

        With ``avoid_failed_actions``, the library without :attr:`failed_actions` (the whole
        library again if nothing would be left).
        """
        failed = self.failed_actions
        if not (failed and self.config.avoid_failed_actions and self.planner is not None):
            return None
        left = [label for label in self.planner.actions.labels if label not in failed]
        return left or None

    def set_estop(self, active: bool) -> None:
        """Take the ``estop`` input (True: stop)."""
        with self.action_gate:
            self._estop_input = active
            if active:
                self._pause('estop is active')

    def _pause(self, why: str) -> None:
        if not self._paused:
            self._paused = True
        self.problems['safety'] = f'{why}: no action is published; after the release call ' \
                                  '~/resume to plan again'

    @property
    def closed(self) -> bool:
        """Whether the owner is shutting down (see :meth:`close`)."""
        return self._closed

    @property
    def estopped(self) -> bool:
        """Whether an e-stop (from the arm or the estop input) is active now."""
        return self._arm_estopped or self._estop_input

    @property
    def paused(self) -> bool:
        """Whether planning waits for :meth:`resume` (after an e-stop)."""
        return self._paused

    @property
    def clock_stopped(self) -> bool:
        """Whether the clock stood still past ``max_clock_stall`` when last looked at."""
        return self._clock_stopped

    def watch_clock(self) -> bool:
        """Look at the clock now; return whether it stands still (deciding pauses meanwhile).

        The clock counts as moving whenever its reading changed since the last look (forward or
        back: a jump back is the frames' business, see :meth:`add_frame`), and as stopped once
        the same reading has lasted more than ``max_clock_stall`` seconds on the steady clock.
        Each change between the two is counted, kept in ``problems['clock']`` while it lasts,
        and queued for :meth:`clock_notes`.
        """
        limit = self.config.max_clock_stall
        if self.steady_clock is None or not limit:
            with self._lock:
                self._clock_seen = None
                self._set_clock_stopped(False, 0.0)
            return False
        now, steady = self.clock(), self.steady_clock()
        with self._lock:
            if self._clock_seen is None or now != self._clock_seen[0]:
                self._clock_seen = (now, steady)
                self._set_clock_stopped(False, now)
            elif steady - self._clock_seen[1] > limit:
                self._set_clock_stopped(True, now)
            return self._clock_stopped

    def _set_clock_stopped(self, stopped: bool, now: float) -> None:
        if stopped == self._clock_stopped:
            return
        self._clock_stopped = stopped
        limit = self.config.max_clock_stall
        if not stopped:
            self.problems['clock'] = ''
            self._clock_notes.append(f'the clock moves again ({now:.3f} s): deciding resumes')
            return
        self.stats['clock_stops'] += 1
        if now == 0:
            why = ('the clock reads 0 and stands still: with use_sim_time nothing publishes '
                   '/clock yet (play the recording with --clock)')
        else:
            why = (f'the clock has stood still at {now:.3f} s for over {limit:g} s '
                   '(max_clock_stall): the replay ended or is paused, or the simulator stopped')
        self.problems['clock'] = f'{why}; no decision on the last frame until it moves again'
        self._clock_notes.append(self.problems['clock'])

    def clock_notes(self) -> list[str]:
        """Take the clock's stops and restarts since the last call, as lines to log."""
        with self._lock:
            notes, self._clock_notes = self._clock_notes, []
        return notes

    def resume(self) -> str:
        """Allow planning again after an e-stop was released. Return a problem or ''."""
        with self.action_gate:
            if self.estopped:
                return ('still e-stopped (' + ('the manipulator reports estopped'
                                               if self._arm_estopped else 'estop is true')
                        + '): release it first')
            self._paused = False
            self.problems['safety'] = ''
        self.trigger.reset()
        self.trigger.on_status(self.trigger.status or 'idle', self.clock())
        return ''

    def reset(self) -> None:
        """Forget the task so far (keyframes, pending and failed actions); the goal stays."""
        self.buffer.reset()
        self.trigger.reset()
        self._forget_outcomes()

    def close(self) -> None:
        """Refuse every further decision and action (the owner is shutting down)."""
        with self.action_gate:
            self._closed = True

    # --- decisions ----------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether the trigger wants a decision now (never while paused or the clock stands)."""
        stopped = self.watch_clock()  # looked at even while paused, so its notes come in time
        return not (self._paused or self._closed or stopped) and self.trigger.due(self.clock())

    def blocked(self) -> str:
        """Why no decision may be made now ('' when one may)."""
        if self._closed:
            return 'shutting down'
        if self.estopped or self._paused:
            return self.problems['safety'] or 'paused: call ~/resume to plan again'
        if self.watch_clock():
            return self.problems['clock']
        if not self._goal:
            return ('no goal yet: publish one on the goal topic (std_msgs/String) or set the '
                    'goal parameter')
        latest = self.buffer.latest
        if latest is None:
            return 'no camera frame yet'
        age = self.clock() - latest.stamp
        if age < -self.config.future_tolerance:
            return (f'newest camera frame is stamped {-age:.2f} s in the future: the clock '
                    'went back or the camera clock is ahead')
        if age > self.config.max_frame_age:
            return (f'newest camera frame is {age:.1f} s old (max_frame_age '
                    f'{self.config.max_frame_age} s): is the camera still publishing?')
        rate = self.config.max_decision_rate
        if rate and self._last_attempt is not None:
            wait = self._last_attempt + 1.0 / rate - self.clock()
            if wait > 0:
                self.stats['rate_limited'] += 1
                return f'max_decision_rate {rate}/s: next decision in {wait:.2f} s'
        return ''

    def decide(self, wait: float = -1) -> Outcome:
        """Make one decision now if allowed; ``wait`` bounds queueing behind a running one.

        Raises:
            Exception: whatever the model raised; the session's state stays consistent.
        """
        if self.planner is None:
            raise RuntimeError('this session has no planner; it only replays frames')
        if not self._deciding.acquire(timeout=wait):
            return Outcome(None, f'another decision is still running after {wait:.0f} s; try '
                                 'again')
        try:
            problem = self.blocked()
            now = self.clock()
            if problem:
                if self.estopped or self._paused:
                    self.stats['refused_estop'] += 1
                self.trigger.on_decision(now, published=False)
                self.problems['decision'] = problem
                return Outcome(None, problem)
            self._last_attempt = now
            try:
                decision = self.planner.decide(self._goal, self.buffer.snapshot(),
                                               self.candidates())
            except Exception:
                self.stats['failed_decisions'] += 1
                self.trigger.on_decision(self.clock(), published=False)
                raise
            return self._judge(decision)
        finally:
            self._deciding.release()

    def _judge(self, decision: Decision) -> Outcome:
        """Count ``decision`` and say whether its action may go out."""
        self.stats['decisions'] += 1
        self.last_decision = decision
        if decision.needs_help or not decision.action:
            self.stats['needs_help'] += 1
            problem = ('needs help: ' + (decision.needs_help_reason
                                         or 'the model named no candidate action'))
        elif not decision.accepted:
            self.stats['held_low_confidence'] += 1
            problem = (f'confidence {decision.confidence:.2f} is below min_confidence; no action '
                       f'published (best: {decision.action})')
        elif self.config.dry_run:
            problem = f'dry run: {decision.action} not published'
        elif self.estopped or self._paused or self._closed:
            problem = self.blocked()
        else:
            problem = ''
        act = not problem
        # Only a missing answer is a standing problem; a held or dry-run decision is by design.
        self.problems['decision'] = problem if not decision.action else ''
        self.trigger.on_decision(self.clock(), published=act)
        return Outcome(decision, problem, act)

    def may_act(self) -> bool:
        """Whether an action may be published now (call while holding ``action_gate``)."""
        return not (self.estopped or self._paused or self._closed or self.config.dry_run)

    # --- offline use --------------------------------------------------------------------------

    def snapshot(self) -> list[Frame]:
        """What the model would be shown now: keyframes ending with the newest frame."""
        return self.buffer.snapshot()


def replayed_keyframes(frames: Iterable[Frame], keyframes: KeyframeConfig | None = None,
                       config: SessionConfig | None = None) -> list[Frame]:
    """Feed recorded ``frames`` through a fresh session in order and return its snapshot.

    The offline tools use this so that the model sees what the live node would have kept.
    """
    clock = ReplayClock()
    session = DecisionSession(None, clock=clock, config=config, keyframes=keyframes)
    for frame in frames:
        clock.advance_to(frame.stamp)
        session.add_frame(frame.image, frame.stamp)
    return session.snapshot()
