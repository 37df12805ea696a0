"""``stockline keys``: create (the key printed once), list, revoke, on a fresh database."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from stockline.adapters.credentials import hash_secret, split_api_key
from stockline.adapters.database import open_database
from stockline.adapters.tables import api_keys
from tests.factories import run_cli

KEY = re.compile(r"sk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
ID = re.compile(r"key_[0-9A-Z]{26}")


def run(url: str, *args: str) -> tuple[int, str, str]:
    return run_cli(url, "keys", *args)


def stored(url: str) -> list[dict[str, object]]:
    """The rows of api_keys. (The tests are not async: the command runs its own loop.)"""
    async def read() -> list[dict[str, object]]:
        database = open_database(url)
        try:
            async with database.read.connect() as conn:
                rows = (await conn.execute(select(api_keys))).all()
                return [dict(r._mapping) for r in rows]
        finally:
            await database.dispose()
    return asyncio.run(read())


def test_create_prints_the_key_once_and_stores_its_hash(url: str) -> None:
    expires = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    code, out, err = run(url, "create", "--name", "ERP sync", "--role", "manager",
                         "--expires-at", expires.isoformat())
    assert code == 0, out + err
    (key,) = KEY.findall(out)
    (key_id,) = set(ID.findall(out))
    assert "shown this once" in out.lower()
    (row,) = stored(url)
    prefix, secret = split_api_key(key) or ("", "")
    assert (row["id"], row["prefix"], row["name"], row["role"]) == (
        key_id, prefix, "ERP sync", "manager")
    assert row["secret_hash"] == hash_secret(secret)
    assert row["created_by"] == "cli" and row["expires_at"] == expires
    assert secret not in str(row)

    code, listed, err = run(url, "list")
    assert code == 0, listed + err
    assert key_id in listed and prefix in listed and "ERP sync" in listed
    assert secret not in listed and hash_secret(secret) not in listed


def test_a_scoped_key_needs_existing_locations(url: str) -> None:
    code, out, err = run(url, "create", "--name", "till", "--role", "store_staff",
                         "--location", "S-1", "--location", "S-2")
    assert code == 1
    assert "location 'S-1' does not exist" in err
    assert KEY.search(out + err) is None
    assert stored(url) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "x", "--role", "root"], "root"),
    (["--name", "x", "--role", "partner", "--expires-at", "2020-01-01T00:00:00Z"],
     "future"),
    (["--name", "x", "--role", "partner", "--expires-at", "tomorrow"], "offset"),
    (["--name", "", "--role", "partner"], "name"),
])
def test_bad_keys_are_refused(url: str, args: list[str], message: str) -> None:
    code, out, err = run(url, "create", *args)
    assert code != 0 and message in out + err, out + err
    assert KEY.search(out + err) is None
    assert stored(url) == []


def test_revoke_and_list_by_state(url: str) -> None:
    ids = []
    for name in ("first", "second"):
        code, out, err = run(url, "create", "--name", name, "--role", "partner")
        assert code == 0, out + err
        ids.append(ID.findall(out)[0])
    code, out, err = run(url, "revoke", ids[0])
    assert code == 0 and "revoked" in out, out + err
    (row,) = [r for r in stored(url) if r["id"] == ids[0]]
    assert row["revoked_at"] is not None
    code, again, err = run(url, "revoke", ids[0])  # idempotent: the first time stands
    assert code == 0, again + err
    (after,) = [r for r in stored(url) if r["id"] == ids[0]]
    assert after["revoked_at"] == row["revoked_at"]

    _, revoked, _ = run(url, "list", "--revoked")
    _, live, _ = run(url, "list", "--not-revoked")
    _, every, _ = run(url, "list")
    assert ids[0] in revoked and ids[1] not in revoked
    assert ids[1] in live and ids[0] not in live
    assert ids[0] in every and ids[1] in every and "revoked" in every
    _, managers, _ = run(url, "list", "--role", "manager")
    assert ids[0] not in managers and ids[1] not in managers

    code, out, err = run(url, "revoke", "key_UNKNOWN")
    assert code == 1 and "does not exist" in err


def test_a_database_that_cannot_be_reached_is_a_clear_error() -> None:
    code, out, err = run("postgresql://nobody@127.0.0.1:1/none", "list")
    assert code == 1 and "cannot use the database" in err, out + err
