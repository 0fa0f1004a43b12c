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

"""Ask a locally hosted model server that speaks the OpenAI chat-completions API.

vLLM (``vllm serve MODEL``), SGLang, the llama.cpp server and Ollama all serve
``POST {base_url}/chat/completions`` and ``GET {base_url}/models``. Only the standard library is
used for HTTP: one request per call, no connection pool, so the backend is safe to call from
several threads at once.

The prompt's video goes out as its keyframes, evenly subsampled to ``max_frames`` keeping the
last, each a JPEG data URL after a short text giving its time relative to the last keyframe; the
current image is one more JPEG. Every image is first shrunk to ``max_pixels``.

Letter scoring needs the server to return log-probabilities of the first reply token
(``logprobs`` with ``top_logprobs``): vLLM and SGLang do. Without them, only replies that name
an option can be used (the ``cot`` and ``consistency`` strategies). Likelihood scoring of whole
answers is not offered: the chat API returns no log-probabilities of the prompt.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import logging
import math
import os
import threading
import time
from typing import Any, Sequence
import urllib.error
import urllib.parse
import urllib.request

import cv2
import numpy as np

from vlm_planner.core.chat import Generation, ImagePart, Message, TextPart, VideoPart
from vlm_planner.core.frames import Frame
from vlm_planner.errors import ConfigError, InferenceError
from vlm_planner.models.base import check_generation_args, VLMBackend
from vlm_planner.models.framing import fit_pixels, subsample_indices

logger = logging.getLogger(__name__)

#: Environment variables read, in order, when no API key is given.
API_KEY_VARIABLES = ('VLM_PLANNER_API_KEY', 'OPENAI_API_KEY')

#: Alternatives asked for when scoring letters (the most the OpenAI API allows).
TOP_LOGPROBS = 20

#: Longest wait between two attempts, whatever the backoff or a ``Retry-After`` header asks.
MAX_RETRY_DELAY_S = 10.0

# Characters stripped from a top-logprob token before it is compared with the letters: spaces,
# parentheses, and the space markers of SentencePiece and byte-level BPE vocabularies.
_TOKEN_DECORATION = ' \t\n()\u2581\u0120'

# Rough characters per token, for replies whose server reports no token usage.
_CHARS_PER_TOKEN = 4

_SERVER_HINT = ('Start the model server (for example `vllm serve MODEL`) or fix model.url; it '
                'must be the API root, such as http://localhost:8000/v1.')


class OpenAIServerBackend(VLMBackend):
    """A video VLM behind an OpenAI-compatible HTTP server; safe to call from several threads.

    Attributes:
        name: the served model name; the server URL until an unnamed model is discovered.
        base_url: API root without a trailing slash, such as ``http://localhost:8000/v1``.
        timeout: seconds allowed to connect, and then for each read of the reply.
        retries: extra attempts after a connection error, a 5xx or a 429 answer.
        backoff: delay before the first retry in seconds; it doubles on each further retry.
        max_frames: most keyframes sent per video.
        max_pixels: pixel budget per keyframe or image.
        jpeg_quality: JPEG quality of the images sent (1 to 100).

    The server sends no model card, so :attr:`card` is the default one (trained, nothing
    recommended), and prompt log-probabilities are not asked for: :attr:`supports_likelihood` is
    False, ``strategy.scoring`` ``'likelihood'`` is refused (:func:`.base.check_scoring`).
    """

    def __init__(self, *, base_url: str, model: str = '', api_key: str = '',
                 timeout: float = 60.0, retries: int = 2, max_frames: int = 8,
                 max_pixels: int = 448 * 448, jpeg_quality: int = 90,
                 backoff: float = 0.5, max_in_flight: int = 8) -> None:
        """Configure the client; nothing is sent until the first question.

        Args:
            base_url: API root of the server, such as ``http://localhost:8000/v1``.
            model: served model name; empty to use the first one ``GET /models`` lists, asked
                for on the first question.
            api_key: bearer token; empty to read ``VLM_PLANNER_API_KEY`` or ``OPENAI_API_KEY``,
                and to send none when both are unset (local servers rarely need one).
            timeout: seconds allowed to connect, and then for each read of the reply. A timeout
                is not retried: the server is busy or the prompt heavy, and a retry would only
                repeat the wait.
            retries: extra attempts after a connection error, a 5xx or a 429 answer, with
                exponential backoff. Other 4xx answers are never retried.
            max_frames: most keyframes sent per video; longer clips are evenly subsampled
                keeping the last frame.
            max_pixels: pixel budget per keyframe or image; larger ones are shrunk to fit.
            jpeg_quality: JPEG quality of the images sent, 1 to 100.
            backoff: delay before the first retry in seconds; it doubles on each further one.
            max_in_flight: most requests sent at once when several items are asked together
                (the evaluator's batches); the server batches them itself.

        Raises:
            ConfigError: an argument is invalid.
        """
        self.base_url = _check_url(base_url)
        _check_limits(timeout, retries, max_frames, max_pixels, jpeg_quality, backoff)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_frames = max_frames
        self.max_pixels = max_pixels
        self.jpeg_quality = jpeg_quality
        if max_in_flight < 1:
            raise ConfigError(f'model.max_in_flight must be at least 1, got {max_in_flight}.')
        self.max_in_flight = max_in_flight
        self._model = model
        self.name = model or self.base_url
        self._api_key = api_key or _api_key_from_environment()
        self._opener = _opener_for(self.base_url)
        self._lock = threading.Lock()
        self._single_choice_only = False

    def score_letters(self, messages: Sequence[Message], letters: Sequence[str]) -> np.ndarray:
        """Return log-probabilities of ``letters`` as the reply's first token.

        One request for one greedy token with its :data:`TOP_LOGPROBS` most likely alternatives.
        Tokens are matched to letters after stripping spaces and parentheses, so ``' A'`` and
        ``'(A'`` both count for ``A`` (their probabilities add up). A letter missing from the list
        is less likely than every token listed; it gets the lowest listed log-probability minus
        ``log(TOP_LOGPROBS)``, that is, it is taken to be 20 times less likely than the least
        likely token listed. The result is renormalised over the letters, so its exponentials
        sum to 1.

        Raises:
            InferenceError: the letters are empty or repeated, the server is unreachable or
                fails, or it returns no log-probabilities.
        """
        if not letters or len(set(letters)) != len(letters):
            raise InferenceError(f'answer letters must be distinct and not empty, got '
                                 f'{list(letters)}.')
        body = {'messages': self._chat(messages), 'max_tokens': 1, 'temperature': 0.0, 'n': 1,
                'logprobs': True, 'top_logprobs': TOP_LOGPROBS}
        reply = self._complete(body)
        top = _first_token_top_logprobs(reply)
        if not top:
            raise InferenceError(
                f'the model server at {self.base_url} returned no logprobs. Letter scoring needs '
                f'a server that supports logprobs with top_logprobs (vLLM and SGLang do); '
                f'otherwise use the cot or consistency strategy, which score only when no reply '
                f'names an option.')
        return _letter_log_probs(top, letters)

    def generate(self, messages: Sequence[Message], *, num_samples: int = 1,
                 temperature: float = 0.0, max_new_tokens: int = 128) -> list[Generation]:
        """Generate ``num_samples`` replies, with one request where the server allows.

        Greedy when ``temperature`` is 0: one reply is generated and repeated ``num_samples``
        times. Otherwise the request asks for ``n = num_samples`` choices; a server that rejects
        ``n > 1`` or returns fewer choices is asked again one reply at a time (logged once).

        Raises:
            ValueError: an argument is out of range.
            InferenceError: the server is unreachable, rejects the request or fails.
        """
        check_generation_args(num_samples, temperature, max_new_tokens)
        body = {'messages': self._chat(messages), 'temperature': float(temperature),
                'max_tokens': max_new_tokens}
        if self.sampling_seed is not None:
            body['seed'] = self.sampling_seed  # vLLM and SGLang seed the request's sampling
        if temperature == 0:
            return self._sample(body, 1)[:1] * num_samples
        replies = self._sample(body, num_samples)
        while len(replies) < num_samples:
            self._note_single_choice_only('returned fewer choices than asked')
            replies += self._sample(body, 1)
        return replies[:num_samples]

    def _sample(self, body: dict, count: int) -> list[Generation]:
        """Ask for ``count`` choices, falling back to one when the server rejects ``n > 1``."""
        if count > 1 and not self._single_choice_only:
            try:
                return _generations(self._complete({**body, 'n': count}))
            except _ClientError as error:
                first = _generations(self._complete({**body, 'n': 1}))
                self._note_single_choice_only(f'rejected n={count} ({error.server_message})')
                return first
        return _generations(self._complete({**body, 'n': 1}))

    def _note_single_choice_only(self, reason: str) -> None:
        with self._lock:
            if self._single_choice_only:
                return
            self._single_choice_only = True
        logger.warning('The model server at %s %s; asking for samples one request at a time '
                       'from now on.', self.base_url, reason)

    def _complete(self, body: dict) -> dict:
        """POST a chat completion for the served model and return the parsed reply."""
        reply = self._request('/chat/completions', {'model': self._served_model(), **body})
        if not isinstance(reply.get('choices'), list) or not reply['choices']:
            raise InferenceError(
                f'the model server at {self.base_url} answered without choices: '
                f'{_clip(json.dumps(reply))}')
        return reply

    def _served_model(self) -> str:
        with self._lock:
            if not self._model:
                self._model = self.name = self._discover_model()
            return self._model

    def _discover_model(self) -> str:
        listing = self._request('/models')
        models = listing.get('data') if isinstance(listing, dict) else None
        ids = [str(m['id']) for m in models or [] if isinstance(m, dict) and m.get('id')]
        if not ids:
            raise InferenceError(
                f'the model server at {self.base_url} lists no models at /models; load a model '
                f'into the server or set model.api_model to the served model name.')
        if len(ids) > 1:
            logger.info('The model server at %s serves %s; using %s (set model.api_model to '
                        'choose).', self.base_url, ', '.join(ids), ids[0])
        return ids[0]

    def _request(self, path: str, body: dict | None = None) -> dict:
        """Send one API request, retrying transient failures; return the parsed JSON reply."""
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode('utf-8')
        attempt = 0
        while True:
            try:
                return self._send(url, data)
            except _TransientError as error:
                attempt += 1
                if attempt > self.retries:
                    raise InferenceError(f'{error} Gave up after {attempt} attempts.') from error
                delay = min(max(self.backoff * 2 ** (attempt - 1), error.retry_after),
                            MAX_RETRY_DELAY_S)
                logger.warning('%s Retrying in %.2f s (attempt %d of %d).', error, delay,
                               attempt + 1, self.retries + 1)
                time.sleep(delay)

    def _send(self, url: str, data: bytes | None) -> dict:
        """Send one request and return its parsed JSON, or raise a classified error."""
        headers = {'Accept': 'application/json'}
        if data is not None:
            headers['Content-Type'] = 'application/json'
        if self._api_key:
            headers['Authorization'] = f'Bearer {self._api_key}'
        request = urllib.request.Request(url, data=data, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise _status_error(url, error) from error
        except urllib.error.URLError as error:
            raise _TransientError(
                f'cannot reach the model server at {url}: {error.reason}. {_SERVER_HINT}'
            ) from error
        except TimeoutError as error:
            raise InferenceError(
                f'the model server at {url} did not answer within {self.timeout:g} s. It may be '
                f'overloaded or still loading; raise model.timeout or lower model.max_frames. '
                f'{_SERVER_HINT}') from error
        except (ConnectionError, http.client.HTTPException) as error:
            raise _TransientError(
                f'the connection to the model server at {url} failed: '
                f'{type(error).__name__}: {error}. {_SERVER_HINT}') from error
        return _parse_json(url, raw)

    def _chat(self, messages: Sequence[Message]) -> list[dict]:
        """Turn our messages into chat-completions messages with JPEG data URLs."""
        return [{'role': message.role, 'content': self._content(message)}
                for message in messages]

    def _content(self, message: Message) -> str | list[dict]:
        if all(isinstance(part, TextPart) for part in message.content):
            # Plain strings are what every server accepts for text-only turns.
            return ''.join(part.text for part in message.content if isinstance(part, TextPart))
        content: list[dict] = []
        for part in message.content:
            if isinstance(part, TextPart):
                content.append({'type': 'text', 'text': part.text})
            elif isinstance(part, ImagePart):
                content.append(self._image(part.frame))
            elif isinstance(part, VideoPart):
                content.extend(self._video(part.frames))
            else:
                raise InferenceError(f'unsupported message part {type(part).__name__}.')
        return content

    def _video(self, frames: Sequence[Frame]) -> list[dict]:
        if not frames:
            raise InferenceError('a video in the prompt has no frames.')
        chosen = [frames[i] for i in subsample_indices(len(frames), self.max_frames)]
        count = len(chosen)
        noun = 'keyframe' if count == 1 else 'keyframes'
        content = [{'type': 'text', 'text': f'Video of {count} {noun}; times in seconds are '
                                            f'relative to the last keyframe.'}]
        for frame in chosen:
            offset = frame.stamp - chosen[-1].stamp
            content.append({'type': 'text', 'text': f't={offset:+.1f}s:'})
            content.append(self._image(frame))
        return content

    def _image(self, frame: Frame) -> dict:
        return {'type': 'image_url',
                'image_url': {'url': jpeg_data_url(frame.image, self.max_pixels,
                                                   self.jpeg_quality)}}


class _TransientError(InferenceError):
    """A failure worth retrying: no connection, a 5xx or a 429 answer."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _ClientError(InferenceError):
    """A 4xx answer other than 429: the request itself is wrong, so it is never retried."""

    def __init__(self, message: str, server_message: str) -> None:
        super().__init__(message)
        self.server_message = server_message


def jpeg_data_url(image: np.ndarray, max_pixels: int, quality: int) -> str:
    """Encode an RGB image, shrunk to ``max_pixels``, as a ``data:image/jpeg;base64`` URL."""
    height, width = image.shape[:2]
    image = fit_pixels(image, max_pixels)
    ok, encoded = cv2.imencode('.jpg', cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InferenceError(f'cannot encode a {width}x{height} frame as JPEG.')
    return 'data:image/jpeg;base64,' + base64.b64encode(encoded.tobytes()).decode('ascii')


def _check_url(base_url: str) -> str:
    parsed = urllib.parse.urlparse(base_url.strip())
    if parsed.scheme not in ('http', 'https') or not parsed.hostname:
        raise ConfigError(
            f'model.url is {base_url!r}; set it to the API root of an OpenAI-compatible server, '
            f'such as http://localhost:8000/v1.')
    return base_url.strip().rstrip('/')


def _check_limits(timeout: float, retries: int, max_frames: int, max_pixels: int,
                  jpeg_quality: int, backoff: float) -> None:
    problems = [
        (not timeout > 0, f'model.timeout must be positive, got {timeout}'),
        (retries < 0, f'model.retries must be at least 0, got {retries}'),
        (max_frames < 1, f'model.max_frames must be at least 1, got {max_frames}'),
        (max_pixels < 1, f'model.max_pixels must be at least 1, got {max_pixels}'),
        (not 1 <= jpeg_quality <= 100, f'jpeg_quality must be 1 to 100, got {jpeg_quality}'),
        (not backoff >= 0, f'backoff must be at least 0 seconds, got {backoff}'),
    ]
    for failed, message in problems:
        if failed:
            raise ConfigError(message + '.')


def _api_key_from_environment() -> str:
    return next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), '')


def _opener_for(base_url: str) -> urllib.request.OpenerDirector:
    """Return a URL opener; a loopback server is always reached directly, bypassing proxies."""
    host = urllib.parse.urlparse(base_url).hostname or ''
    try:
        loopback = host == 'localhost' or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _status_error(url: str, error: urllib.error.HTTPError) -> InferenceError:
    """Classify an HTTP error answer: 5xx and 429 are transient, other 4xx are not."""
    try:
        body = error.read()
    except (OSError, http.client.HTTPException):
        body = b''
    detail = _server_message(body) or str(error.reason or 'no details')
    message = f'the model server at {url} answered HTTP {error.code}: {detail.rstrip(".")}.'
    if error.code >= 500 or error.code == 429:
        return _TransientError(message, _retry_after(error.headers))
    if error.code in (401, 403):
        message += (f' Set the API key the server expects in {API_KEY_VARIABLES[0]} or '
                    f'{API_KEY_VARIABLES[1]}.')
    elif error.code == 404:
        message += (' Check model.url (the API root, such as http://localhost:8000/v1) and '
                    'model.api_model (a model name that GET /models lists).')
    return _ClientError(message, detail)


def _server_message(body: bytes) -> str:
    """The error message in an error body: OpenAI, vLLM, FastAPI and plain-text styles."""
    text = body.decode('utf-8', 'replace').strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return _clip(text)
    if isinstance(payload, dict):
        for key in ('error', 'message', 'detail'):
            value = payload.get(key)
            if isinstance(value, dict):
                value = value.get('message', value)
            if value:
                return _clip(value if isinstance(value, str) else json.dumps(value))
    return _clip(text)


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get('Retry-After', 0)))
    except (TypeError, ValueError, AttributeError):
        return 0.0


def _parse_json(url: str, raw: bytes) -> dict:
    try:
        payload = json.loads(raw)
    except ValueError as error:
        raise InferenceError(
            f'the model server at {url} returned malformed JSON ({error}): '
            f'{_clip(raw.decode("utf-8", "replace"))}') from error
    if not isinstance(payload, dict):
        raise InferenceError(
            f'the model server at {url} returned {type(payload).__name__} JSON, not an object.')
    return payload


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + '...'


def _generations(reply: dict) -> list[Generation]:
    """The replies in a chat completion, with ``usage.completion_tokens`` split over them."""
    texts = []
    for choice in reply['choices']:
        message = choice.get('message') if isinstance(choice, dict) else None
        content = message.get('content') if isinstance(message, dict) else None
        texts.append((content or '').strip())
    usage = reply.get('usage')
    total = usage.get('completion_tokens') if isinstance(usage, dict) else None
    if not isinstance(total, int) or total < 0:
        counts = [_estimate_tokens(text) for text in texts]
    else:
        counts = _split_tokens(total, texts)
    return [Generation(text=t, num_tokens=c) for t, c in zip(texts, counts)]


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def _split_tokens(total: int, texts: list[str]) -> list[int]:
    """Split ``total`` tokens over ``texts`` in proportion to their lengths (whole numbers)."""
    weights = [len(text) + 1 for text in texts]  # +1: an empty reply still took a stop token
    shares = [total * w / sum(weights) for w in weights]
    counts = [math.floor(share) for share in shares]
    by_remainder = sorted(range(len(texts)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[:total - sum(counts)]:
        counts[i] += 1
    return counts


def _first_token_top_logprobs(reply: dict) -> dict[str, float]:
    """Token -> log-probability of the first reply token's alternatives; empty when absent.

    Reads the chat format (``logprobs.content[0].top_logprobs``, a list of token entries) and the
    legacy completions format some servers still use (``logprobs.top_logprobs[0]``, a dict).
    """
    choice = reply['choices'][0]
    logprobs = choice.get('logprobs') if isinstance(choice, dict) else None
    if not isinstance(logprobs, dict):
        return {}
    content = logprobs.get('content')
    if isinstance(content, list) and content and isinstance(content[0], dict):
        entries = content[0].get('top_logprobs') or []
        return {e['token']: float(e['logprob']) for e in entries
                if isinstance(e, dict) and 'token' in e and 'logprob' in e}
    legacy = logprobs.get('top_logprobs')
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        return {str(token): float(value) for token, value in legacy[0].items()}
    return {}


def _letter_log_probs(top: dict[str, float], letters: Sequence[str]) -> np.ndarray:
    """Log-probabilities of ``letters`` from the top alternatives, renormalised over the letters.

    Tokens that strip to the same letter add up; a letter that no listed token matches gets the
    floor ``min(top) - log(TOP_LOGPROBS)``. When no listed token has a finite log-probability,
    every letter gets the same score.
    """
    finite = [value for value in top.values() if math.isfinite(value)]
    floor = min(finite) - math.log(TOP_LOGPROBS) if finite else 0.0
    scores = {letter: -math.inf for letter in letters}
    for token, value in top.items():
        letter = token.strip(_TOKEN_DECORATION)
        if letter in scores:
            scores[letter] = float(np.logaddexp(scores[letter], value))
    values = np.array([s if math.isfinite(s) else floor for s in scores.values()])
    return values - np.logaddexp.reduce(values)
