"""The composition root: settings in, wired services out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import structlog

from stockline.adapters.audit import AuditTrail
from stockline.adapters.auth_failures import FailureBudget
from stockline.adapters.authentication import Authenticator
from stockline.adapters.bus import EventBus, open_bus
from stockline.adapters.cache_redis import RedisTier
from stockline.adapters.credentials import ExternalTokens, TokenIssuer
from stockline.adapters.database import Database, open_database, open_replica, replica_name
from stockline.adapters.destinations import Destinations
from stockline.adapters.housekeeping import Periodic, purge_idempotency_keys
from stockline.adapters.hub import EventHub
from stockline.adapters.keys import KeyStore
from stockline.adapters.nodes import NodeRegistry
from stockline.adapters.partitions import create_ahead
from stockline.adapters.positions import CommitPositions
from stockline.adapters.queries import Queries
from stockline.adapters.queries.hot import HotReads, PostgresHotReads, hot_reads_for
from stockline.adapters.ratelimit import RateLimiter
from stockline.adapters.reads import CachedReads
from stockline.adapters.reconcile_schedule import ScheduledReconcile
from stockline.adapters.relay import Relay
from stockline.adapters.replicas import ReadRouter, Replica
from stockline.adapters.rollup import fold_waiting
from stockline.adapters.sessions import Sessions, SessionSigner, SessionStore
from stockline.adapters.tickets import TicketStore
from stockline.adapters.tracing import Tracing
from stockline.adapters.uow import SqlUnitOfWorkFactory
from stockline.adapters.webhook_queue import DeliveryQueue
from stockline.adapters.webhooks import WebhookDispatcher
from stockline.config import Settings
from stockline.domain.commands import RecordSale
from stockline.domain.model import Sale
from stockline.domain.webhooks import RetryPolicy
from stockline.services import reservations, sales
from stockline.services.batching import GroupCommit
from stockline.services.executor import Executor, utcnow
from stockline.services.idempotency import RequestDigests
from stockline.services.ports import UnitOfWorkFactory
from stockline.services.sales_batch import record_sales
from stockline.services.writes import WriteService

log = structlog.get_logger("stockline")


@dataclass(slots=True)
class Container:
    settings: Settings
    database: Database
    executor: Executor
    writes: WriteService  # the one write path every entrypoint calls (services.writes)
    queries: Queries
    hot: HotReads
    cached: CachedReads  # the one read of a single level or product, through the cache
    bus: EventBus
    relay: Relay
    hub: EventHub
    authenticator: Authenticator
    webhooks: WebhookDispatcher
    destinations: Destinations
    audit: AuditTrail
    limiter: RateLimiter
    auth_failures: FailureBudget
    tickets: TicketStore
    sessions: Sessions
    nodes: NodeRegistry
    reads: ReadRouter  # where a read runs: the primary or a replica (adapters.replicas)
    positions: CommitPositions | None  # the WAL position written answers carry (PostgreSQL)
    sales: GroupCommit[RecordSale, Sale] | None = None  # group commit of sales, when on
    uows: UnitOfWorkFactory | None = None  # the writes' units of work (metrics hook in)
    reconcile: ScheduledReconcile | None = None  # when STOCKLINE_RECONCILE_INTERVAL_SECONDS
    tracing: Tracing | None = None  # when the OTEL_* variables ask for traces (adapters.tracing)
    background: list[Periodic] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _started: list[str] = field(default_factory=list)

    async def start(self, *, events: bool = True, jobs: bool = True) -> None:
        """Start what a server process runs beside the requests (tools start nothing).

        ``events``: the bus, this node's hub, the outbox relay and the webhook dispatcher
        (which sends only while this node leads the relay); ``jobs``: the periodic
        upkeep (reservation expiry, idempotency key purge). A bus that cannot be reached
        does not stop the start: writes go on, and events flow once it answers.
        The audit trail's writer and the rate limiter always start: whoever starts a
        container serves requests.
        """
        self.audit.start()
        await self.limiter.start()
        await self.cached.start()
        if events:
            try:
                await self.bus.start()
            except Exception as exc:
                log.warning("bus_unavailable_at_start", bus=self.bus.name, error=str(exc))
            await self.hub.start()
            self._tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
            self._tasks.append(asyncio.create_task(self.webhooks.run(), name="webhooks"))
            self._started.append("events")
        if jobs:
            for job in self.background:
                job.start()

    async def close(self) -> None:
        if self.sales is not None:
            await self.sales.close()  # what is queued is answered before the pools close
        for job in self.background:
            await job.stop()
        await self._leave()
        await self._stop_event_tasks()
        if "events" in self._started:
            await self.hub.close()
            await self.bus.close()
        await self.limiter.close()
        await self.audit.close()  # flushes what is still queued
        await self.cached.close()
        await self.hot.close()
        await self.reads.dispose()
        await self.database.dispose()

    async def _leave(self) -> None:
        """Take this process off the node list (the others prune it in a while anyway)."""
        try:
            await self.nodes.leave()
        except Exception as exc:  # the database is gone: the row goes stale and is pruned
            log.warning("node_leave_failed", node=self.nodes.name, error=str(exc))

    async def _stop_event_tasks(self) -> None:
        """The relay and the webhook dispatcher finish the round (and the delivery
        attempts) under way, so that no transaction is cut off: on SQLite, one cancelled
        during a statement keeps the write lock on a connection closed only later, and
        the audit trail's last flush below would wait for it in vain. Past the longest a
        delivery attempt may take, what is left is cancelled."""
        if not self._tasks:
            return
        self.relay.stop()
        self.webhooks.stop()
        grace = self.settings.webhook_timeout_seconds + 5
        _, late = await asyncio.wait(self._tasks, timeout=grace)
        for task in late:
            log.warning("task_cancelled_at_close", task=task.get_name())
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def bootstrap(settings: Settings, *, uow_factory: UnitOfWorkFactory | None = None,
              tracing: Tracing | None = None) -> Container:
    """Wire the service; tests pass their own unit of work factory to run without a database.
    ``tracing``: this process's (None, the default: nothing is traced, nothing hooked)."""
    database = open_database(settings.database_url, pool_size=settings.db_pool_size,
                             busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    bus = open_bus(settings.bus_url, channel=settings.bus_channel)
    relay = Relay(database, bus, node=settings.node_name, batch=settings.relay_batch,
                  lease_seconds=settings.relay_lease_seconds,
                  poll_seconds=settings.relay_poll_interval_seconds,
                  idle_poll_seconds=settings.relay_idle_poll_seconds,
                  linger_seconds=settings.relay_linger_ms / 1000,
                  retention=timedelta(days=settings.event_retention_days), clock=utcnow)
    deliveries = DeliveryQueue(clock=utcnow)
    destinations = Destinations(allow_private=settings.webhook_allow_private,
                                timeout_seconds=settings.webhook_timeout_seconds)
    relay.add_hook(deliveries)  # deliveries are queued in the transaction logging events
    dispatcher = WebhookDispatcher(
        database, leading=lambda: relay.leading, clock=utcnow,
        policy=RetryPolicy(base=timedelta(seconds=settings.webhook_retry_base_seconds),
                           cap=timedelta(seconds=settings.webhook_retry_cap_seconds),
                           give_up=timedelta(hours=settings.webhook_give_up_after_hours)),
        timeout_seconds=settings.webhook_timeout_seconds,
        concurrency=settings.webhook_concurrency,
        poll_seconds=settings.webhook_poll_interval_seconds,
        idle_poll_seconds=settings.webhook_idle_poll_seconds, destinations=destinations)
    deliveries.on_queued = dispatcher.wake
    uows = uow_factory or SqlUnitOfWorkFactory(
        database.write, trace=tracing.traceparent if tracing is not None else None)
    executor = Executor(uows, on_commit=relay.wake, digests=idempotency_digests(settings))
    reads = read_router(settings, database)
    if tracing is not None:
        trace_statements(tracing, database, reads)
    queries = Queries(database.read, reads)
    hub = EventHub(queries, bus, poll_seconds=settings.hub_poll_interval_seconds,
                   queue_size=settings.stream_queue_size)
    hot = hot_reads_for(database.read, pool_size=max(2, settings.db_pool_size // 4))
    cached = cached_reads(settings, queries, hot, hub)
    if isinstance(uows, SqlUnitOfWorkFactory):  # told before each write's answer goes out
        uows.on_committed.append(cached.committed)
    retention = timedelta(hours=settings.idempotency_retention_hours)
    keys = KeyStore(database.read, database.write, ttl=settings.key_cache_seconds)
    authenticator = Authenticator(
        admin_key=settings.admin_key.get_secret_value() if settings.admin_key else None,
        keys=keys,
        tokens=token_issuer(settings), external=external_tokens(settings), clock=utcnow,
        role_claim=settings.external_role_claim,
        locations_claim=settings.external_locations_claim)
    limiter = RateLimiter(per_role=settings.rate_limits,
                          burst_seconds=settings.rate_limit_burst_seconds,
                          own_limit=keys.limit_of, enabled=settings.rate_limit_enabled,
                          redis_url=settings.redis_url, prefix=settings.rate_limit_prefix,
                          timeout_seconds=settings.redis_timeout_seconds)

    async def purge() -> int:
        return await purge_idempotency_keys(database.write, now=utcnow(), retention=retention)

    async def partitions_ahead() -> list[str]:
        return await create_ahead(database.write, now=utcnow(),
                                  ahead=settings.partition_months_ahead)

    async def expire_reservations() -> int:
        # Every second in every process: look first, so that nothing due costs a read,
        # not a write transaction.
        if not await queries.holds_due(utcnow()):
            return 0
        return await reservations.sweep_expired(executor)

    async def fold_sales() -> int:
        return await fold_waiting(database.write, batch=settings.rollup_batch,
                                  batches=settings.rollup_batches)

    registry = NodeRegistry(database.read, database.write, name=settings.node_name,
                            clock=utcnow)
    sessions = Sessions(session_signer(settings),
                        SessionStore(database.read, database.write, clock=utcnow))
    grouped = None
    if settings.sale_batch_enabled:
        grouped = GroupCommit(uows, executor,
                              record_sales, sales.record_sale,
                              window=settings.sale_batch_window_ms / 1000,
                              max_size=settings.sale_batch_max, lanes=settings.sale_batch_lanes,
                              lane_of=sales.lane_of, on_commit=relay.wake, trace=tracing)

    writes = WriteService(executor, {sales.record_sale: grouped} if grouped else None)
    scheduled = (ScheduledReconcile(
        database.read, interval=timedelta(seconds=settings.reconcile_interval_seconds),
        leading=lambda: relay.leading, clock=utcnow)
        if settings.reconcile_interval_seconds else None)
    jobs = [Periodic("purge-idempotency-keys", purge, interval=900),
            Periodic("purge-sessions", sessions.store.purge, interval=900),
            Periodic("node-heartbeat", registry.beat, interval=registry.every),
            Periodic("expire-reservations", expire_reservations,
                     interval=settings.reservation_sweep_interval_seconds),
            Periodic("fold-sales-rollup", fold_sales, interval=settings.rollup_interval_seconds),
            Periodic("create-partitions", partitions_ahead, interval=86_400)]
    if scheduled is not None:
        jobs.append(Periodic("reconcile", scheduled, interval=scheduled.look_seconds))
    if reads.replicas:
        jobs.append(Periodic("poll-replicas", reads.poll,
                             interval=settings.replica_poll_seconds))
    relay.tracing = hub.tracing = dispatcher.tracing = tracing
    return Container(settings=settings, database=database, executor=executor,
                     writes=writes, queries=queries, hot=hot, cached=cached, bus=bus,
                     relay=relay, hub=hub,
                     authenticator=authenticator, webhooks=dispatcher,
                     destinations=destinations,
                     audit=AuditTrail(database.write,
                                      burst_seconds=settings.audit_burst_seconds),
                     limiter=limiter, sales=grouped, uows=uows,
                     tickets=TicketStore(database.write, clock=utcnow),
                     sessions=sessions, nodes=registry, reads=reads,
                     positions=(CommitPositions(hot.wal_position)
                                if isinstance(hot, PostgresHotReads) else None),
                     auth_failures=FailureBudget(
                         limiter, limit=settings.auth_failure_limit,
                         per_minute=settings.auth_failure_per_minute),
                     reconcile=scheduled, background=jobs, tracing=tracing)


def trace_statements(tracing: Tracing, database: Database, reads: ReadRouter) -> None:
    """SQL spans for the statements of every engine: the primary's, the replicas'."""
    tracing.instrument_engine(database.write)
    if database.read.pool is not database.write.pool:  # else one engine's events
        tracing.instrument_engine(database.read)
    for replica in reads.replicas:  # its reader shares its engine's events
        tracing.instrument_engine(replica.engine)


def read_router(settings: Settings, database: Database) -> ReadRouter:
    """The primary's read engine and the replicas of STOCKLINE_DATABASE_REPLICA_URLS."""
    replicas = [Replica(replica_name(url), open_replica(url, pool_size=settings.replica_pool_size))
                for url in settings.database_replica_urls]
    return ReadRouter(database.read, replicas, max_lag=settings.replica_max_lag_seconds,
                      poll_timeout=max(1.0, settings.replica_poll_seconds * 4))


def cached_reads(settings: Settings, queries: Queries, hot: HotReads,
                 hub: EventHub) -> CachedReads:
    """The read cache: trusted while the hub has caught up with the log within a few of
    its polls; shared through Redis when STOCKLINE_CACHE_REDIS_URL is set."""
    ttl = settings.read_cache_ttl
    redis = (RedisTier(settings.cache_redis_url, ttl=ttl, prefix=settings.rate_limit_prefix,
                       timeout_seconds=settings.cache_redis_timeout_seconds)
             if settings.cache_redis_url else None)
    return CachedReads(queries, hot, hub, ttl=ttl, max_entries=settings.cache_max_entries,
                       feed_window=max(2.0, 4 * settings.hub_poll_interval_seconds),
                       redis=redis)


def idempotency_digests(settings: Settings) -> RequestDigests:
    """Keyed with STOCKLINE_IDEMPOTENCY_SECRET, else with the secret kept in var_dir (it
    must outlive restarts, or a retry after one would no longer match its record)."""
    if settings.idempotency_secret is not None:
        return RequestDigests(settings.idempotency_secret.get_secret_value().encode())
    return RequestDigests(kept_secret(settings.var_dir / "idempotency_secret"))


def session_signer(settings: Settings) -> SessionSigner:
    """Signed with STOCKLINE_SESSION_SECRET, else with the secret kept in var_dir (so that
    sessions outlive restarts and every worker accepts them)."""
    secret = (settings.session_secret.get_secret_value().encode()
              if settings.session_secret is not None
              else kept_secret(settings.var_dir / "session_secret"))
    return SessionSigner(secret, ttl=timedelta(seconds=settings.session_ttl_seconds),
                         clock=utcnow)


def kept_secret(path: Path) -> bytes:
    """The random secret kept at ``path``: made by the first process to start, read by
    every other."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        made = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        try:  # a link is atomic: of workers starting together, the first one's wins
            os.link(made, path)
        except FileExistsError:
            pass
        finally:
            made.unlink()
    return path.read_text().strip().encode()


def token_issuer(settings: Settings) -> TokenIssuer | None:
    """Stockline's own access tokens: RS256 with a key file, else HS256 with a secret."""
    ttl = timedelta(seconds=settings.token_ttl_seconds)
    leeway = timedelta(seconds=settings.token_leeway_seconds)
    if settings.token_private_key_file is not None:
        return TokenIssuer(issuer=settings.token_issuer, audience=settings.token_audience,
                           ttl=ttl, private_key_pem=settings.token_private_key_file.read_bytes(),
                           leeway=leeway)
    if settings.token_secret is not None:
        return TokenIssuer(issuer=settings.token_issuer, audience=settings.token_audience,
                           ttl=ttl, secret=settings.token_secret.get_secret_value(),
                           leeway=leeway)
    return None


def external_tokens(settings: Settings) -> ExternalTokens | None:
    """An external identity provider's tokens, when its JWKS URL, issuer and audience are set."""
    if settings.external_jwks_url and settings.external_issuer and settings.external_audience:
        return ExternalTokens(jwks_url=settings.external_jwks_url,
                              issuer=settings.external_issuer,
                              audience=settings.external_audience,
                              leeway=timedelta(seconds=settings.token_leeway_seconds))
    return None
