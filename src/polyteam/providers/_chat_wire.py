"""A lean client for OpenAI-compatible chat completions on httpx2, the `openai` SDK's own HTTP library.

`import openai` costs 0.4 s on an idle machine and 1.0-1.4 s on a loaded one before a run's first
request (its package `__init__` builds the whole Responses/evals type tree and pulls aiohttp through
a vendored transport); polyteam uses one endpoint of it. This module speaks that endpoint the way
the SDK does, and nothing else: `POST {base}/chat/completions`, plain or server-sent events.

It mirrors the subset of `openai.AsyncOpenAI` that `providers/openai.py` uses, so that module keeps
its one request builder, its one reply reader and its one error mapping:

- `client.chat.completions.create(**body)`, where `body` may carry the SDK's request options
  `extra_body` (merged into the JSON), `extra_headers`, `extra_query` and `timeout`;
- a reply (and each streamed chunk) whose fields read as attributes, a missing one as None;
- errors as the SDK raises them: `WireStatusError` (status, body's `error` object, headers and the
  SDK's message "Error code: N - message"), `WireStreamError` for an error event inside a 200 stream,
  `WireTimeoutError` / `WireConnectionError` raised from the httpx2 error, `json.JSONDecodeError`
  for a JSON reply that does not parse;
- `with_options(base_url=...)` (a copy on the same HTTP pool) and `close()`.

No retries (the gateway's), no logging, no environment reading beyond what httpx2 does itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import httpx2

#: the SDK's request options that are not fields of the JSON body
_OPTIONS = ("extra_body", "extra_headers", "extra_query", "timeout")
_STREAM_ERROR = "An error occurred during streaming"

ApiKey = str | Callable[[], Awaitable[str]]


class WireError(Exception):
    """An error the server answered with; `body` is its `error` object (or the whole body)."""

    def __init__(self, message: str, *, body: object) -> None:
        super().__init__(message)
        self.message = message
        self.body = body


class WireStatusError(WireError):
    """A non-2xx reply (`openai.APIStatusError`)."""

    def __init__(self, message: str, *, response: httpx2.Response, body: object) -> None:
        super().__init__(message, body=body)
        self.response = response
        self.status_code = response.status_code


class WireStreamError(WireError):
    """An error event inside a 200 stream (`openai.APIError` without a status)."""


class WireConnectionError(Exception):
    """The request did not get an answer (`openai.APIConnectionError`); the cause is chained."""


class WireTimeoutError(WireConnectionError):
    """The request timed out (`openai.APITimeoutError`)."""


class Record:
    """A JSON object whose fields read as attributes (a missing one as None), like the SDK's models."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _wrap(self._data.get(name))

    def __repr__(self) -> str:
        return f"Record({self._data!r})"


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Record(value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def _status_error(response: httpx2.Response) -> WireStatusError:
    """As the SDK builds it: the body parsed if it is JSON, its `error` object kept as `body`."""
    text = response.text.strip()
    message = f"Error code: {response.status_code}"
    body: object = text
    try:
        body = json.loads(text)
    except ValueError:
        pass
    else:
        error = body.get("error", body) if isinstance(body, Mapping) else None
        detail = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(detail, str) and detail:
            message += f" - {detail}"
    inner = body.get("error", body) if isinstance(body, Mapping) else body
    return WireStatusError(message, response=response, body=inner)


def _stream_error(data: object) -> WireStreamError | None:
    if not isinstance(data, Mapping) or not data.get("error"):
        return None
    error = data["error"]
    message = error.get("message") if isinstance(error, Mapping) else None
    return WireStreamError(message if isinstance(message, str) and message else _STREAM_ERROR, body=error)


def _json_reply(response: httpx2.Response) -> Any:
    """The reply as the SDK reads it: JSON when labelled so; else JSON if it parses, else its text."""
    content_type = response.headers.get("content-type", "*").split(";")[0]
    if content_type.endswith("json"):
        return _wrap(json.loads(response.content))
    try:
        return _wrap(json.loads(response.content))
    except ValueError:
        return response.text


class ChatStream:
    """The chunks of one streamed reply: an async context manager and an async iterator of Records."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.response.aclose()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Any]:
        try:
            async for data in self._events():
                if data.startswith("[DONE]"):
                    break
                parsed = json.loads(data)
                error = _stream_error(parsed)
                if error is not None:
                    raise error
                yield _wrap(parsed)
        finally:
            await self.response.aclose()

    async def _events(self) -> AsyncIterator[str]:
        """The `data` of each server-sent event (the SDK's decoder: joined lines, comments skipped)."""
        data: list[str] = []
        pending = False  # a field seen since the last dispatch
        async for line in self._lines():
            if not line:
                if pending:
                    yield "\n".join(data)
                data, pending = [], False
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
                pending = True
            elif field in ("event", "id", "retry"):
                pending = True
        if pending:
            yield "\n".join(data)

    async def _lines(self) -> AsyncIterator[str]:
        """Lines split on CR, LF or CRLF, each decoded as strict UTF-8 (UnicodeDecodeError, as the SDK)."""
        rest = b""
        try:
            async for chunk in self.response.aiter_bytes():
                lines = (rest + chunk).splitlines(keepends=True)
                # an unfinished last line, or one ending in CR (its LF may be in the next chunk), waits
                rest = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
                for line in lines:
                    yield line.rstrip(b"\r\n").decode("utf-8")
        except httpx2.TimeoutException as exc:
            raise WireTimeoutError("Request timed out.") from exc
        except httpx2.HTTPError as exc:
            raise WireConnectionError("Connection error.") from exc
        for line in rest.splitlines():
            yield line.decode("utf-8")


class ChatCompletions:
    """`client.chat.completions`: one request per `create`."""

    def __init__(self, client: ChatClient) -> None:
        self._client = client

    async def create(self, **body: Any) -> Any:
        """POST the body; a Record reply, or a ChatStream when `stream` is true.

        Raises:
            WireStatusError, WireTimeoutError, WireConnectionError, json.JSONDecodeError.
        """
        return await self._client.send(body)


class _Chat:
    def __init__(self, client: ChatClient) -> None:
        self.completions = ChatCompletions(client)


class ChatClient:
    """The lean twin of `openai.AsyncOpenAI` for chat completions (see the module docstring)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: ApiKey,
        timeout: float,
        max_retries: int = 0,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        if max_retries:
            raise ValueError("the lean client makes one attempt; retries live in polyteam.gateway")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self._headers = dict(default_headers or {})
        self._query = dict(default_query or {})
        self._http = http_client if http_client is not None else httpx2.AsyncClient(follow_redirects=True)
        self.chat = _Chat(self)

    def with_options(self, *, base_url: str) -> ChatClient:
        """A copy at another base, on the same HTTP pool (closing either closes the pool)."""
        return ChatClient(
            base_url=base_url,
            api_key=self._api_key,
            timeout=self.timeout,
            default_headers=self._headers,
            default_query=self._query,
            http_client=self._http,
        )

    def is_closed(self) -> bool:
        return self._http.is_closed

    async def close(self) -> None:
        await self._http.aclose()

    async def _headers_for(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        key = self._api_key if isinstance(self._api_key, str) else await self._api_key()
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "polyteam",
        }
        if key:
            headers["Authorization"] = f"Bearer {key}"
        headers.update(self._headers)
        headers.update(extra or {})
        return headers

    async def send(self, body: dict[str, Any]) -> Any:
        body = dict(body)
        options = {name: body.pop(name) for name in _OPTIONS if name in body}
        body.update(options.get("extra_body") or {})
        timeout = options.get("timeout")
        request = self._http.build_request(
            "POST",
            f"{self.base_url}/chat/completions",
            content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers=await self._headers_for(options.get("extra_headers")),
            params={**self._query, **(options.get("extra_query") or {})} or None,
            timeout=httpx2.Timeout(self.timeout if timeout is None else timeout),
        )
        stream = bool(body.get("stream"))
        try:
            response = await self._http.send(request, stream=True)
        except httpx2.TimeoutException as exc:
            raise WireTimeoutError("Request timed out.") from exc
        except httpx2.HTTPError as exc:
            raise WireConnectionError("Connection error.") from exc
        if stream and response.is_success:
            return ChatStream(response)
        try:
            await response.aread()
        except httpx2.TimeoutException as exc:
            raise WireTimeoutError("Request timed out.") from exc
        except httpx2.HTTPError as exc:
            raise WireConnectionError("Connection error.") from exc
        finally:
            await response.aclose()
        if not response.is_success:
            raise _status_error(response)
        return _json_reply(response)
