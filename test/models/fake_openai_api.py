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

"""A fake OpenAI-compatible model server on an ephemeral loopback port, for tests.

:func:`serve_fake_api` runs it in a background thread; the :class:`FakeAPI` it yields scripts the
answers and records every request, so a test can check what the client really sent.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from typing import Iterator

MODEL = 'fake-vlm'


class FakeAPI:
    """Scripted state of the fake server, and the requests it received."""

    def __init__(self) -> None:
        self.url = ''
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.requests: list[tuple[str, str, dict, dict | None]] = []
        self.models = [MODEL]
        self.failures_503 = 0
        self.error_400 = ''
        self.delay = 0.0
        self.in_flight = self.most_in_flight = 0  # chat requests being answered, and the peak
        self.reject_n = False
        self.ignore_n = False
        self.omit_logprobs = False
        self.malformed = False
        self.top_logprobs = [(' A', -0.5), ('B', -1.5)]

    def posts(self) -> list[dict]:
        """Return the bodies of the chat-completion requests received so far."""
        with self.lock:
            return [body for method, _, _, body in self.requests if method == 'POST']

    def answer(self, body: dict) -> tuple[int, bytes]:
        """Return the status and body answering a chat completion ``body``."""
        with self.lock:
            if self.failures_503:
                self.failures_503 -= 1
                return 503, _json({'error': {'message': 'server overloaded'}})
        if self.error_400:
            return 400, _json({'object': 'error', 'message': self.error_400})
        if self.reject_n and body.get('n', 1) > 1:
            return 400, _json({'error': {'message': 'only n=1 is supported'}})
        if self.malformed:
            return 200, b'{"choices": [oops'
        count = 1 if self.ignore_n else body.get('n', 1)
        choices = [self._choice(body, i) for i in range(count)]
        return 200, _json({'id': 'x', 'object': 'chat.completion', 'model': body['model'],
                           'choices': choices, 'usage': {'completion_tokens': 5 * count}})

    def _choice(self, body: dict, index: int) -> dict:
        choice = {'index': index, 'finish_reason': 'stop',
                  'message': {'role': 'assistant', 'content': f' reply {index} '}}
        if body.get('logprobs') and not self.omit_logprobs:
            top = [{'token': t, 'logprob': lp, 'bytes': None} for t, lp in self.top_logprobs]
            first = {'token': top[0]['token'], 'logprob': top[0]['logprob'], 'top_logprobs': top}
            choice['logprobs'] = {'content': [first]}
        return choice


def _json(payload: dict) -> bytes:
    return json.dumps(payload).encode('utf-8')


class _Handler(http.server.BaseHTTPRequestHandler):
    server: '_Server'

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        api = self.server.api
        self._record('GET', None)
        if self.path == '/v1/models':
            self._send(200, _json({'object': 'list',
                                   'data': [{'id': m, 'object': 'model'} for m in api.models]}))
        else:
            self._send(404, _json({'error': {'message': f'no route {self.path}'}}))

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        api = self.server.api
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        self._record('POST', body)
        if self.path != '/v1/chat/completions':
            self._send(404, _json({'error': {'message': f'no route {self.path}'}}))
            return
        with api.lock:
            api.in_flight += 1
            api.most_in_flight = max(api.most_in_flight, api.in_flight)
        try:
            if api.delay:
                api.released.wait(api.delay)
            answer = api.answer(body)
        finally:
            with api.lock:  # before the reply: the client may send its next request at once
                api.in_flight -= 1
        self._send(*answer)

    def _record(self, method: str, body: dict | None) -> None:
        with self.server.api.lock:
            self.server.api.requests.append((method, self.path, dict(self.headers), body))

    def _send(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args) -> None:
        """Keep test output quiet."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: FakeAPI) -> None:
        super().__init__(('127.0.0.1', 0), _Handler)
        self.api = api

    def handle_error(self, request, client_address) -> None:
        """Ignore clients that hang up early."""


@contextlib.contextmanager
def serve_fake_api() -> Iterator[FakeAPI]:
    """Serve a fake OpenAI-compatible API on an ephemeral loopback port while in the block."""
    fake = FakeAPI()
    server = _Server(fake)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                              daemon=True)
    thread.start()
    fake.url = f'http://127.0.0.1:{server.server_address[1]}/v1'
    try:
        yield fake
    finally:
        fake.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
