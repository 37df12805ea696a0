"""Staff feedback, count tasks and the accuracy of the stock the system shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from stockline.domain.counting import CountTaskStatus, FeedbackKind, by_location
from stockline.domain.errors import InvalidInput, NotFound
from stockline.domain.security import Permission
from stockline.domain.values import CODE_PATTERN
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.routers.scope import empty_page, require_of, within
from stockline.entrypoints.http.schemas.common import Instant, Page, problems
from stockline.entrypoints.http.schemas.counting import (
    AccuracyOut,
    AccuracyReport,
    CountTaskComplete,
    CountTaskOut,
    FeedbackCreate,
    FeedbackOut,
)
from stockline.entrypoints.operations import COMPLETE_COUNT_TASK, REPORT_FEEDBACK

router = APIRouter(tags=["counts"])
TaskId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")]
CodeQuery = Annotated[str | None, Query(pattern=CODE_PATTERN)]
MAX_SPAN = timedelta(days=366)


@router.post("/v1/feedback", status_code=201, response_model=FeedbackOut,
             responses=problems(404), summary="Report what the shelf or the system shows",
             description="`discrepancy` needs `location_id` and `sku` and opens a count task "
                         "for that level, or joins the level's open task (a level has at "
                         "most one open task); `sync_delay` and `suggestion` may name a level "
                         "or not. An unknown location or SKU is a 404. Needs "
                         "`inventory:count` (at the location named, if any).")
async def report_feedback(body: FeedbackCreate, write: WriterDep) -> Response:
    return await write.perform(REPORT_FEEDBACK, body.to_command(), body=body, status=201)


@router.get("/v1/feedback", dependencies=[REPLICA_READ],
            response_model=Page[FeedbackOut], responses=problems(),
            summary="Feedback, newest first",
            description="`from` is inclusive and `to` exclusive, on `created_at`.")
async def list_feedback(container: ContainerDep, principal: PrincipalDep,
                        kind: FeedbackKind | None = None, location_id: CodeQuery = None,
                        sku: CodeQuery = None,
                        start: Annotated[Instant | None, Query(alias="from")] = None,
                        end: Annotated[Instant | None, Query(alias="to")] = None,
                        limit: Limit = 50, cursor: Cursor = None) -> Page[FeedbackOut]:
    seen = within(principal, Permission.FEEDBACK_READ, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.feedback_list(
        kind=kind.value if kind else None, location_id=location_id, sku=sku, start=start,
        end=end, limit=limit, cursor=cursor, within=seen)
    return Page(items=[FeedbackOut.of(f) for f in page.items], next_cursor=page.next_cursor)


@router.get("/v1/count-tasks", dependencies=[REPLICA_READ],
            response_model=Page[CountTaskOut], responses=problems(),
            summary="Count tasks, newest opened first",
            description="A key limited to some locations sees the tasks of its locations.")
async def list_count_tasks(container: ContainerDep, principal: PrincipalDep,
                           location_id: CodeQuery = None, sku: CodeQuery = None,
                           status: CountTaskStatus | None = None, limit: Limit = 50,
                           cursor: Cursor = None) -> Page[CountTaskOut]:
    seen = within(principal, Permission.INVENTORY_COUNT, location_id)
    if seen is not None and not seen:
        return empty_page()
    page = await container.queries.count_tasks(
        location_id=location_id, sku=sku, status=status.value if status else None,
        limit=limit, cursor=cursor, within=seen)
    return Page(items=[CountTaskOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/v1/count-tasks/{task_id}", response_model=CountTaskOut, responses=problems(404),
            summary="One count task")
async def get_count_task(task_id: TaskId, container: ContainerDep,
                         principal: PrincipalDep) -> CountTaskOut:
    task = await container.queries.count_task(task_id)
    if task is None:
        raise NotFound("count task", task_id)
    require_of(principal, Permission.INVENTORY_COUNT, "count task", task.location_id)
    return CountTaskOut.of(task)


@router.post("/v1/count-tasks/{task_id}/complete", response_model=CountTaskOut,
             responses=problems(404, 409), summary="Record the count and close the task",
             description="The count of the task's level, exactly as `POST "
                         "/v1/inventory/update` with `reason: count` (holds that no longer "
                         "fit are released, newest first), its ledger entry referencing the "
                         "task. The task keeps what the system held and what was counted. "
                         "A task done already is 409 `invalid_state`.")
async def complete_count_task(task_id: TaskId, body: CountTaskComplete,
                              write: WriterDep) -> Response:
    return await write.perform(COMPLETE_COUNT_TASK, body.to_command(task_id), body=body)


@router.get("/v1/reports/accuracy", dependencies=[REPLICA_READ],
            response_model=AccuracyReport, responses=problems(),
            summary="How accurate stock was, by location",
            description="Count tasks done with `from <= completed_at < to` and feedback "
                        "naming a location with `from <= created_at < to`, per location. "
                        "At most 366 days at once. A key limited to some locations gets "
                        "only theirs; `location_id` narrows to one.")
async def get_accuracy_report(
        container: ContainerDep, principal: PrincipalDep,
        start: Annotated[Instant, Query(alias="from")],
        end: Annotated[Instant, Query(alias="to")],
        location_id: CodeQuery = None) -> AccuracyReport:
    if end <= start:
        raise InvalidInput("to", "must be after from")
    if end - start > MAX_SPAN:
        raise InvalidInput("to", "at most 366 days after from")
    seen = within(principal, Permission.LEDGER_READ, location_id)
    if seen is not None and not seen:
        return AccuracyReport(rows=[])
    queries = container.queries
    done = await queries.counted_between(start=start, end=end, location_id=location_id,
                                         within=seen)
    said = await queries.located_feedback_between(start=start, end=end,
                                                  location_id=location_id, within=seen)
    return AccuracyReport(rows=[AccuracyOut.of(place, measured, rated) for place, (
        measured, rated) in by_location(done, said).items()])
