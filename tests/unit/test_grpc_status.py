"""Refusals over gRPC: every domain error has its status code, none of them UNKNOWN or
INTERNAL, each carries its REST problem code; the credential rules HTTP and gRPC share."""

from __future__ import annotations

import inspect

import grpc
import pytest
from google.rpc import error_details_pb2
from pydantic import BaseModel, ValidationError

from stockline.domain import errors
from stockline.domain.errors import DomainError, InsufficientStock, ShortLine, VersionConflict
from stockline.domain.imports import InvalidRows
from stockline.domain.refusals import CODES
from stockline.entrypoints.access import CredentialRefused, credential_headers, credential_in
from stockline.entrypoints.grpc.calls import peer_address
from stockline.entrypoints.grpc.status import (
    DOMAIN_STATUS,
    Refusal,
    domain_refusal,
    refusal_of,
)
from stockline.entrypoints.grpc.v1 import common_pb2
from stockline.services.executor import StorageUnavailable

S = grpc.StatusCode
DOMAIN_ERRORS = [kind for _, kind in inspect.getmembers(errors, inspect.isclass)
                 if issubclass(kind, DomainError) and kind is not DomainError] + [InvalidRows]


@pytest.mark.parametrize("kind", DOMAIN_ERRORS, ids=lambda k: k.__name__)
def test_every_domain_error_has_a_status_that_is_not_a_server_error(kind: type) -> None:
    assert kind in DOMAIN_STATUS and kind in CODES
    assert DOMAIN_STATUS[kind] not in (S.UNKNOWN, S.INTERNAL, S.OK)


def unpacked(refusal: Refusal, kind: type) -> object:
    for packed in refusal.status().details:
        if packed.Is(kind.DESCRIPTOR):
            found = kind()
            packed.Unpack(found)
            return found
    raise AssertionError(kind)


def test_insufficient_stock_is_failed_precondition_with_its_short_lines() -> None:
    refusal = domain_refusal(InsufficientStock("S1", (ShortLine("A", 5, 2),
                                                      ShortLine("B", 1, 0, lot="L9"))))
    assert refusal.code == S.FAILED_PRECONDITION
    info = unpacked(refusal, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "insufficient_stock" and info.metadata["location_id"] == "S1"
    short = unpacked(refusal, common_pb2.InsufficientStock)
    assert isinstance(short, common_pb2.InsufficientStock)
    assert [(x.sku, x.requested, x.available, x.HasField("lot")) for x in short.lines] == [
        ("A", 5, 2, False), ("B", 1, 0, True)]
    assert refusal.status().code == S.FAILED_PRECONDITION.value[0]


def test_a_version_conflict_is_aborted_with_both_versions() -> None:
    refusal = domain_refusal(VersionConflict("S1", "A", expected=3, actual=4))
    assert refusal.code == S.ABORTED
    conflict = unpacked(refusal, common_pb2.VersionConflict)
    assert isinstance(conflict, common_pb2.VersionConflict)
    assert (conflict.key, conflict.expected_version, conflict.current_version) == (
        "S1/A", 3, 4)


class Shape(BaseModel):
    quantity: int


def test_a_schema_refusal_is_invalid_argument_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Shape.model_validate({"quantity": "many"})
    refusal = refusal_of(caught.value)
    assert refusal.code == S.INVALID_ARGUMENT
    bad = unpacked(refusal, error_details_pb2.BadRequest)
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [v.field for v in bad.field_violations] == ["quantity"]


def test_storage_down_is_unavailable_and_a_bug_internal() -> None:
    assert refusal_of(StorageUnavailable("down")).code == S.UNAVAILABLE
    assert refusal_of(RuntimeError("bug")).code == S.INTERNAL


@pytest.mark.parametrize(("peer", "address"), [
    ("ipv4:127.0.0.1:50000", "127.0.0.1"), ("ipv6:[::1]:50000", "::1"),
    ("unix:/tmp/socket", None)])
def test_the_client_address_of_a_peer(peer: str, address: str | None) -> None:
    assert peer_address(peer) == address


@pytest.mark.parametrize(("pairs", "credential"), [
    ([("x-api-key", "k1")], "k1"),
    ([("authorization", "Bearer t1")], "t1"),
    ([("authorization", "bearer  t2 ")], "t2"),
    ([("x-api-key", "k1"), ("authorization", "Bearer t1")], "k1"),
])
def test_the_credential_of_a_call(pairs: list[tuple[str, str]], credential: str) -> None:
    assert credential_in(credential_headers(pairs)) == credential


@pytest.mark.parametrize(("pairs", "malformed"), [
    ([], False), ([("authorization", "Basic abc")], False), ([("authorization", "Bearer ")],
                                                              False),
    ([("x-api-key", "")], False), ([("x-api-key", "a"), ("x-api-key", "b")], True)])
def test_a_call_without_one_credential_is_refused(pairs: list[tuple[str, str]],
                                                 malformed: bool) -> None:
    with pytest.raises(CredentialRefused) as caught:
        credential_in(credential_headers(pairs))
    assert caught.value.malformed is malformed
