"""Staff feedback and count tasks: a discrepancy opens a task for its level (one open task a
level), completing it counts the level through the ledger, and the accuracy report adds up
what the counts found (both backends)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.test_reconcile import reconcile
from tests.factories import (
    assert_ledger_identity,
    assert_problem,
    collect,
    create_product,
    create_store,
    error_fields,
    hold_line,
    insert_api_key,
    ledger,
    random_sku,
    receive,
    reserve,
    send_as,
    stocked,
    wait_for_log,
)


async def report(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    answer = await client.post("/v1/feedback", json={"kind": "discrepancy", **body})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def complete(client: httpx.AsyncClient, task_id: str, quantity: int,
                   **body: Any) -> dict[str, Any]:
    answer = await client.post(f"/v1/count-tasks/{task_id}/complete",
                               json={"quantity": quantity, **body})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def tasks(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return await collect(client, "/v1/count-tasks", params)


def period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=1)).isoformat(),
            "to": (today + timedelta(days=2)).isoformat()}


async def test_a_discrepancy_opens_a_task_whose_count_goes_through_the_ledger(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    said = await report(client, location_id=store, sku=sku, observed_quantity=7, rating=2,
                        note="shelf shows 7")
    assert (said["kind"], said["observed_quantity"], said["rating"]) == ("discrepancy", 7, 2)
    (task,) = await tasks(client, location_id=store, sku=sku, status="open")
    assert task["id"] == said["count_task_id"]
    assert (task["reason"], task["reference"], task["reports"]) == ("discrepancy", said["id"], 1)
    assert task["system_quantity"] is None and task["completed_at"] is None

    done = await complete(client, task["id"], 7, note="counted twice")
    assert (done["status"], done["system_quantity"], done["counted_quantity"],
            done["difference"]) == ("done", 10, 7, -3)
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 7
    last = (await ledger(client, store, sku))[-1]
    assert (last["type"], last["delta"], last["reference"], last["note"]) == (
        "count", -3, task["id"], "counted twice")
    assert await tasks(client, location_id=store, status="open") == []
    assert [t["id"] for t in await tasks(client, location_id=store, status="done")] == [
        task["id"]]
    assert (await client.get(f"/v1/count-tasks/{task['id']}")).json() == done
    assert (await reconcile(client, store))["drift"] == []
    logged = await wait_for_log(client, 3, location_id=store, types=(
        "count_task.opened,count_task.completed,feedback.received"))
    assert [e["type"] for e in logged] == ["count_task.opened", "feedback.received",
                                           "count_task.completed"]
    assert logged[2]["data"]["difference"] == -3


async def test_a_second_discrepancy_joins_the_open_task_of_its_level(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=4)
    first = await report(client, location_id=store, sku=sku)
    second = await report(client, location_id=store, sku=sku, observed_quantity=3)
    assert first["count_task_id"] == second["count_task_id"]
    (task,) = await tasks(client, location_id=store, sku=sku)
    assert (task["reports"], task["reference"]) == (2, first["id"])
    await complete(client, task["id"], 4)  # matched: nothing moves
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 4
    third = await report(client, location_id=store, sku=sku)
    assert third["count_task_id"] not in (None, task["id"])
    assert len(await tasks(client, location_id=store, sku=sku)) == 2


async def test_concurrent_reports_of_one_level_open_one_task(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    answers = await asyncio.gather(*(client.post("/v1/feedback", json={
        "kind": "discrepancy", "location_id": store, "sku": sku}) for _ in range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["count_task_id"] for a in answers}) == 1
    (task,) = await tasks(client, location_id=store, sku=sku)
    assert task["reports"] == 8


async def test_a_done_task_cannot_be_completed_again(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=5)
    task_id = (await report(client, location_id=store, sku=sku))["count_task_id"]
    await complete(client, task_id, 6)
    again = await client.post(f"/v1/count-tasks/{task_id}/complete", json={"quantity": 2})
    assert_problem(again, 409, "invalid_state")
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == 6
    missing = await client.post("/v1/count-tasks/ct_NOPE/complete", json={"quantity": 1})
    assert_problem(missing, 404, "not_found")
    assert_problem(await client.get("/v1/count-tasks/ct_NOPE"), 404, "not_found")


async def test_completing_a_task_releases_the_holds_the_count_leaves_no_room_for(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    older = await reserve(client, store, [hold_line(sku, 3)])
    newer = await reserve(client, store, [hold_line(sku, 5)])
    task_id = (await report(client, location_id=store, sku=sku))["count_task_id"]
    done = await complete(client, task_id, 4)
    assert (done["system_quantity"], done["counted_quantity"]) == (10, 4)
    current = await assert_ledger_identity(client, store, sku)
    assert (current["on_hand"], current["reserved"]) == (4, 3)
    held = {r["id"]: (await client.get(f"/v1/reservations/{r['id']}")).json()["status"]
            for r in (older, newer)}
    assert held == {older["id"]: "active", newer["id"]: "released"}
    assert (await reconcile(client, store))["drift"] == []


async def test_bad_feedback_is_refused_and_changes_nothing(client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=2)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"kind": "discrepancy", "location_id": store}, 422, "validation_error"),
        ({"kind": "discrepancy", "sku": sku}, 422, "validation_error"),
        ({"kind": "discrepancy", "location_id": store, "sku": sku, "rating": 6}, 422,
         "validation_error"),
        ({"kind": "suggestion", "rating": 0}, 422, "validation_error"),
        ({"kind": "discrepancy", "location_id": store, "sku": sku, "observed_quantity": -1},
         422, "validation_error"),
        ({"kind": "praise"}, 422, "validation_error"),
        ({"kind": "suggestion", "actor": "me"}, 422, "validation_error"),
        ({"kind": "discrepancy", "location_id": store, "sku": random_sku()}, 404,
         "not_found"),
        ({"kind": "discrepancy", "location_id": "NO-SUCH-STORE", "sku": sku}, 404,
         "not_found"),
        ({"kind": "sync_delay", "sku": random_sku()}, 404, "not_found"),
    ]
    for body, status, code in cases:
        assert_problem(await client.post("/v1/feedback", json=body), status, code)
    fields = error_fields(assert_problem(await client.post("/v1/feedback", json={
        "kind": "discrepancy", "location_id": store}), 422, "validation_error"))
    assert any(f.endswith("sku") for f in fields), fields
    assert await tasks(client, location_id=store) == []
    assert await collect(client, "/v1/feedback", {"location_id": store}) == []


async def test_sync_delays_and_suggestions_need_no_level(client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    delay = await report(client, kind="sync_delay", location_id=store, rating=3,
                         note="sale showed after a minute")
    idea = await report(client, kind="suggestion", rating=5, note="scan to count")
    assert delay["count_task_id"] is None and idea["count_task_id"] is None
    assert idea["location_id"] is None
    listed = await collect(client, "/v1/feedback", {"location_id": store})
    assert [f["id"] for f in listed] == [delay["id"]]
    kinds = await collect(client, "/v1/feedback", {"kind": "suggestion", **period()})
    assert idea["id"] in {f["id"] for f in kinds}
    assert await tasks(client, location_id=store) == []


async def test_feedback_and_completion_replay_under_an_idempotency_key(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=6)
    body = {"kind": "discrepancy", "location_id": store, "sku": sku, "observed_quantity": 5}
    headers = {"Idempotency-Key": f"fb-{random_sku()}"}
    first = await client.post("/v1/feedback", json=body, headers=headers)
    again = await client.post("/v1/feedback", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(await collect(client, "/v1/feedback", {"location_id": store})) == 1
    other = await client.post("/v1/feedback", json={**body, "observed_quantity": 4},
                              headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")

    task_id = first.json()["count_task_id"]
    key = {"Idempotency-Key": f"ct-{random_sku()}"}
    url = f"/v1/count-tasks/{task_id}/complete"
    done = await client.post(url, json={"quantity": 5}, headers=key)
    replay = await client.post(url, json={"quantity": 5}, headers=key)
    assert done.status_code == replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == done.json()
    counts = [e for e in await ledger(client, store, sku) if e["type"] == "count"]
    assert [e["delta"] for e in counts] == [-1]


async def test_a_store_key_reports_and_counts_at_its_stores_only(
        client: httpx.AsyncClient, database_url: str) -> None:
    mine, (sku,) = await stocked(client, quantity=5)
    theirs = (await create_store(client))["code"]
    await receive(client, theirs, sku, 5)
    staff = await insert_api_key(database_url, "store_staff", location_ids=[mine])
    partner = await insert_api_key(database_url, "partner")
    body = {"kind": "discrepancy", "sku": sku}

    ok = await send_as(client, staff.key, "POST", "/v1/feedback",
                       json={**body, "location_id": mine})
    assert ok.status_code == 201, ok.text
    refused = await send_as(client, staff.key, "POST", "/v1/feedback",
                            json={**body, "location_id": theirs})
    assert_problem(refused, 403, "forbidden")
    assert_problem(await send_as(client, partner.key, "POST", "/v1/feedback",
                                 json={**body, "location_id": mine}), 403, "forbidden")
    elsewhere = await report(client, location_id=theirs, sku=sku)

    seen = (await send_as(client, staff.key, "GET", "/v1/count-tasks")).json()["items"]
    assert {t["location_id"] for t in seen} == {mine}
    assert_problem(await send_as(client, staff.key, "GET", "/v1/count-tasks",
                                 params={"location_id": theirs}), 403, "forbidden")
    assert_problem(await send_as(client, staff.key, "GET",
                                 f"/v1/count-tasks/{elsewhere['count_task_id']}"),
                   403, "forbidden")
    assert_problem(await send_as(
        client, staff.key, "POST", f"/v1/count-tasks/{elsewhere['count_task_id']}/complete",
        json={"quantity": 1}), 403, "forbidden")
    assert (await assert_ledger_identity(client, theirs, sku))["on_hand"] == 5
    done = await send_as(client, staff.key, "POST",
                         f"/v1/count-tasks/{ok.json()['count_task_id']}/complete",
                         json={"quantity": 4})
    assert done.status_code == 200, done.text
    assert_problem(await send_as(client, staff.key, "GET", "/v1/feedback"), 403, "forbidden")

    rows = (await send_as(client, staff.key, "GET", "/v1/reports/accuracy",
                          params=period())).json()["rows"]
    assert [r["location_id"] for r in rows] == [mine]
    assert_problem(await send_as(client, staff.key, "GET", "/v1/reports/accuracy",
                                 params={**period(), "location_id": theirs}), 403, "forbidden")


async def test_the_accuracy_report_adds_up_the_counts_of_a_location(
        client: httpx.AsyncClient) -> None:
    store = (await create_store(client))["code"]
    exact, short, over = [(await create_product(client))["sku"] for _ in range(3)]
    for sku, units in ((exact, 10), (short, 10), (over, 5)):
        await receive(client, store, sku, units)

    async def counted(sku: str, quantity: int, rating: int | None = None) -> None:
        rated = {"rating": rating} if rating is not None else {}
        said = await report(client, location_id=store, sku=sku, **rated)
        await complete(client, said["count_task_id"], quantity)

    await counted(exact, 10, rating=4)  # matched
    await counted(short, 7, rating=2)  # 3 lost
    await counted(over, 9)  # 4 found
    await counted(short, 5, rating=3)  # 2 lost, short is wrong twice
    await report(client, kind="sync_delay", location_id=store, rating=1)

    answer = await client.get("/v1/reports/accuracy", params={**period(), "location_id": store})
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["rows"]
    assert row["location_id"] == store
    assert (row["counts_done"], row["matched_share"], row["mean_absolute_error"]) == (
        4, 0.25, 2.25)
    assert (row["units_found"], row["units_lost"]) == (4, 5)
    assert 0 <= row["median_hours_to_count"] < 0.1
    assert row["most_often_wrong"] == [{"sku": short, "mismatches": 2},
                                       {"sku": over, "mismatches": 1}]
    assert row["feedback"] == [
        {"kind": "discrepancy", "count": 4, "mean_rating": 3},
        {"kind": "sync_delay", "count": 1, "mean_rating": 1}]
    yesterday = {"from": period()["from"],
                 "to": (datetime.now(UTC) - timedelta(days=1)).date().isoformat()}
    assert_problem(await client.get("/v1/reports/accuracy", params=yesterday), 422,
                   "validation_error")
    before = {"from": "2020-01-01", "to": "2020-02-01", "location_id": store}
    assert (await client.get("/v1/reports/accuracy", params=before)).json() == {"rows": []}
    assert (await reconcile(client, store))["drift"] == []


async def test_two_completions_of_one_task_at_once_count_once(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=9)
    task_id = (await report(client, location_id=store, sku=sku))["count_task_id"]
    answers = await asyncio.gather(*(client.post(
        f"/v1/count-tasks/{task_id}/complete", json={"quantity": q}) for q in (4, 6)))
    assert sorted(a.status_code for a in answers) == [200, 409]
    (won,) = [a.json() for a in answers if a.status_code == 200]
    assert (await assert_ledger_identity(client, store, sku))["on_hand"] == won[
        "counted_quantity"]
    assert [e["type"] for e in await ledger(client, store, sku)] == ["receipt", "count"]
    assert (await reconcile(client, store))["drift"] == []
