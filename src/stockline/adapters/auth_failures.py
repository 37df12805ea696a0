"""A budget of failed credentials per client address, kept in the rate limiter's buckets.

Each refused credential takes a token from the bucket ``authfail:<address>``, which holds
``limit`` tokens and earns back ``per_minute`` a minute. While it is empty, every request
from that address is refused (429) before its credential is even looked at, so guessing
keys costs an attacker time instead of costing the server a check and an audit row each.
The buckets are the limiter's: in this process, or shared by every process through Redis.
Only a refusal goes to Redis; the check before each request reads this process's copy of
the count (what Redis answered to its last refusal from that address), so a request with
a good credential costs no round trip, and a process learns of refusals made elsewhere at
its own next one.

Requests sent at once would all find the bucket full before the first is refused, so a
credential being checked holds one of its address's tokens until it is settled: a burst
of guesses gets no more checks than the budget (per process), however many connections
carry it. Refusals are charged even past empty, down to a debt of ``limit``, which the
address then waits out.
"""

from __future__ import annotations

from dataclasses import replace

from stockline.adapters.ratelimit import Decision, Quota, RateLimiter

KEY_SPACE = "authfail:"


class FailureBudget:
    def __init__(self, limiter: RateLimiter, *, limit: int, per_minute: float) -> None:
        self._limiter = limiter
        self._quota = Quota(rate=per_minute / 60, capacity=float(limit)) if limit else None
        self._checking: dict[str, int] = {}  # credentials of each address being checked

    def admit(self, address: str | None) -> Decision | None:
        """Hold one of ``address``'s attempts while its credential is checked (give it
        back with ``release``); the refusal instead when it has none left."""
        if self._quota is None or address is None:
            return None
        held = self._checking[address] = self._checking.get(address, 0) + 1
        decision = self._limiter.peek(KEY_SPACE + address, self._quota)
        if decision.allowed and decision.remaining >= held:
            return None
        self.release(address)
        self._limiter.on_refused("failed_credentials", "none")
        # Out only because of the checks under way: they settle within moments.
        return decision if not decision.allowed else replace(decision, allowed=False,
                                                             retry_after=1)

    async def spend(self, address: str | None) -> None:
        """Count one refused credential against ``address`` (before its ``release``)."""
        if self._quota is not None and address is not None:
            await self._limiter.charge(KEY_SPACE + address, self._quota)

    def release(self, address: str | None) -> None:
        """The attempt ``admit`` held is settled."""
        if self._quota is None or address is None:
            return
        left = self._checking.get(address, 0) - 1
        if left > 0:
            self._checking[address] = left
        else:
            self._checking.pop(address, None)
