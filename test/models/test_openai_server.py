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

"""The OpenAI-compatible server backend against a fake API served over HTTP on loopback."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import math
import socket
import threading
import time

import cv2
import numpy as np
import pytest

from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.errors import ConfigError, InferenceError
from vlm_planner.models.factory import load_backend, ModelConfig
from vlm_planner.models.openai_server import OpenAIServerBackend, TOP_LOGPROBS

pytestmark = pytest.mark.timeout(30)

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
        if api.delay:
            api.released.wait(api.delay)
        self._send(*api.answer(body))

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


@pytest.fixture
def api():
    """Serve a fake OpenAI-compatible API on an ephemeral loopback port for one test."""
    fake = FakeAPI()
    server = _Server(fake)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                              daemon=True)
    thread.start()
    fake.url = f'http://127.0.0.1:{server.server_address[1]}/v1'
    yield fake
    fake.released.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_api_key(monkeypatch):
    """Start every test without API keys in the environment."""
    monkeypatch.delenv('VLM_PLANNER_API_KEY', raising=False)
    monkeypatch.delenv('OPENAI_API_KEY', raising=False)


def make_backend(api: FakeAPI, **options) -> OpenAIServerBackend:
    options = {'model': MODEL, 'timeout': 5.0, 'retries': 0, 'backoff': 0.01, **options}
    return OpenAIServerBackend(base_url=api.url, **options)


def solid(colour: tuple[int, int, int], stamp: float, shape=(48, 64)) -> Frame:
    return Frame(np.full((*shape, 3), colour, np.uint8), stamp)


def decode(url: str) -> np.ndarray:
    """Decode a JPEG data URL into an RGB array."""
    prefix = 'data:image/jpeg;base64,'
    assert url.startswith(prefix)
    data = np.frombuffer(base64.b64decode(url[len(prefix):]), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def prompt(video: tuple[Frame, ...], current: Frame) -> list[Message]:
    return [Message.text('system', 'You plan robot actions.'),
            Message('user', (TextPart('Progress so far:'), VideoPart(video),
                             TextPart('Now:'), ImagePart(current), TextPart('Next?')))]


def test_generate_sends_keyframes_as_jpeg_data_urls_in_one_request(api):
    video = (solid((255, 0, 0), 10.0), solid((0, 255, 0), 11.0), solid((0, 0, 255), 12.0))
    current = solid((255, 255, 255), 12.5, shape=(30, 40))

    replies = make_backend(api).generate(prompt(video, current), num_samples=3, temperature=0.7,
                                         max_new_tokens=64)

    assert [r.text for r in replies] == ['reply 0', 'reply 1', 'reply 2']
    assert sum(r.num_tokens for r in replies) == 15
    (body,) = api.posts()
    assert (body['model'], body['n'], body['temperature'], body['max_tokens']) == (
        MODEL, 3, 0.7, 64)
    system, user = body['messages']
    assert system == {'role': 'system', 'content': 'You plan robot actions.'}
    images = [p['image_url']['url'] for p in user['content'] if p['type'] == 'image_url']
    texts = [p['text'] for p in user['content'] if p['type'] == 'text']
    assert len(images) == 4
    assert ['t=-2.0s:', 't=-1.0s:', 't=+0.0s:'] == [t for t in texts if t.startswith('t=')]
    assert any('relative to the last keyframe' in t for t in texts)
    assert texts[0] == 'Progress so far:' and texts[-1] == 'Next?'
    first, last = decode(images[0]), decode(images[-1])
    assert first.shape == (48, 64, 3) and last.shape == (30, 40, 3)
    assert np.allclose(first.reshape(-1, 3).mean(axis=0), (255, 0, 0), atol=8)
    assert np.allclose(last.reshape(-1, 3).mean(axis=0), (255, 255, 255), atol=8)


def test_video_is_subsampled_keeping_the_last_frame_and_shrunk(api):
    video = tuple(solid((i * 40, 0, 0), float(i), shape=(100, 200)) for i in range(5))

    make_backend(api, max_frames=2, max_pixels=50 * 25).generate(
        prompt(video, video[-1]), temperature=0.5)

    content = api.posts()[0]['messages'][1]['content']
    texts = [p['text'] for p in content if p['type'] == 'text']
    assert [t for t in texts if t.startswith('t=')] == ['t=-4.0s:', 't=+0.0s:']
    image = decode(next(p['image_url']['url'] for p in content if p['type'] == 'image_url'))
    assert image.shape == (25, 50, 3)


def test_greedy_generation_asks_once_and_repeats_the_reply(api):
    replies = make_backend(api).generate([Message.text('user', 'Hi')], num_samples=3)

    assert [r.text for r in replies] == ['reply 0'] * 3
    (body,) = api.posts()
    assert (body['n'], body['temperature']) == (1, 0.0)


def test_score_letters_maps_top_logprobs_to_letters(api):
    api.top_logprobs = [(' A', -0.5), ('B', -1.5), ('(C', -2.0), ('A', -3.0), ('hello', -4.0)]

    scores = make_backend(api).score_letters([Message.text('user', 'Pick')], ['A', 'B', 'C'])

    raw = np.array([np.logaddexp(-0.5, -3.0), -1.5, -2.0])
    np.testing.assert_allclose(scores, raw - np.logaddexp.reduce(raw))
    assert math.isclose(np.exp(scores).sum(), 1.0)
    (body,) = api.posts()
    assert (body['max_tokens'], body['temperature'], body['logprobs'], body['top_logprobs']) == (
        1, 0.0, True, TOP_LOGPROBS)


def test_letters_missing_from_the_top_list_get_the_floor(api):
    api.top_logprobs = [('B', -0.1), ('The', -2.0), ('A', -3.0)]

    scores = make_backend(api).score_letters([Message.text('user', 'Pick')], 'ABCD')

    floor = -3.0 - math.log(TOP_LOGPROBS)
    raw = np.array([-3.0, -0.1, floor, floor])
    np.testing.assert_allclose(scores, raw - np.logaddexp.reduce(raw))
    assert int(np.argmax(scores)) == 1


def test_score_letters_without_logprobs_says_what_to_do(api):
    api.omit_logprobs = True

    with pytest.raises(InferenceError, match='logprobs.*vLLM.*(cot|consistency)'):
        make_backend(api).score_letters([Message.text('user', 'Pick')], 'AB')


def test_retries_after_503_then_succeeds(api, caplog):
    api.failures_503 = 2

    with caplog.at_level(logging.WARNING, logger='vlm_planner.models.openai_server'):
        replies = make_backend(api, retries=2).generate([Message.text('user', 'Hi')])

    assert replies[0].text == 'reply 0'
    assert len(api.posts()) == 3
    assert caplog.text.count('HTTP 503') == 2


def test_gives_up_after_the_last_retry(api):
    api.failures_503 = 10

    with pytest.raises(InferenceError, match='HTTP 503: server overloaded.*after 2 attempts'):
        make_backend(api, retries=1).generate([Message.text('user', 'Hi')])
    assert len(api.posts()) == 2


def test_no_retry_on_400_and_the_server_message_is_surfaced(api):
    api.error_400 = 'This model has a maximum context length of 4096 tokens'

    with pytest.raises(InferenceError, match='HTTP 400: This model has a maximum context'):
        make_backend(api, retries=3).generate([Message.text('user', 'Hi')])
    assert len(api.posts()) == 1


def test_timeout_is_an_inference_error_quickly(api):
    api.delay = 60.0  # released when the test ends
    start = time.monotonic()

    with pytest.raises(InferenceError, match=r'did not answer within 0\.5 s.*model\.url'):
        make_backend(api, timeout=0.5, retries=2).generate([Message.text('user', 'Hi')])
    assert time.monotonic() - start < 10.0  # gave up long before the server would answer
    assert len(api.posts()) == 1


def test_server_down_names_the_url():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    url = f'http://127.0.0.1:{port}/v1'
    backend = OpenAIServerBackend(base_url=url, model=MODEL, retries=1, backoff=0.0, timeout=1.0)

    with pytest.raises(InferenceError, match=f'{url}/chat/completions.*Start the model server'):
        backend.generate([Message.text('user', 'Hi')])


def test_rejected_n_falls_back_to_sequential_requests_and_warns_once(api, caplog):
    api.reject_n = True
    backend = make_backend(api)

    with caplog.at_level(logging.WARNING, logger='vlm_planner.models.openai_server'):
        replies = backend.generate([Message.text('user', 'Hi')], num_samples=3, temperature=1.0)
        again = backend.generate([Message.text('user', 'Hi')], num_samples=2, temperature=1.0)

    assert len(replies) == 3 and len(again) == 2
    assert [body['n'] for body in api.posts()] == [3, 1, 1, 1, 1, 1]
    assert caplog.text.count('one request at a time') == 1
    assert 'only n=1 is supported' in caplog.text


def test_server_that_ignores_n_is_asked_again(api):
    api.ignore_n = True

    replies = make_backend(api).generate([Message.text('user', 'Hi')], num_samples=3,
                                         temperature=1.0)

    assert len(replies) == 3
    assert [body['n'] for body in api.posts()] == [3, 1, 1]


def test_model_is_discovered_through_models(api):
    api.models = ['served-qwen', 'other']
    backend = make_backend(api, model='')

    backend.generate([Message.text('user', 'Hi')])

    assert backend.name == 'served-qwen'
    assert [(method, path) for method, path, _, _ in api.requests] == [
        ('GET', '/v1/models'), ('POST', '/v1/chat/completions')]
    assert api.posts()[0]['model'] == 'served-qwen'


def test_server_without_models_is_a_clear_error(api):
    api.models = []

    with pytest.raises(InferenceError, match='lists no models.*model.api_model'):
        make_backend(api, model='').generate([Message.text('user', 'Hi')])


def test_malformed_json_is_an_inference_error(api):
    api.malformed = True

    with pytest.raises(InferenceError, match='malformed JSON'):
        make_backend(api).generate([Message.text('user', 'Hi')])


def test_wrong_api_root_hints_at_model_url(api):
    backend = OpenAIServerBackend(base_url=api.url[:-len('/v1')], model=MODEL)

    with pytest.raises(InferenceError, match='HTTP 404.*model.url'):
        backend.generate([Message.text('user', 'Hi')])


def test_api_key_comes_from_the_environment(api, monkeypatch):
    make_backend(api).generate([Message.text('user', 'Hi')])
    monkeypatch.setenv('OPENAI_API_KEY', 'secret')
    make_backend(api).generate([Message.text('user', 'Hi')])

    with api.lock:
        headers = [h for _, _, h, _ in api.requests]
    assert 'Authorization' not in headers[0]
    assert headers[1]['Authorization'] == 'Bearer secret'


def test_concurrent_calls_from_several_threads(api):
    backend = make_backend(api, model='')
    results: list[np.ndarray] = []

    def ask() -> None:
        results.append(backend.score_letters([Message.text('user', 'Pick')], 'AB'))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(results) == 6
    assert sum(1 for method, _, _, _ in api.requests if method == 'GET') == 1


def test_factory_builds_the_openai_backend(api):
    backend = load_backend(ModelConfig(backend='openai', url=api.url, api_model=MODEL,
                                       timeout=3.0, retries=1, max_frames=4))

    assert isinstance(backend, OpenAIServerBackend)
    assert (backend.name, backend.untrained, backend.timeout, backend.retries) == (
        MODEL, False, 3.0, 1)
    assert backend.max_frames == 4
    assert backend.generate([Message.text('user', 'Hi')])[0].text == 'reply 0'


def test_factory_needs_a_url():
    with pytest.raises(ConfigError, match='model.url.*http://localhost:8000/v1'):
        load_backend(ModelConfig(backend='openai'))


@pytest.mark.parametrize('options, field', [({'timeout': 0.0}, 'timeout'),
                                            ({'retries': -1}, 'retries')])
def test_invalid_server_settings_are_config_errors(options, field):
    with pytest.raises(ConfigError, match=field):
        ModelConfig(backend='openai', url='http://localhost:8000/v1', **options)


@pytest.mark.parametrize('url', ['localhost:8000/v1', 'ftp://host/v1', ''])
def test_invalid_url_is_a_config_error(url):
    with pytest.raises(ConfigError, match='model.url'):
        OpenAIServerBackend(base_url=url)
