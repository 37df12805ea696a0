"""The wait of a background loop between rounds that found nothing to do."""

from __future__ import annotations

import asyncio
import contextlib


class IdleWait:
    """Wait for a wake-up (something was queued in this process) or the next poll (what
    other processes queued). The poll stretches from ``least`` to ``most`` seconds, twice
    as long each time it passes unwoken, and shrinks back to ``least`` on a wake-up or
    when the loop says it found work: a loop polling every 20 ms kept an idle server at a
    tenth of a core."""

    def __init__(self, least: float, most: float) -> None:
        self._least, self._most = least, max(least, most)
        self.current = least

    def busy(self) -> None:
        """The round found work: poll at the shortest interval again."""
        self.current = self._least

    async def wait(self, wake: asyncio.Event) -> bool:
        """Until ``wake`` is set or the poll is due; True when woken. ``wake`` is left
        set: the caller clears it once it has done what the wake-up asked for."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives once the event is set but before this task ran again, and a loop
        # waiting here would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.current):
                await wake.wait()
        woken = wake.is_set()
        self.current = self._least if woken else min(2 * self.current, self._most)
        return woken
