"""A budget of failed credentials per client address, kept in the rate limiter's buckets.

Each refused credential takes a token from the bucket ``authfail:<address>``, which holds
``limit`` tokens and earns back ``per_minute`` a minute. While it is empty, every request
from that address is refused (429) before its credential is even looked at, so guessing
keys costs an attacker time instead of costing the server a check and an audit row each.
The buckets are the limiter's: in this process, or shared by every process through Redis.
"""

from __future__ import annotations

from stockline.adapters.ratelimit import Decision, Quota, RateLimiter

KEY_SPACE = "authfail:"


class FailureBudget:
    def __init__(self, limiter: RateLimiter, *, limit: int, per_minute: float) -> None:
        self._limiter = limiter
        self._quota = Quota(rate=per_minute / 60, capacity=float(limit)) if limit else None

    async def refusal(self, address: str | None) -> Decision | None:
        """The verdict when ``address`` has no failed attempt left; None while it has."""
        if self._quota is None or address is None:
            return None
        decision = await self._limiter.peek(KEY_SPACE + address, self._quota)
        return None if decision.allowed else decision

    async def spend(self, address: str | None) -> None:
        """Count one refused credential against ``address``."""
        if self._quota is not None and address is not None:
            await self._limiter.take(KEY_SPACE + address, self._quota)
