"""Between protocol buffers and the REST schemas: a request's fields as the dict the REST
body model validates (so both protocols take and refuse the same input, by the same
rules), and a JSON document (a REST answer, a write's stored answer) as the message of the
same field names.

``message_from`` fills a message as ``json_format.ParseDict`` would (unknown fields and
nulls left out), from a plan made once per message type instead of reflection on every
field of every answer (a sale's answer: under 20 us where ParseDict took 80 or more, see
bench/README.md). A field the plan does not know how to fill (an enum, bytes, a map, a
well-known type other than Timestamp) is left to ParseDict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel

from stockline.domain.values import is_code
from stockline.entrypoints.grpc.status import invalid

M = TypeVar("M", bound=Message)
TIMESTAMP = "google.protobuf.Timestamp"
Fill = Callable[[Any], Any]
_UNKNOWN = object()
_PLANS: dict[str, _Plan] = {}


def fields_of(message: Message, *, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields the sender set (an ``optional`` field set to its zero counts), with
    integers as integers (JSON would make an int64 a string) and timestamps as ISO text."""
    found: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.name in leave_out:
            continue
        repeated = field.is_repeated
        if field.message_type is None:
            found[field.name] = list(value) if repeated else value
        elif field.message_type.full_name == TIMESTAMP:
            found[field.name] = value.ToDatetime(tzinfo=UTC).isoformat()
        elif repeated:
            found[field.name] = [fields_of(item) for item in value]
        else:
            found[field.name] = fields_of(value)
    return found


def message_of(model: BaseModel, kind: type[M]) -> M:
    """A ``kind`` message from a REST answer model (fields it does not have are left out)."""
    return message_from(model.model_dump(mode="json", exclude_none=True), kind)


def message_from(document: Mapping[str, Any], kind: type[M]) -> M:
    """A ``kind`` message from a JSON object, as ``json_format.ParseDict`` with
    ``ignore_unknown_fields`` fills it: fields it does not have and nulls are left out."""
    given, rest = _arguments(document, _plan(kind.DESCRIPTOR))
    message: M = kind(**given)
    if rest:
        json_format.ParseDict(_present(rest), message, ignore_unknown_fields=True)
    return message


class _Plan(dict[str, "Fill | None"]):
    """How to fill each field of a message type, by its name and its JSON name (None: by
    ParseDict); ``plain``: every field, nested ones too, is filled without ParseDict, so a
    message of this type can be given to its parent's constructor as its arguments."""

    plain = True


def _arguments(document: Mapping[str, Any], plan: _Plan) -> tuple[dict[str, Any],
                                                                   dict[str, Any]]:
    """The constructor's arguments for ``document``, and what is left to ParseDict."""
    given: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for name, value in document.items():
        fill = plan.get(name, _UNKNOWN)
        if value is None or fill is _UNKNOWN:
            continue
        if fill is None:
            rest[name] = value
        else:
            given[name] = fill(value)  # type: ignore[operator]
    return given, rest


def _plan(descriptor: Descriptor) -> _Plan:
    plan = _PLANS.get(descriptor.full_name)
    if plan is None:
        plan = _PLANS[descriptor.full_name] = _Plan()  # a type that holds itself: not plain
        plan.plain = False
        for field in descriptor.fields:
            plan[field.name] = plan[field.json_name] = _fill_of(field)
        plan.plain = all(fill is not None and getattr(fill, "plain", True)
                         for fill in plan.values())
    return plan


def _fill_of(field: FieldDescriptor) -> Fill | None:
    one = _fill_one(field)
    if one is None or not field.is_repeated:
        return one
    many: Any = lambda values: [one(v) for v in values]  # noqa: E731
    many.plain = getattr(one, "plain", True)
    return many  # type: ignore[no-any-return]


def _fill_one(field: FieldDescriptor) -> Fill | None:
    sub = field.message_type
    if sub is None:
        return None if field.type == FieldDescriptor.TYPE_BYTES else _SCALARS.get(field.cpp_type)
    if sub.GetOptions().map_entry:
        return None
    if sub.full_name == TIMESTAMP:
        return _timestamp
    if sub.full_name.startswith("google.protobuf."):
        return None
    plan = _plan(sub)
    if plan.plain:
        return lambda value: _arguments(value, plan)[0]
    kind = message_factory.GetMessageClass(sub)
    nested: Any = lambda value: message_from(value, kind)  # noqa: E731
    nested.plain = False
    return nested  # type: ignore[no-any-return]


def _integer(value: Any) -> int:
    return value if type(value) is int else int(value)


_SCALARS: dict[int, Fill] = {
    FieldDescriptor.CPPTYPE_INT32: _integer, FieldDescriptor.CPPTYPE_INT64: _integer,
    FieldDescriptor.CPPTYPE_UINT32: _integer, FieldDescriptor.CPPTYPE_UINT64: _integer,
    FieldDescriptor.CPPTYPE_DOUBLE: float, FieldDescriptor.CPPTYPE_FLOAT: float,
    FieldDescriptor.CPPTYPE_BOOL: lambda value: value,
    FieldDescriptor.CPPTYPE_STRING: lambda value: value,
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp(value: Any) -> Any:
    """An RFC 3339 instant with its offset, as ParseDict reads it: ``datetime`` reads the
    usual text (microseconds at most, an offset); anything else is ParseDict's to read or
    refuse (nanoseconds, no offset)."""
    moment = _instant(value) if isinstance(value, str) else None
    if moment is None:
        stamp = Timestamp()
        stamp.FromJsonString(value)
        return stamp
    since = moment - EPOCH
    return {"seconds": since.days * 86_400 + since.seconds, "nanos": since.microseconds * 1000}


def _instant(text: str) -> datetime | None:
    fraction = text[20:].partition("+")[0].partition("-")[0].rstrip("Z")
    if len(fraction) > 6 or len(text) < 20 or text[10] != "T" or text[19] not in ".Z+-":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _present(document: Any) -> Any:
    """A JSON document without its nulls (a message leaves an unset field out)."""
    if isinstance(document, dict):
        return {k: _present(v) for k, v in document.items() if v is not None}
    if isinstance(document, list):
        return [_present(v) for v in document]
    return document


def code(value: str, field: str) -> str:
    """A location or SKU code (1-64 of ``A-Z a-z 0-9 - _ .``); INVALID_ARGUMENT otherwise."""
    if not is_code(value):
        raise invalid(field, "must be a code: 1-64 characters of A-Z a-z 0-9 - _ .")
    return value
