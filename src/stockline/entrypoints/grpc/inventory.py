"""``stockline.v1.Inventory``: levels read and changed as the REST inventory routes do
(the same functions answer both, the same schema validates the change)."""

from __future__ import annotations

from stockline.domain.security import Permission
from stockline.domain.values import LocationType
from stockline.entrypoints.grpc.calls import Call, Service, rpc
from stockline.entrypoints.grpc.convert import code, fields_of, message_of
from stockline.entrypoints.grpc.status import invalid
from stockline.entrypoints.grpc.v1 import inventory_pb2 as pb
from stockline.entrypoints.grpc.v1 import inventory_pb2_grpc
from stockline.entrypoints.grpc.writes import answered, keyed, perform
from stockline.entrypoints.http.permissions import ROUTES
from stockline.entrypoints.http.routers.inventory import get_level, list_inventory
from stockline.entrypoints.http.routers.scope import require_at
from stockline.entrypoints.http.schemas.inventory import InventoryUpdate, LevelDetailOut
from stockline.entrypoints.operations import UPDATE_INVENTORY

MAX_KEYS = 500
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
LOCATION_TYPES = {pb.LOCATION_TYPE_WAREHOUSE: LocationType.WAREHOUSE,
                  pb.LOCATION_TYPE_RETAIL: LocationType.RETAIL}
ONE_LEVEL = ROUTES[("GET", "/v1/inventory/{location_id}/{sku}")]
LEVELS = ROUTES[("GET", "/v1/inventory")]
UPDATE = ROUTES[("POST", "/v1/inventory/update")]


class InventoryService(Service, inventory_pb2_grpc.InventoryServicer):
    NAME = pb.DESCRIPTOR.services_by_name["Inventory"].full_name

    @rpc(ONE_LEVEL)
    async def GetLevel(self, request: pb.GetLevelRequest, call: Call) -> pb.Level:
        location_id = code(request.location_id, "location_id")
        sku = code(request.sku, "sku")
        found = await get_level(location_id, sku, self.container, call.principal,
                                fresh=call.read_after is not None)
        return message_of(found, pb.Level)

    @rpc(ONE_LEVEL)
    async def BatchGetLevels(self, request: pb.BatchGetLevelsRequest,
                             call: Call) -> pb.BatchGetLevelsResponse:
        if not 1 <= len(request.keys) <= MAX_KEYS:
            raise invalid("keys", f"give 1 to {MAX_KEYS} keys")
        keys = [(code(k.location_id, f"keys[{n}].location_id"), code(k.sku, f"keys[{n}].sku"))
                for n, k in enumerate(request.keys)]
        require_at(call.principal, Permission.INVENTORY_READ, *{loc for loc, _ in keys})
        stored = {(lv.location_id, lv.sku): lv
                  for lv in await self.container.queries.levels_by_key(keys)}
        levels = []
        for location_id, sku in keys:
            level = stored.get((location_id, sku))
            if level is None or level.lotted:  # zeros, a 404 or its lots: as GetLevel
                found = await get_level(location_id, sku, self.container, call.principal,
                                        fresh=call.read_after is not None)
            else:
                found = LevelDetailOut.with_lots(level, [])
            levels.append(message_of(found, pb.Level))
        return pb.BatchGetLevelsResponse(levels=levels)

    @rpc(LEVELS)
    async def ListLevels(self, request: pb.ListLevelsRequest,
                         call: Call) -> pb.ListLevelsResponse:
        limit = request.limit or DEFAULT_LIMIT
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid("limit", f"must be 1-{MAX_LIMIT} (0: {DEFAULT_LIMIT})")
        if request.location_type not in (pb.LOCATION_TYPE_UNSPECIFIED, *LOCATION_TYPES):
            raise invalid("location_type", "not a location type")
        if len(request.cursor) > 512:
            raise invalid("cursor", "is not a cursor this list gave out")
        page = await list_inventory(
            self.container, call.principal,
            sku=code(request.sku, "sku") if request.HasField("sku") else None,
            location_id=(code(request.location_id, "location_id")
                         if request.HasField("location_id") else None),
            location_type=LOCATION_TYPES.get(request.location_type),
            below_reorder_point=(request.below_reorder_point
                                 if request.HasField("below_reorder_point") else None),
            as_of=None, limit=limit, cursor=request.cursor or None)
        return pb.ListLevelsResponse(levels=[message_of(x, pb.Level) for x in page.items],
                                     next_cursor=page.next_cursor)

    @rpc(UPDATE, write=True)
    async def UpdateInventory(self, request: pb.UpdateInventoryRequest,
                              call: Call) -> pb.Level:
        key = keyed(request.idempotency_key)
        body = InventoryUpdate.model_validate(fields_of(request, leave_out=UNSENT))
        outcome = await perform(self.container, UPDATE_INVENTORY, body.to_command(), call, key)
        return answered(outcome.answer, pb.Level)


UNSENT = frozenset({"idempotency_key"})
