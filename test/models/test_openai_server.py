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
import logging
import math
import socket
import threading
import time

import cv2
import numpy as np
import pytest

from test.models.fake_openai_api import FakeAPI, MODEL, serve_fake_api
from vlm_planner.core.chat import ImagePart, Message, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.errors import ConfigError, InferenceError
from vlm_planner.models.base import check_scoring
from vlm_planner.models.factory import load_backend, ModelConfig
from vlm_planner.models.openai_server import OpenAIServerBackend, TOP_LOGPROBS

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def api():
    """Serve a fake OpenAI-compatible API on an ephemeral loopback port for one test."""
    with serve_fake_api() as fake:
        yield fake


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


def test_likelihood_scoring_is_refused_up_front_and_nothing_is_sent(api):
    backend = make_backend(api)

    assert backend.supports_likelihood is False
    check_scoring(backend, 'letter')
    with pytest.raises(ConfigError, match=f"strategy.scoring 'likelihood' needs .* backend "
                                          f'{MODEL} .OpenAIServerBackend. cannot'):
        check_scoring(backend, 'likelihood')
    with pytest.raises(ConfigError, match='strategy.scoring:=letter'):
        backend.score_continuations([Message.text('user', 'Next?')], ['pick up the red block'])
    assert api.requests == []


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
