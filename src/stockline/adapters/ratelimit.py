"""Rate limits: a token bucket per principal, in this process or shared through Redis.

A principal's bucket holds ``rate * burst_seconds`` tokens and refills at ``rate`` tokens a
second, where ``rate`` is its API key's own limit when the key has one, else its role's.
Each request takes one token; an empty bucket answers "retry after" the time one token
takes to come back.

Without ``redis_url`` the buckets live in this process (so N workers allow N times the
limit). With it, one Lua script per request reads, refills and takes from the principal's
bucket atomically in Redis on Redis's own clock, so every process and node draws from one
budget; the key expires once the bucket would be full again.

When Redis cannot be reached the limiter fails *open to the local buckets*: requests are
still limited, per process, and a warning is logged (at most every ``warn_every``
seconds). Redis is tried again after ``retry_seconds``, so an outage costs a request no
more than one short timeout. Failing closed would turn a cache outage into an outage of
the whole API, sales included; failing fully open would drop the protection altogether.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from redis import asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = structlog.get_logger("stockline.ratelimit")

# The scripts below share how a bucket is read and refilled (KEYS[1]: the bucket; ARGV[1]:
# rate in tokens/s, ARGV[2]: capacity), on Redis's clock, and how it is written back (the
# key expires once the bucket would be full again). Floats go back as strings: Redis
# truncates Lua numbers in replies to integers.
_REFILLED = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
end
"""
_STORED = """
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
"""
# Takes one token if there is one. Returns {allowed, tokens left}.
TAKE_SCRIPT = _REFILLED + """
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
""" + _STORED + """
return {allowed, string.format('%.17g', tokens)}
"""
# ARGV[3]: cost, ARGV[4]: floor. Takes ``cost`` tokens whether or not the bucket holds
# them, down to ``floor`` (a debt to be earned back). Returns the tokens left.
CHARGE_SCRIPT = _REFILLED + """
tokens = math.max(tonumber(ARGV[4]), tokens - tonumber(ARGV[3]))
""" + _STORED + """
return string.format('%.17g', tokens)
"""


@dataclass(frozen=True, slots=True)
class Quota:
    rate: float  # tokens a second
    capacity: float


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's verdict, in the terms of the RateLimit header fields."""

    allowed: bool
    limit: int  # the bucket's size: requests allowed at once
    remaining: int  # requests allowed right now after this one
    reset: int  # seconds until the bucket is full again
    retry_after: int  # seconds until one request is allowed again (0 when allowed)

    @classmethod
    def of(cls, quota: Quota, allowed: bool, tokens: float) -> Decision:
        held = max(0.0, tokens)  # a bucket in debt (see charge) waits it out too
        return cls(allowed=allowed, limit=int(quota.capacity), remaining=int(held),
                   reset=math.ceil((quota.capacity - tokens) / quota.rate),
                   retry_after=0 if allowed else max(1, math.ceil((1 - tokens) / quota.rate)))

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"ratelimit-limit", b"%d" % self.limit),
                (b"ratelimit-remaining", b"%d" % self.remaining),
                (b"ratelimit-reset", b"%d" % self.reset)]


class MemoryBuckets:
    """Buckets of this process: (tokens, monotonic time of the last take) by principal."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 100_000) -> None:
        self._clock, self._max = clock, max_entries
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, quota: Quota) -> tuple[bool, float]:
        now = self._clock()
        held = self._buckets.get(key)
        if held is None:
            tokens = quota.capacity
            if len(self._buckets) >= self._max:
                self._prune(now, quota)
        else:
            tokens = min(quota.capacity, held[0] + (now - held[1]) * quota.rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._buckets[key] = (tokens, now)
        return allowed, tokens

    def tokens(self, key: str, quota: Quota) -> float:
        """The tokens in ``key``'s bucket now, taking none."""
        held = self._buckets.get(key)
        if held is None:
            return quota.capacity
        return min(quota.capacity, held[0] + (self._clock() - held[1]) * quota.rate)

    def hold(self, key: str, quota: Quota, tokens: float) -> None:
        """Set ``key``'s bucket to ``tokens`` as of now."""
        now = self._clock()
        if key not in self._buckets and len(self._buckets) >= self._max:
            self._prune(now, quota)
        self._buckets[key] = (tokens, now)

    def _prune(self, now: float, quota: Quota) -> None:
        """Forget buckets idle long enough to be full (forgetting them changes nothing)."""
        idle = quota.capacity / quota.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < idle}
        if len(self._buckets) >= self._max:  # all busy: let them start over, not grow
            self._buckets.clear()


class RateLimiter:
    def __init__(self, *, per_role: Mapping[str, float], burst_seconds: float,
                 own_limit: Callable[[str], float | None], enabled: bool = True,
                 redis_url: str | None = None, prefix: str = "stockline",
                 timeout_seconds: float = 0.25, retry_seconds: float = 1.0,
                 warn_every: float = 30.0) -> None:
        self.enabled = enabled
        self._per_role, self._burst, self._own_limit = dict(per_role), burst_seconds, own_limit
        self._url, self._prefix, self._timeout = redis_url, f"{prefix}:ratelimit:", timeout_seconds
        self._retry, self._warn_every = retry_seconds, warn_every
        self.local = MemoryBuckets()
        self._redis: aioredis.Redis | None = None
        self._script: AsyncScript | None = None
        self._charge_script: AsyncScript | None = None
        self._redis_down_until = 0.0
        self._warned_at = -math.inf
        self._quotas: dict[float, Quota] = {}
        # Told (which limit, the role) of each refusal: "principal" (a principal's bucket),
        # "failed_credentials" (an address's budget of refused credentials) (metrics).
        self.on_refused: Callable[[str, str], None] = lambda limit, role: None

    @property
    def shared(self) -> bool:
        return self._url is not None

    @property
    def degraded(self) -> bool:
        """Redis is configured but failed lately: this process limits on its own."""
        return self._url is not None and time.monotonic() < self._redis_down_until

    async def start(self) -> None:
        """Make the Redis client (it connects on first use; nothing fails here)."""
        if self._url is not None and self._redis is None:
            self._redis = aioredis.from_url(self._url, socket_timeout=self._timeout,
                                            socket_connect_timeout=self._timeout)
            self._script = self._redis.register_script(TAKE_SCRIPT)
            self._charge_script = self._redis.register_script(CHARGE_SCRIPT)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = self._script = self._charge_script = None

    def quota(self, principal_id: str, role: str) -> Quota | None:
        """The principal's bucket: its key's own limit, else its role's (None: unlimited)."""
        rate = self._own_limit(principal_id) or self._per_role.get(role)
        if not rate or rate <= 0:
            return None
        quota = self._quotas.get(rate)
        if quota is None:
            quota = self._quotas[rate] = Quota(rate, max(1.0, rate * self._burst))
        return quota

    async def check(self, principal_id: str, role: str) -> Decision | None:
        """Take one token from the principal's bucket; None when it is not limited."""
        if not self.enabled:
            return None
        quota = self.quota(principal_id, role)
        if quota is None:
            return None
        if self._script is not None and time.monotonic() >= self._redis_down_until:
            try:
                allowed, tokens = await self._take_shared(principal_id, quota)
            except (RedisError, OSError, TimeoutError) as exc:
                self._redis_failed(exc)
            else:
                return self._decided(Decision.of(quota, allowed, tokens), role)
        return self._decided(Decision.of(quota, *self.local.take(principal_id, quota)), role)

    def _decided(self, decision: Decision, role: str) -> Decision:
        if not decision.allowed:
            self.on_refused("principal", role)
        return decision

    async def _take_shared(self, principal_id: str, quota: Quota) -> tuple[bool, float]:
        assert self._script is not None
        allowed, tokens = await self._script(keys=[self._prefix + principal_id],
                                       args=[repr(quota.rate), repr(quota.capacity)])
        return bool(allowed), float(tokens)

    async def charge(self, key: str, quota: Quota) -> Decision:
        """Take a token from the bucket ``key`` (a key space of its own, such as
        ``authfail:<address>``) even when it is empty: the debt, down to one bucket's worth,
        is earned back before it allows again. Shared through Redis when it answers, like
        ``check``; this process keeps the count Redis answered, for ``peek``."""
        floor = -quota.capacity
        if self._charge_script is not None and time.monotonic() >= self._redis_down_until:
            try:
                tokens = float(await self._charge_script(
                    keys=[self._prefix + key],
                    args=[repr(quota.rate), repr(quota.capacity), "1", repr(floor)]))
            except (RedisError, OSError, TimeoutError) as exc:
                self._redis_failed(exc)
            else:
                self.local.hold(key, quota, tokens)
                return Decision.of(quota, tokens >= 1, tokens)
        tokens = max(floor, self.local.tokens(key, quota) - 1)
        self.local.hold(key, quota, tokens)
        return Decision.of(quota, tokens >= 1, tokens)

    def peek(self, key: str, quota: Quota) -> Decision:
        """The verdict on the bucket ``key`` as this process knows it, taking nothing: its
        own charges, and the shared count as Redis last answered one of them. Reading it
        costs no round trip, so every request can ask; a bucket charged only by other
        processes is seen at this process's first charge to it."""
        tokens = self.local.tokens(key, quota)
        return Decision.of(quota, tokens >= 1, tokens)

    def _redis_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._redis_down_until = now + self._retry
        if now - self._warned_at >= self._warn_every:
            self._warned_at = now
            log.warning("rate_limit_redis_unavailable", error=str(exc) or type(exc).__name__,
                        fallback="per-process buckets", retry_seconds=self._retry)
