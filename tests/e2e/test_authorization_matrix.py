"""Who may do what, where: every route of the OpenAPI document (and the WebSocket) for every
role, at the key's own location and at another one, against the roles table (GRANTS).

The routes come from the app's OpenAPI document, so a route added without a rule in
``permissions.ROUTES`` fails here. Each role gets a key limited to one location, "home".
A case is a well-formed request for a route, aimed at a location; it names the exact
permission it needs, and the expectation follows from GRANTS:

- the role lacks it: 403, whatever the location;
- the role has it: the valid request's own status at home, and at the foreign location
  too when the role holds it at every location (``all``); when only at its own (``own``),
  403 at the foreign location, or, for a list, nothing of another location in the page.

A route with no case here is still checked by its rule, with a generic request: 403 for
roles without any of its permissions, neither 401 nor 403 for the others. The SSE stream
and the WebSocket need a real server: they are checked against ``live_server``.
Anonymous requests get 401 everywhere but the public routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from starlette.routing import BaseRoute, WebSocketRoute
from websockets.exceptions import InvalidStatus

from stockline.bootstrap import Container
from stockline.config import Settings
from stockline.domain.security import GRANTS, Permission, Role, Scope
from stockline.entrypoints.http.app import create_app
from stockline.entrypoints.http.permissions import PUBLIC, ROUTES
from tests.conftest import LiveServer
from tests.factories import (
    create_product,
    create_purchase_order,
    create_store,
    create_supplier,
    create_warehouse,
    create_webhook,
    deliveries,
    hold_line,
    insert_api_key,
    line,
    moves,
    random_code,
    receive,
    record_sale,
    reserve,
    send_as,
    ship_transfer,
)

P = Permission
ROLES = tuple(Role)
ANONYMOUS_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs")
STREAM = ("GET", "/v1/events/stream")
SOCKET = ("WEBSOCKET", "/v1/events/ws")
STOCK = 10_000
KEY_RATE = 100_000.0  # requests a second: the matrix is not about rate limits


def openapi_routes(settings: Settings, container: Container) -> set[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document, and the WebSocket routes."""
    app = create_app(settings, container=container)
    found = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
             for method in operations}
    found |= {("WEBSOCKET", path) for path in _socket_paths(app.routes, "")}
    return found


def _socket_paths(routes: Iterable[BaseRoute], prefix: str) -> Iterator[str]:
    """The WebSocket routes, also inside included routers (which FastAPI may keep apart)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _socket_paths(inner.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, WebSocketRoute):
            yield prefix + route.path


# -- the world -----------------------------------------------------------------------------

@dataclass
class World:
    """A home and a foreign store and warehouse, a location nobody's key is limited to,
    one SKU stocked everywhere, and at each of the stores a sale, a hold, a transfer out
    and a purchase order. ``keys[role, kind]``: a key of ``role`` limited to the home
    location of that kind."""

    admin: httpx.AsyncClient
    tag: str
    home: dict[str, str]
    foreign: dict[str, str]
    elsewhere: str
    sku: str
    supplier: str
    keys: dict[tuple[Role, str], str] = field(default_factory=dict)
    sales: dict[str, str] = field(default_factory=dict)
    holds: dict[str, str] = field(default_factory=dict)
    transfers: dict[str, str] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    webhook: str = ""
    delivery: int = 0

    @property
    def hook_url(self) -> str:
        return f"http://127.0.0.1:9/{self.tag}"

    async def ok(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.admin.request(method, url, **kwargs)
        assert response.status_code < 300, response.text
        body: dict[str, Any] = response.json()
        return body

    # Fresh objects, for the writes that change their state.
    async def fresh_hold(self, location_id: str) -> str:
        return str((await reserve(self.admin, location_id, [hold_line(self.sku)],
                                  ttl_seconds=3600))["id"])

    async def fresh_transfer(self, origin: str, destination: str) -> str:
        return str((await ship_transfer(self.admin, origin, destination, (self.sku, 1)))["id"])

    async def fresh_order(self, location_id: str, *, draft: bool) -> str:
        return str((await create_purchase_order(self.admin, self.supplier, location_id,
                                                {self.sku: 2}, draft=draft))["id"])

    async def fresh_webhook(self) -> str:
        return str((await create_webhook(self.admin, self.hook_url, ["sale.recorded"],
                                         location_ids=[self.elsewhere]))["id"])


async def build_world(admin: httpx.AsyncClient, database_url: str) -> World:
    tag = uuid.uuid4().hex[:8]
    sku = (await create_product(admin))["sku"]
    world = World(admin=admin, tag=tag, sku=sku, elsewhere="",
                  home={"store": (await create_store(admin))["code"],
                        "warehouse": (await create_warehouse(admin))["code"]},
                  foreign={"store": (await create_store(admin))["code"],
                           "warehouse": (await create_warehouse(admin))["code"]},
                  supplier=(await create_supplier(admin, products={sku: "4.00"}))["code"])
    world.elsewhere = (await create_warehouse(admin))["code"]
    # Before any stock moves at the home store: its events make the webhook's deliveries.
    world.webhook = str((await create_webhook(admin, world.hook_url, ["*"],
                                              location_ids=[world.home["store"]]))["id"])
    for code in (*world.home.values(), *world.foreign.values(), world.elsewhere):
        await receive(admin, code, sku, STOCK)
    for code in (world.home["store"], world.foreign["store"]):
        world.sales[code] = (await record_sale(admin, code, [line(sku, 50)]))["id"]
        world.holds[code] = await world.fresh_hold(code)
        world.transfers[code] = await world.fresh_transfer(code, world.elsewhere)
        world.orders[code] = await world.fresh_order(code, draft=False)
        await world.ok("PUT", f"/v1/inventory/{code}/{sku}/settings",
                       json={"reorder_point": STOCK * 2})  # every level here is low
    for role in ROLES:
        for kind, code in world.home.items():
            made = await insert_api_key(database_url, role.value, location_ids=[code],
                                        rate_limit=KEY_RATE, name=f"matrix {role.value}")
            world.keys[role, kind] = made.key
    for _ in range(200):  # the relay logs the events, then the webhook's deliveries exist
        found = await deliveries(admin, world.webhook)
        if found:
            world.delivery = int(found[0]["id"])
            break
        await asyncio.sleep(0.05)
    assert world.delivery, "no delivery was queued for the world's webhook"
    return world


async def remove_webhooks(world: World) -> None:
    """The webhooks made here point nowhere: stop their retries."""
    listed = await world.ok("GET", "/v1/webhooks", params={"limit": 500})
    for webhook in listed["items"]:
        if webhook["url"] == world.hook_url:
            await world.admin.delete(f"/v1/webhooks/{webhook['id']}")


@pytest.fixture(scope="module")
async def world(app_client: httpx.AsyncClient, database_url: str) -> AsyncIterator[World]:
    made = await build_world(app_client, database_url)
    try:
        yield made
    finally:
        await remove_webhooks(made)


# -- the cases ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Req:
    method: str
    url: str
    json: Any = None
    params: dict[str, Any] | None = None


Make = Callable[[World, str], Awaitable[Req]]
Locations = Callable[[dict[str, Any]], set[str]]


@dataclass(frozen=True)
class Case:
    """A valid request of a route at a location, and the permission it needs there."""

    name: str
    route: tuple[str, str]
    permission: Permission
    make: Make
    ok: frozenset[int] = frozenset({200})
    located: bool = True  # False: the request names no location (catalog, suppliers, ...)
    kind: str = "store"  # the kind of location the request is aimed at
    items: Locations | None = None  # a list: the locations each of its items belongs to


def case(name: str, method: str, path: str, permission: Permission, *, ok: int = 200,
         located: bool = True, kind: str = "store",
         items: Locations | None = None) -> Callable[[Make], Case]:
    def register(make: Make) -> Case:
        made = Case(name, (method, path), permission, make, frozenset({ok}), located, kind,
                    items)
        CASES.append(made)
        return made
    return register


CASES: list[Case] = []


def at(item: dict[str, Any]) -> set[str]:
    return {item["location_id"]}


def code_of(item: dict[str, Any]) -> set[str]:
    return {item["code"]}


def ends(item: dict[str, Any]) -> set[str]:
    return {item["from_location_id"], item["to_location_id"]}


def _get(url: str, **params: Any) -> Req:
    return Req("GET", url, params=params or None)


# catalog and locations
@case("create a product", "POST", "/v1/products", P.CATALOG_WRITE, ok=201, located=False)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/products", {"sku": random_code("SKU"), "name": "Matrix",
                                        "category": "test"})


@case("list products", "GET", "/v1/products", P.CATALOG_READ, located=False)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/products", limit=5)


@case("one product", "GET", "/v1/products/{sku}", P.CATALOG_READ, located=False)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/products/{w.sku}")


@case("change a product", "PATCH", "/v1/products/{sku}", P.CATALOG_WRITE, located=False)
async def _(w: World, loc: str) -> Req:
    return Req("PATCH", f"/v1/products/{w.sku}", {"name": "Matrix product"})


@case("create a warehouse", "POST", "/v1/warehouses", P.LOCATIONS_WRITE, ok=201,
      located=False)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/warehouses", {"code": random_code("WH"), "name": "Matrix"})


@case("list warehouses", "GET", "/v1/warehouses", P.LOCATIONS_READ, kind="warehouse",
      items=code_of)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/warehouses", limit=500)


@case("one warehouse", "GET", "/v1/warehouses/{code}", P.LOCATIONS_READ, kind="warehouse")
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/warehouses/{loc}")


@case("create a store", "POST", "/v1/retail-locations", P.LOCATIONS_WRITE, ok=201,
      located=False)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/retail-locations", {"code": random_code("ST"), "name": "Matrix"})


@case("list stores", "GET", "/v1/retail-locations", P.LOCATIONS_READ, items=code_of)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/retail-locations", limit=500)


@case("one store", "GET", "/v1/retail-locations/{code}", P.LOCATIONS_READ)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/retail-locations/{loc}")


# inventory and the ledger
@case("list levels", "GET", "/v1/inventory", P.INVENTORY_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/inventory", location_id=loc)


@case("one level", "GET", "/v1/inventory/{location_id}/{sku}", P.INVENTORY_READ)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/inventory/{loc}/{w.sku}")


@case("a receipt", "POST", "/v1/inventory/update", P.INVENTORY_RECEIVE)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/inventory/update", {"location_id": loc, "sku": w.sku, "delta": 1,
                                                "reason": "receipt"})


@case("a count", "POST", "/v1/inventory/update", P.INVENTORY_COUNT)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/inventory/update", {"location_id": loc, "sku": w.sku,
                                                "quantity": STOCK, "reason": "count"})


@case("an adjustment", "POST", "/v1/inventory/update", P.INVENTORY_ADJUST)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/inventory/update", {"location_id": loc, "sku": w.sku,
                                                "delta": -1, "reason": "damage"})


@case("reorder settings", "PUT", "/v1/inventory/{location_id}/{sku}/settings",
      P.INVENTORY_SETTINGS)
async def _(w: World, loc: str) -> Req:
    return Req("PUT", f"/v1/inventory/{loc}/{w.sku}/settings", {"reorder_point": STOCK * 2})


@case("the ledger", "GET", "/v1/stock-movements", P.LEDGER_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/stock-movements", location_id=loc, limit=20)


# sales and returns
@case("record a sale", "POST", "/v1/sales/record", P.SALES_WRITE, ok=201)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/sales/record", {"location_id": loc, "lines": [line(w.sku)]})


@case("list sales", "GET", "/v1/sales", P.SALES_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/sales", location_id=loc, limit=20)


@case("stock cover", "GET", "/v1/reports/stock-cover", P.SALES_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/reports/stock-cover", location_id=loc, limit=20)


@case("one sale", "GET", "/v1/sales/{sale_id}", P.SALES_READ)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/sales/{w.sales[loc]}")


@case("a sale's payment, as it is", "PATCH", "/v1/sales/{sale_id}", P.SALES_WRITE)
async def _(w: World, loc: str) -> Req:
    return Req("PATCH", f"/v1/sales/{w.sales[loc]}", {"payment_status": "paid"})


@case("a return", "POST", "/v1/sales/{sale_id}/returns", P.RETURNS_WRITE, ok=201)
async def _(w: World, loc: str) -> Req:
    return Req("POST", f"/v1/sales/{w.sales[loc]}/returns", {
        "lines": moves((w.sku, 1)), "restock": False, "reason": "defective"})


# reservations
@case("hold stock", "POST", "/v1/reservations", P.RESERVATIONS_WRITE, ok=201)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/reservations", {"location_id": loc, "lines": [hold_line(w.sku)]})


@case("list holds", "GET", "/v1/reservations", P.RESERVATIONS_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/reservations", location_id=loc, limit=20)


@case("one hold", "GET", "/v1/reservations/{reservation_id}", P.RESERVATIONS_READ)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/reservations/{w.holds[loc]}")


@case("commit a hold", "POST", "/v1/reservations/{reservation_id}/commit",
      P.RESERVATIONS_WRITE, ok=201)
async def _(w: World, loc: str) -> Req:
    return Req("POST", f"/v1/reservations/{await w.fresh_hold(loc)}/commit")


@case("release a hold", "POST", "/v1/reservations/{reservation_id}/release",
      P.RESERVATIONS_WRITE)
async def _(w: World, loc: str) -> Req:
    return Req("POST", f"/v1/reservations/{await w.fresh_hold(loc)}/release")


# transfers
@case("ship", "POST", "/v1/stock-movements/transfer", P.TRANSFERS_SHIP, ok=201)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/stock-movements/transfer", {
        "from_location_id": loc, "to_location_id": w.elsewhere, "lines": moves((w.sku, 1))})


@case("list transfers", "GET", "/v1/stock-movements/transfers", P.TRANSFERS_READ,
      items=ends)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/stock-movements/transfers", location_id=loc, limit=20)


@case("one transfer", "GET", "/v1/stock-movements/transfers/{transfer_id}",
      P.TRANSFERS_READ)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/stock-movements/transfers/{w.transfers[loc]}")


@case("receive a transfer", "POST", "/v1/stock-movements/transfers/{transfer_id}/receive",
      P.TRANSFERS_RECEIVE)
async def _(w: World, loc: str) -> Req:
    transfer = await w.fresh_transfer(w.elsewhere, loc)
    return Req("POST", f"/v1/stock-movements/transfers/{transfer}/receive", {})


@case("cancel a transfer", "POST", "/v1/stock-movements/transfers/{transfer_id}/cancel",
      P.TRANSFERS_CANCEL)
async def _(w: World, loc: str) -> Req:
    transfer = await w.fresh_transfer(loc, w.elsewhere)
    return Req("POST", f"/v1/stock-movements/transfers/{transfer}/cancel", {})


# purchasing and replenishment
@case("create a supplier", "POST", "/v1/suppliers", P.SUPPLIERS_WRITE, ok=201,
      located=False)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/suppliers", {"code": random_code("SUP"), "name": "Matrix"})


@case("list suppliers", "GET", "/v1/suppliers", P.SUPPLIERS_READ, located=False)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/suppliers", limit=5)


@case("one supplier", "GET", "/v1/suppliers/{code}", P.SUPPLIERS_READ, located=False)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/suppliers/{w.supplier}")


@case("order", "POST", "/v1/purchase-orders", P.PURCHASING_WRITE, ok=201)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/purchase-orders", {"supplier_id": w.supplier, "location_id": loc,
                                               "lines": [{"sku": w.sku, "quantity": 1}]})


@case("list orders", "GET", "/v1/purchase-orders", P.PURCHASING_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/purchase-orders", location_id=loc, limit=20)


@case("one order", "GET", "/v1/purchase-orders/{order_id}", P.PURCHASING_READ)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/purchase-orders/{w.orders[loc]}")


@case("place a draft", "POST", "/v1/purchase-orders/{order_id}/order", P.PURCHASING_WRITE)
async def _(w: World, loc: str) -> Req:
    return Req("POST", f"/v1/purchase-orders/{await w.fresh_order(loc, draft=True)}/order")


@case("receive an order", "POST", "/v1/purchase-orders/{order_id}/receive",
      P.PURCHASING_RECEIVE)
async def _(w: World, loc: str) -> Req:
    order = await w.fresh_order(loc, draft=False)
    return Req("POST", f"/v1/purchase-orders/{order}/receive", {})


@case("cancel an order", "POST", "/v1/purchase-orders/{order_id}/cancel",
      P.PURCHASING_WRITE)
async def _(w: World, loc: str) -> Req:
    return Req("POST", f"/v1/purchase-orders/{await w.fresh_order(loc, draft=True)}/cancel")


@case("suggestions", "GET", "/v1/replenishment/suggestions", P.REPLENISHMENT_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/replenishment/suggestions", location_id=loc, limit=20)


# events and webhooks
@case("the event log", "GET", "/v1/events", P.EVENTS_READ, items=at)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/events", location_id=loc, after=0, limit=20)


@case("subscribe a webhook", "POST", "/v1/webhooks", P.WEBHOOKS_MANAGE, ok=201,
      located=False)
async def _(w: World, loc: str) -> Req:
    return Req("POST", "/v1/webhooks", {"url": w.hook_url, "event_types": ["sale.recorded"],
                                        "location_ids": [w.elsewhere]})


@case("list webhooks", "GET", "/v1/webhooks", P.WEBHOOKS_MANAGE, located=False)
async def _(w: World, loc: str) -> Req:
    return _get("/v1/webhooks", limit=5)


@case("one webhook", "GET", "/v1/webhooks/{webhook_id}", P.WEBHOOKS_MANAGE, located=False)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/webhooks/{w.webhook}")


@case("delete a webhook", "DELETE", "/v1/webhooks/{webhook_id}", P.WEBHOOKS_MANAGE,
      located=False)
async def _(w: World, loc: str) -> Req:
    return Req("DELETE", f"/v1/webhooks/{await w.fresh_webhook()}")


@case("resume a webhook", "POST", "/v1/webhooks/{webhook_id}/resume", P.WEBHOOKS_MANAGE,
      ok=409, located=False)  # it is not paused: invalid_state, past every access check
async def _(w: World, loc: str) -> Req:
    return Req("POST", f"/v1/webhooks/{w.webhook}/resume")


@case("deliveries", "GET", "/v1/webhooks/{webhook_id}/deliveries", P.WEBHOOKS_MANAGE,
      located=False)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/webhooks/{w.webhook}/deliveries", limit=5)


@case("one delivery", "GET", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
      P.WEBHOOKS_MANAGE, located=False)
async def _(w: World, loc: str) -> Req:
    return _get(f"/v1/webhooks/{w.webhook}/deliveries/{w.delivery}")


@case("redeliver", "POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
      P.WEBHOOKS_MANAGE, ok=202, located=False)
async def _(w: World, loc: str) -> Req:
    return Req("POST", f"/v1/webhooks/{w.webhook}/deliveries/{w.delivery}/redeliver")


@case("metrics", "GET", "/metrics", P.OPERATIONS_READ, located=False)
async def _(w: World, loc: str) -> Req:
    return _get("/metrics")


# -- the expectations -----------------------------------------------------------------------

REFUSED, ALLOWED, OUTSIDE = "refused", "allowed", "outside"


def expectation(role: Role, case: Case, side: str) -> str:
    grant = GRANTS[role].get(case.permission)
    if grant is None:
        return REFUSED
    if side == "home" or not case.located or grant is Scope.ANY:
        return ALLOWED
    return OUTSIDE


def _items(response: httpx.Response) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def judge(role: Role, case: Case, side: str, home: str, response: httpx.Response) -> str | None:
    """What is wrong with this answer, or None."""
    expected, status = expectation(role, case, side), response.status_code
    scoped = GRANTS[role].get(case.permission) is Scope.OWN
    if status >= 500 or status in (401, 429):
        return f"{status}: {response.text[:200]}"
    if expected == REFUSED:
        return None if status == 403 else f"{status} instead of 403"
    if expected == ALLOWED:
        if status not in case.ok:
            return f"{status} instead of {sorted(case.ok)}: {response.text[:300]}"
        if case.items is not None and scoped:
            strays = [i for i in _items(response) if home not in case.items(i)]
            if strays:
                return f"items of other locations: {strays[:2]}"
        return None
    if status == 403:
        return None
    if case.items is not None and status == 200:
        strays = [i for i in _items(response) if home not in case.items(i)]
        return f"items of other locations: {strays[:2]}" if strays else None
    return f"{status} at a foreign location instead of 403: {response.text[:200]}"


async def send(world: World, key: str | None, req: Req) -> httpx.Response:
    return await send_as(world.admin, key, req.method, req.url, json=req.json,
                         params=req.params)


def _fill(path: str, world: World) -> str:
    """A generic request's path: location parameters at home, others a missing id."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("location_id", "code"):
            return world.home["store"]
        return world.sku if name == "sku" else "missing_0000000000"
    return re.sub(r"\{([^}]+)\}", value, path)


def generic(route: tuple[str, str], world: World) -> Req:
    method, path = route
    return Req(method, _fill(path, world), {} if method in ("POST", "PUT", "PATCH") else None)


# -- the tests ------------------------------------------------------------------------------

def test_every_route_has_a_rule(settings: Settings, container: Container) -> None:
    routes = openapi_routes(settings, container)
    assert STREAM in routes and SOCKET in routes
    missing = sorted(r for r in routes if r not in ROUTES)
    assert not missing, f"routes without a rule in permissions.ROUTES: {missing}"
    stale = sorted(c.route for c in CASES if c.route not in routes)
    assert not stale, f"cases of routes that no longer exist: {stale}"
    for c in CASES:
        assert c.permission in ROUTES[c.route], (c.name, c.permission, ROUTES[c.route])


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
async def test_each_role_at_home_and_abroad_gets_what_its_grants_say(
        role: Role, world: World, settings: Settings, container: Container) -> None:
    failures: list[str] = []
    for c in CASES:
        home, foreign = world.home[c.kind], world.foreign[c.kind]
        key = world.keys[role, c.kind]
        for side, loc in (("home", home), ("foreign", foreign))[:2 if c.located else 1]:
            response = await send(world, key, await c.make(world, loc))
            wrong = judge(role, c, side, home, response)
            if wrong:
                failures.append(f"{c.name} ({' '.join(c.route)}) at {side}: {wrong}")
    covered = {c.route for c in CASES} | {STREAM, SOCKET}
    for route in sorted(openapi_routes(settings, container) - covered):
        method, _ = route
        if method == "WEBSOCKET":
            continue
        response = await send(world, world.keys[role, "store"], generic(route, world))
        rule = ROUTES[route]
        if response.status_code >= 500:
            failures.append(f"{route}: {response.status_code}")
        elif rule == PUBLIC or any(GRANTS[role].get(p) for p in rule):
            if response.status_code in (401, 403) and rule != PUBLIC:
                failures.append(f"{route}: {response.status_code} for a permitted role")
            elif response.status_code == 403:
                failures.append(f"{route}: public, yet 403")
        elif response.status_code != 403:
            failures.append(f"{route}: {response.status_code} instead of 403")
    assert not failures, "\n".join(failures)


async def test_anonymous_gets_401_everywhere_but_the_public_routes(
        world: World, settings: Settings, container: Container) -> None:
    failures = []
    by_route = {c.route: c for c in CASES}
    for route in sorted(openapi_routes(settings, container)):
        if route[0] == "WEBSOCKET" or route == STREAM:
            continue  # checked against the live server
        c = by_route.get(route)
        req = await c.make(world, world.home[c.kind]) if c else generic(route, world)
        response = await send(world, None, req)
        if ROUTES[route] == PUBLIC:
            if response.status_code >= 500 or response.status_code == 403:
                failures.append(f"{route}: public, yet {response.status_code}")
        elif response.status_code != 401:
            failures.append(f"{route}: {response.status_code} without a credential")
    for path in ANONYMOUS_PATHS:
        response = await send(world, None, Req("GET", path))
        if response.status_code != 200:
            failures.append(f"GET {path}: {response.status_code} without a credential")
    assert not failures, "\n".join(failures)


# -- streams, against a live server ---------------------------------------------------------

@dataclass
class LiveWorld:
    server: LiveServer
    home: str
    foreign: str
    keys: dict[Role, str]


@pytest.fixture(scope="module")
async def live_world(live_server: LiveServer, server_database_url: str) -> LiveWorld:
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key}) as admin:
        home, foreign = (await create_store(admin))["code"], (await create_store(admin))["code"]
    keys = {role: (await insert_api_key(server_database_url, role.value, location_ids=[home],
                                        rate_limit=KEY_RATE)).key for role in ROLES}
    return LiveWorld(live_server, home, foreign, keys)


def _ws_url(server: LiveServer) -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/events/ws"


@contextlib.asynccontextmanager
async def _stream(server: LiveServer, key: str | None,
                  params: dict[str, Any]) -> AsyncIterator[httpx.Response]:
    headers = {"X-API-Key": key} if key else {}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as client, \
            client.stream("GET", "/v1/events/stream", params=params,
                          headers=headers) as response:
        yield response


async def _first_line(response: httpx.Response) -> str:
    """The first line; leaving the iterator early closes the stream's connection."""
    async for text in response.aiter_lines():
        return text
    return ""


async def _subscribe(server: LiveServer, key: str, locations: list[str]) -> dict[str, Any]:
    async with websockets.connect(_ws_url(server), additional_headers={"X-API-Key": key}) as ws:
        await ws.send(json.dumps({"action": "subscribe", "location_id": locations}))
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return answer


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
async def test_each_role_streams_at_home_and_abroad_as_its_grants_say(
        role: Role, live_world: LiveWorld) -> None:
    """SSE and WebSocket: every role has events:read, at every location or at its own."""
    key, everywhere = live_world.keys[role], GRANTS[role][P.EVENTS_READ] is Scope.ANY
    for loc, allowed in ((live_world.home, True), (live_world.foreign, everywhere)):
        async with _stream(live_world.server, key, {"location_id": loc}) as response:
            if allowed:
                assert response.status_code == 200, (role, loc)
                assert (await _first_line(response)).startswith(": subscribed after")
            else:
                assert response.status_code == 403, (role, loc)
                assert json.loads(await response.aread())["code"] == "forbidden"
        answer = await _subscribe(live_world.server, key, [loc])
        assert answer["type"] == ("subscribed" if allowed else "error"), (role, loc, answer)
        if not allowed:
            assert answer["code"] == "forbidden"


async def test_streams_refuse_anonymous_callers(live_world: LiveWorld) -> None:
    async with _stream(live_world.server, None, {}) as response:
        assert response.status_code == 401
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(_ws_url(live_world.server)):
            pass
    assert refused.value.response.status_code == 401


async def test_a_key_holds_at_most_its_streams_at_once(live_world: LiveWorld,
                                                       settings: Settings) -> None:
    """SSE and WebSocket streams count together, per key; one closed frees a slot."""
    limit, key = settings.max_streams_per_principal, live_world.keys[Role.STORE_STAFF]
    other = live_world.keys[Role.WAREHOUSE_STAFF]
    async with contextlib.AsyncExitStack() as held:
        socket = await held.enter_async_context(websockets.connect(
            _ws_url(live_world.server), additional_headers={"X-API-Key": key}))
        readers = []  # kept open: closing a line iterator early closes its connection
        for _ in range(limit - 1):
            response = await held.enter_async_context(_stream(live_world.server, key, {}))
            assert response.status_code == 200
            readers.append(response.aiter_lines())
            assert (await anext(readers[-1])).startswith(": subscribed")
        async with _stream(live_world.server, key, {}) as response:
            assert response.status_code == 429
            assert response.headers["Retry-After"]
            assert json.loads(await response.aread())["code"] == "rate_limited"
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(_ws_url(live_world.server),
                                          additional_headers={"X-API-Key": key}):
                pass
        assert refused.value.response.status_code == 429
        async with _stream(live_world.server, other, {}) as response:  # another key: its own
            assert response.status_code == 200
        await socket.close()
        for _ in range(100):  # the server notices the close, then frees the slot
            async with _stream(live_world.server, key, {}) as response:
                if response.status_code == 200:
                    break
            await asyncio.sleep(0.05)
        assert response.status_code == 200
