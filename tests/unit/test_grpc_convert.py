"""A JSON document as a protocol buffer message: ``message_from`` fills every answer
message as ``json_format.ParseDict`` does (which it replaces on the hot path), nulls and
unknown fields left out, int64 as a number or as text, timestamps with any offset."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from stockline.domain.model import Sale, SaleLine
from stockline.domain.values import Channel, FulfillmentStatus, Money, PaymentStatus
from stockline.entrypoints.grpc.convert import message_from, message_of
from stockline.entrypoints.grpc.v1 import (
    events_pb2,
    inventory_pb2,
    reservations_pb2,
    sales_pb2,
    transfers_pb2,
)
from stockline.entrypoints.http.schemas.sales import SaleOut

ANSWERS = [sales_pb2.Sale, sales_pb2.RecordSalesResult, inventory_pb2.Level,
           inventory_pb2.ListLevelsRequest, transfers_pb2.TransferResult,
           reservations_pb2.Reservation, events_pb2.Event]


def parsed(document: dict[str, Any], kind: type[Message]) -> Message:
    def present(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: present(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [present(v) for v in value]
        return value
    return json_format.ParseDict(present(document), kind(), ignore_unknown_fields=True)


def filled(kind: type[Message], rng: random.Random, depth: int = 0) -> Message:
    """A message of ``kind`` with every field set to something (nested ones too)."""
    message = kind()
    for field in kind.DESCRIPTOR.fields:
        if field.containing_oneof is not None and rng.random() < 0.5:
            continue
        count = 2 if field.is_repeated else 1
        for _ in range(count):
            value = _value(field, rng, depth)
            if value is None:
                break
            if field.is_repeated and field.message_type is not None:
                getattr(message, field.name).add().CopyFrom(value)
            elif field.is_repeated:
                getattr(message, field.name).append(value)
            elif field.message_type is not None:
                getattr(message, field.name).CopyFrom(value)
            else:
                setattr(message, field.name, value)
    return message


def _value(field: FieldDescriptor, rng: random.Random, depth: int) -> Any:
    sub = field.message_type
    if sub is not None:
        if sub.GetOptions().map_entry or depth > 3:
            return None
        if sub.full_name == "google.protobuf.Timestamp":
            nanos = rng.choice([0, rng.randrange(10**6) * 1000, rng.randrange(10**9)])
            return Timestamp(seconds=rng.randrange(-62135596800, 253402300799), nanos=nanos)
        if sub.full_name == "google.protobuf.Struct":
            return json_format.ParseDict({"n": 1.5, "s": "x"}, message_factory
                                         .GetMessageClass(sub)())
        if sub.full_name.startswith("google.protobuf."):
            return None
        return filled(message_factory.GetMessageClass(sub), rng, depth + 1)
    if field.enum_type is not None:
        return field.enum_type.values[-1].number
    if field.type == FieldDescriptor.TYPE_BYTES:
        return b"\x00\xffbytes"
    return {FieldDescriptor.CPPTYPE_INT32: rng.randrange(-2**31, 2**31),
            FieldDescriptor.CPPTYPE_INT64: rng.randrange(-2**63, 2**63),
            FieldDescriptor.CPPTYPE_UINT32: rng.randrange(2**32),
            FieldDescriptor.CPPTYPE_UINT64: rng.randrange(2**64),
            FieldDescriptor.CPPTYPE_DOUBLE: rng.random() * 1e6,
            FieldDescriptor.CPPTYPE_FLOAT: 0.5,
            FieldDescriptor.CPPTYPE_BOOL: rng.random() < 0.5,
            FieldDescriptor.CPPTYPE_STRING: rng.choice(["", "a", "é ü", "BENCH-L001"]),
            }[field.cpp_type]


@pytest.mark.parametrize("kind", ANSWERS, ids=lambda k: k.DESCRIPTOR.name)
@pytest.mark.parametrize("seed", range(20))
def test_message_from_gives_what_parse_dict_gives(kind: type[Message], seed: int) -> None:
    original = filled(kind, random.Random(seed))
    document = json_format.MessageToDict(original, preserving_proto_field_name=True)
    document["not_a_field"] = {"ignored": [1, None]}
    made = message_from(document, kind)
    assert made == parsed(document, kind) == original


def test_nulls_are_left_out_and_an_optional_empty_string_is_set() -> None:
    document = {"id": "S1", "external_ref": None, "lines": [{"sku": "A", "total": None}],
                "returns": [{"id": "R1"}], "occurred_at": None}
    made = message_from(document, sales_pb2.Sale)
    assert made == parsed(document, sales_pb2.Sale)
    assert not made.HasField("external_ref") and not made.HasField("occurred_at")
    assert not made.lines[0].HasField("total")
    given = message_from({"external_ref": ""}, sales_pb2.Sale)
    assert given.HasField("external_ref") and given.external_ref == ""


@pytest.mark.parametrize("text", ["2026-12-04T14:10:38.123456Z", "2026-12-04T14:10:38Z",
                                  "2026-12-04T16:10:38.5+02:00", "1970-01-01T00:00:00Z",
                                  "2026-12-04T14:10:38.123456789Z"])
def test_timestamps_match_parse_dict(text: str) -> None:
    document = {"created_at": text, "occurred_at": text}
    assert message_from(document, sales_pb2.Sale) == parsed(document, sales_pb2.Sale)


def test_a_timestamp_without_an_offset_is_refused_as_parse_dict_refuses_it() -> None:
    with pytest.raises(json_format.ParseError):
        parsed({"created_at": "2026-12-04T14:10:38"}, sales_pb2.Sale)
    with pytest.raises(ValueError, match="time data"):
        message_from({"created_at": "2026-12-04T14:10:38"}, sales_pb2.Sale)


def test_a_sale_answer_as_rest_renders_it() -> None:
    at = datetime(2026, 12, 4, 14, 10, 38, 123456, tzinfo=UTC)
    sale = Sale(id="S_1", location_id="L1", currency="USD", channel=Channel.POS,
                payment_status=PaymentStatus.PAID, fulfillment_status=FulfillmentStatus.DELIVERED,
                external_ref=None, actor="till",
                occurred_at=at.astimezone(timezone(timedelta(hours=-5))), created_at=at,
                lines=(SaleLine(sku="SKU-1", quantity=2, unit_price=Money.parse("2.50", "USD")),
                       SaleLine(sku="SKU-2", quantity=1,
                                unit_price=Money.parse("10.00", "USD"))))
    out = SaleOut.of(sale)
    document = out.model_dump(mode="json")
    made = message_of(out, sales_pb2.Sale)
    assert made == parsed(document, sales_pb2.Sale)
    assert (made.units, made.total.amount, made.lines[1].line_no) == (3, "15.00", 2)
    assert made.occurred_at.ToDatetime(tzinfo=UTC) == at
