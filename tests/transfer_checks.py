"""What a transfer read back from the API must agree with: its lines, status and ledger."""

from __future__ import annotations

from typing import Any


def check_transfer(transfer: dict[str, Any], sent: dict[str, int],
                   entries: list[dict[str, Any]]) -> None:
    """Its lines are what was shipped, its status fits them, its ledger entries match."""
    assert {ln["sku"]: ln["quantity"] for ln in transfer["lines"]} == sent, transfer
    status = transfer["status"]
    received = sum(ln["received_quantity"] for ln in transfer["lines"])
    cancelled = sum(ln["cancelled_quantity"] for ln in transfer["lines"])
    lost = sum(ln["lost_quantity"] for ln in transfer["lines"])
    in_transit = sum(ln["in_transit"] for ln in transfer["lines"])
    assert {"in_transit": received == cancelled == lost == 0 and in_transit > 0,
            "partially_received": received > 0 and in_transit > 0 and cancelled == lost == 0,
            "received": in_transit == 0 and cancelled == lost == 0,
            "cancelled": in_transit == 0 and lost == 0,
            "closed": in_transit == 0 and (lost == 0 or cancelled == 0)}[status], transfer
    assert (transfer["remainder"] is not None) == (status == "closed"), transfer
    mine = [e for e in entries if e["reference"] == transfer["id"]]
    for ln in transfer["lines"]:
        assert ln["in_transit"] == ln["quantity"] - sum(
            ln[f"{k}_quantity"] for k in ("received", "cancelled", "lost")) >= 0, transfer
        losses = [e for e in mine if e["type"] == "transfer_lost" and e["sku"] == ln["sku"]]
        assert [(e["location_id"], e["delta"], e["note"].split(" ")[0]) for e in losses] == (
            [(transfer["to_location_id"], 0, str(ln["lost_quantity"]))]
            if ln["lost_quantity"] else []), transfer

        def moved(kind: str, location: str, sku: str = ln["sku"]) -> int:
            return sum(e["delta"] for e in mine if e["type"] == kind
                       and e["location_id"] == location and e["sku"] == sku)

        assert moved("transfer_out", transfer["from_location_id"]) == -ln["quantity"], transfer
        assert moved("transfer_in", transfer["to_location_id"]) == ln["received_quantity"]
        assert moved("transfer_cancel", transfer["from_location_id"]) == (
            ln["cancelled_quantity"])
        if ln["lots"]:
            assert sum(x["quantity"] for x in ln["lots"]) == ln["quantity"], transfer
            assert sum(x["received_quantity"] for x in ln["lots"]) == ln["received_quantity"]
            assert sum(x["returned_quantity"] for x in ln["lots"]) == ln["cancelled_quantity"]
