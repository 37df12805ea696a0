"""Methods made from the operations: ``Client.record_sale`` sends
``operations.record_sale(...)`` and returns its answer; ``AsyncClient.record_sale`` does
the same, awaited. A list becomes an iterator over all its items. Each method keeps the
operation's signature (for type checkers and editors) and its docstring."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from stockline.client.calls import Call, Listing

P = ParamSpec("P")
T = TypeVar("T")


class Sender(Protocol):
    def _send(self, call: Call[T]) -> T: ...

    def _iterate(self, listing: Listing[T]) -> Iterator[T]: ...


class AsyncSender(Protocol):
    async def _send(self, call: Call[T]) -> T: ...

    def _iterate(self, listing: Listing[T]) -> AsyncIterator[T]: ...


def _named(method: Any, build: Callable[..., Any]) -> None:
    """Give ``method`` the operation's name, docstring and parameters (for help())."""
    functools.update_wrapper(method, build, assigned=("__name__", "__doc__"), updated=())
    operation = inspect.signature(build)
    own = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = operation.replace(parameters=[own, *operation.parameters.values()],
                                             return_annotation=inspect.Signature.empty)


def call(build: Callable[P, Call[T]]) -> Callable[Concatenate[Sender, P], T]:
    def method(self: Sender, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._send(build(*args, **kwargs))
    _named(method, build)
    return method


def async_call(build: Callable[P, Call[T]]
               ) -> Callable[Concatenate[AsyncSender, P], Awaitable[T]]:
    async def method(self: AsyncSender, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._send(build(*args, **kwargs))
    _named(method, build)
    return method


def listing(build: Callable[P, Listing[T]]) -> Callable[Concatenate[Sender, P], Iterator[T]]:
    def method(self: Sender, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return self._iterate(build(*args, **kwargs))
    _named(method, build)
    return method


def async_listing(build: Callable[P, Listing[T]]
                  ) -> Callable[Concatenate[AsyncSender, P], AsyncIterator[T]]:
    def method(self: AsyncSender, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        return self._iterate(build(*args, **kwargs))
    _named(method, build)
    return method
