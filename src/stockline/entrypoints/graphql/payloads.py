"""What every mutation shares: its write handed to the one write service (services.writes)
under the caller's ``idempotencyKey``, and its answer rendered as a payload.

The payload's object is rendered from the answer's document (the REST answer, as an
idempotency record keeps it) and a refusal from its stored code and data, so a replay of
a key, whichever protocol used it first, answers what the first write answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from pydantic import BaseModel, ValidationError

from stockline.domain.errors import DomainError, Forbidden, InvalidInput
from stockline.domain.security import Principal
from stockline.entrypoints.access import rule_refusal
from stockline.entrypoints.graphql.context import Context, Info
from stockline.entrypoints.graphql.stock import mark_lotted, rendered
from stockline.entrypoints.http.auth import caller_of
from stockline.entrypoints.http.deps import IDEMPOTENCY_KEY
from stockline.entrypoints.http.errors import VALIDATION_ERROR, validation_errors
from stockline.entrypoints.http.permissions import rule_for
from stockline.services.answers import refusal
from stockline.services.ports import StoredAnswer
from stockline.services.writes import Operation

C = TypeVar("C")
R = TypeVar("R")
N = TypeVar("N")


@strawberry.type(description="Why a mutation changed nothing: `code` is the REST problem "
                             "code (`insufficient_stock`, `validation_error`, ...)")
class UserError:
    code: str
    field: str | None
    message: str


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(word.capitalize() for word in rest)


def answer_errors(code: str, document: bytes) -> list[UserError]:
    """A refusal kept in no protocol's terms (services.answers), one entry per line or
    field it names: the short lines of an ``insufficient_stock``."""
    kept: dict[str, Any] = orjson.loads(document)
    if code == "insufficient_stock" and "lines" in kept:
        return [UserError(code=code, field="lines",
                          message=f"{s['sku']}: requested {s['requested']}, "
                                  f"available {s['available']}") for s in kept["lines"]]
    if code == VALIDATION_ERROR.code and "errors" in kept:
        return [_field_error(code, e) for e in kept["errors"]]
    return [UserError(code=code, field=None, message=str(kept.get("detail", "")))]


def _field_error(code: str, error: dict[str, Any]) -> UserError:
    """A field refused: a body's field as the input names it; a file's (an import) as its
    header names it, on its line."""
    if error.get("line") is not None:
        return UserError(code=code, field=error["field"],
                         message=f"line {error['line']}: {error['message']}")
    return UserError(code=code, field=_camel(error["field"]), message=error["message"])


def user_errors(error: DomainError) -> list[UserError]:
    answer = refusal(error)
    return answer_errors(answer.outcome, answer.body)


def _input_field(field: str) -> str:
    """A field of the body as the mutation's input names it (the body itself: ``input``)."""
    return "input" if field == "body" else ".".join(_camel(p) for p in field.split("."))


def invalid(exc: ValidationError) -> list[UserError]:
    return [UserError(code=VALIDATION_ERROR.code, field=_input_field(e["field"]),
                      message=e["message"]) for e in validation_errors(exc.errors())]


def shown(kind: type[N], model: type[BaseModel]) -> Callable[[bytes], N]:
    """The node of ``kind`` that shows a result's document (``model`` its REST answer)."""
    def node(document: bytes) -> N:
        return rendered(kind, model.model_validate_json(document))
    return node


def shown_level(kind: type[N], model: type[BaseModel]) -> Callable[[bytes], N]:
    """As ``shown``, for a level: its ``lots`` read as the loader finds them."""
    def node(document: bytes) -> N:
        return mark_lotted(rendered(kind, model.model_validate_json(document)))
    return node


def checked_key(key: str | None) -> str | None:
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput("idempotency_key", "must be 1-255 printable ASCII characters, "
                                              "no spaces")
    return key


@dataclass(frozen=True, slots=True)
class Around(Generic[C, R]):
    """What a REST route does around its write, done the same around the mutation's.

    ``check``: after the command is made, before the write (a webhook's destination);
    ``identity``: what identifies the request when its command holds what the server made
    for it (a new key's secret); ``applied``: once a write is applied (the metrics of a
    sale, a revoked key forgotten by this node's cache)."""

    check: Callable[[C], Awaitable[None]] | None = None
    identity: Callable[[C], bytes] | None = None
    applied: Callable[[Context, R], None] | None = None


def require_route(info: Info, route: tuple[str, str]) -> Principal:
    """The caller, if its role may call the REST route (``permissions.ROUTES``, refused
    as the HTTP layer refuses it: by ``rule_refusal``, and a route without a rule to
    everyone); else Forbidden."""
    principal = info.context.principal
    rule = rule_for(*route)
    refused = (f"no access rule covers {route[0]} {route[1]}" if rule is None
               else rule_refusal(principal, rule))
    if refused is not None:
        raise Forbidden(refused)
    return principal


async def perform(info: Info, route: tuple[str, str], operation: Operation[C, R],
                  command: Callable[[], C], render: Callable[[bytes], N],
                  key: str | None, around: Around[C, R] | None = None
                  ) -> tuple[N | None, list[UserError]]:
    """Run the route's operation for the caller under ``key``: its node, or why nothing
    changed (a replay's as first answered)."""
    around = around or Around()
    try:
        caller = caller_of(require_route(info, route))
        made = command()
        if around.check is not None:
            await around.check(made)
        outcome = await info.context.container.writes.execute(
            operation, made, caller, key=checked_key(key),
            request=around.identity(made) if around.identity is not None else None)
    except ValidationError as exc:
        return None, invalid(exc)
    except DomainError as error:
        return None, user_errors(error)
    if around.applied is not None and outcome.result is not None:
        around.applied(info.context, outcome.result)
    return rendered_answer(outcome.answer, render)


def rendered_answer(answer: StoredAnswer, render: Callable[[bytes], N]
                    ) -> tuple[N | None, list[UserError]]:
    if not answer.ok:
        return None, answer_errors(answer.outcome, answer.body)
    return render(answer.body), []
