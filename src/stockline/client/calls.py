"""The client's logic without I/O, shared by ``Client`` and ``AsyncClient``: a request to
make (``Call``), a list to page through (``Listing``), and when to try again (``Retry``).
The two clients only send what these describe and sleep as long as they say."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import httpx
from pydantic import TypeAdapter

from stockline import __version__
from stockline.client.errors import (
    ConnectionFailed,
    IdempotencyKeyInUse,
    Reset,
    StreamReset,
    problem_of,
    retry_after,
)
from stockline.client.models import Page

T = TypeVar("T")
Params = tuple[tuple[str, str], ...]
ParamValue = str | int | bool | datetime | date | Sequence[str] | None
RETRIED_STATUSES = frozenset({429, 503})
# No answer, or an answer cut short: safe to send again (a write carries its key).
RETRIED_ERRORS = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def parse(kind: type[T], data: Any) -> T:
    """``data`` (decoded JSON) as ``kind``; fields the server added since are ignored."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    result: T = adapter.validate_python(data)
    return result


def query(**values: ParamValue) -> Params:
    """Query parameters as the API takes them: no None, booleans as ``true``/``false``,
    instants in ISO 8601, lists as repeated parameters."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, datetime | date):
            pairs.append((name, value.isoformat()))
        elif isinstance(value, str | int):
            pairs.append((name, str(value)))
        else:
            pairs.extend((name, str(v)) for v in value)
    return tuple(pairs)


def body(**values: Any) -> dict[str, Any]:
    """A JSON body of the values given (None: left out, so the server's default applies)."""
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and how to read its answer. A write keeps one Idempotency-Key for all
    its attempts, so a retry is replayed by the server, never applied twice."""

    method: str
    path: str
    kind: type[T]
    params: Params = ()
    json: Any = None
    idempotency_key: str | None = None
    content: bytes | None = None  # a body sent as it is (a file), of ``media_type``
    media_type: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {} if self.media_type is None else {"Content-Type": self.media_type}
        if self.idempotency_key is not None:
            headers["Idempotency-Key"] = self.idempotency_key
        return headers

    def result(self, response: httpx.Response) -> T:
        """The answer as ``kind``, or the problem raised as its exception."""
        if not response.is_success:
            raise problem_of(response)
        return parse(self.kind, response.json())


def page_of(kind: type[T]) -> type[Page[T]]:
    """The type of a page of ``kind`` (what a list route answers)."""
    page: type[Page[T]] = Page[kind]  # type: ignore[valid-type]
    return page


def read(path: str, kind: type[T], params: Params = ()) -> Call[T]:
    return Call("GET", path, kind, params=params)


def write(path: str, kind: type[T], json: Any, key: str | None, method: str = "POST", *,
          params: Params = (), content: bytes | None = None, media_type: str | None = None
          ) -> Call[T]:
    """A write, under ``key`` or a new Idempotency-Key; its body is ``json``, or
    ``content`` of ``media_type``."""
    return Call(method, path, kind, params=params, json=json,
                idempotency_key=key or str(uuid.uuid4()), content=content,
                media_type=media_type)


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """A list route followed page by page (``next_cursor``) until its last page."""

    path: str
    kind: type[T]
    params: Params = ()
    page_size: int = 100
    start: str | None = None  # the first page's cursor (the event log's ``after``)
    on_reset: Callable[[Reset], None] | None = None

    def page(self, cursor: str | None) -> Call[Page[T]]:
        at = query(limit=self.page_size, cursor=cursor or self.start)
        return read(self.path, page_of(self.kind), self.params + at)

    def items(self, page: Page[T]) -> list[T]:
        """A page's items, once its ``reset`` (skipped events) is handled."""
        if page.reset is not None:
            notice = parse(Reset, page.reset)
            if self.on_reset is None:
                raise StreamReset(notice)
            self.on_reset(notice)
        return page.items


@dataclass(frozen=True, slots=True)
class Retry:
    """Connection errors, 429 and 503 (and 409 ``idempotency_key_in_use``: the first
    attempt is still running) are tried again up to ``attempts`` times, after the answer's
    ``Retry-After`` or else a bounded, jittered exponential backoff. A ``Retry-After``
    over ``max_wait`` is not waited for: the problem is raised at once."""

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 60.0
    jitter: Callable[[], float] = field(default=random.random)

    def pause(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** attempt)
        return ceiling * (0.5 + self.jitter() / 2)

    def after_response(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before trying again, None to take this answer."""
        if attempt >= self.attempts or not _transient(response):
            return None
        wait = retry_after(response.headers)
        if wait is None:
            return self.pause(attempt)
        return wait if wait <= self.max_wait else None

    def after_error(self, attempt: int, error: httpx.TransportError) -> float:
        """Seconds to wait before trying again; raises when the error is final."""
        if attempt >= self.attempts or not isinstance(error, RETRIED_ERRORS):
            raise ConnectionFailed(error) from error
        return self.pause(attempt)


def _transient(response: httpx.Response) -> bool:
    if response.status_code in RETRIED_STATUSES:
        return True
    return response.status_code == 409 and isinstance(problem_of(response), IdempotencyKeyInUse)


def connection(base_url: str, api_key: str | None, token: str | None,
               timeout: float) -> dict[str, Any]:
    """What both clients give their httpx client: the address, the credential (an API
    key as ``X-API-Key``, or a token as ``Authorization: Bearer``) and the timeout."""
    if api_key is not None and token is not None:
        raise ValueError("give api_key or token, not both")
    headers = {"User-Agent": f"stockline-client/{__version__}"}
    if api_key is not None:
        headers["X-API-Key"] = api_key
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return {"base_url": base_url, "headers": headers, "timeout": timeout}


def stream_timeout(timeout: float, idle_timeout: float) -> httpx.Timeout:
    """An event stream's: a connection idle longer than ``idle_timeout`` (the server sends
    a heartbeat every 15 s by default) is taken as dropped, and resumed."""
    return httpx.Timeout(timeout, read=idle_timeout)
