"""A TCP relay in front of a live server that a test can cut, as a dropped network would:
every connection through it is reset at once, and new ones are reset as they come (or
answered 502, as a proxy in front of a server that is down answers), until the test
joins it again. A browser pointed at the relay sees its event stream drop and
its reconnections fail, while the test's own clients reach the server directly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit


class Relay:
    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.cut_off = False
        self.bad_gateway = False
        self.refused: list[str] = []  # the requests turned away while cut (their lines)
        self._refusing = asyncio.Condition()
        self.base_url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    def cut(self, *, bad_gateway: bool = False) -> None:
        """Reset every connection through the relay, and each new one until ``join``
        (``bad_gateway``: answer each new one 502 instead)."""
        self.cut_off, self.bad_gateway, self.refused = True, bad_gateway, []
        for writer in list(self._open):
            _reset(writer)

    def join(self) -> None:
        self.cut_off = False

    async def turned_away(self, path: str, *, within: float) -> None:
        """Wait until a request for ``path`` has been turned away since the cut."""
        async with asyncio.timeout(within), self._refusing:
            await self._refusing.wait_for(
                lambda: any(f" {path}" in line for line in self.refused))

    async def _turn_away(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """Read the request's head (to say what was turned away), then reset the connection
        or answer 502."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
            async with self._refusing:
                self.refused.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
                self._refusing.notify_all()
            if self.bad_gateway:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n"
                             b"content-length: 11\r\nconnection: close\r\n\r\n"
                             b"Bad gateway")
                await writer.drain()
        _reset(writer)

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            await self._turn_away(reader, writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            _reset(writer)
            return
        pair = (writer, up_writer)
        self._open.update(pair)
        pipes = [asyncio.create_task(_pipe(reader, up_writer)),
                 asyncio.create_task(_pipe(up_reader, writer))]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
            self._tasks.difference_update(pipes)
            self._open.difference_update(pair)
            for end in pair:
                _reset(end)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection at once (no orderly close: a dropped network sends none)."""
    writer.transport.abort()


@contextlib.asynccontextmanager
async def relay_to(target: str) -> AsyncIterator[Relay]:
    relay = Relay(target)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.close()
