"""Opening hours in the shape the API answers: the demo once stored a numeric UTC offset and
day ranges ('mon-fri'), which made listing those locations fail.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 07:05:00.000000
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KEY = re.compile(r"^[a-z_]{2,16}$")


def repaired(hours: dict[str, Any]) -> dict[str, str]:
    """Day ranges spelled out, values as text; anything else left as it was."""
    fixed: dict[str, str] = {}
    for key, value in hours.items():
        if key == "utc_offset" and isinstance(value, int | float):
            text = f"{int(value):+03d}:00"
        else:
            text = value if isinstance(value, str) else json.dumps(value)
        first, _, last = key.partition("-")
        if last and first in DAYS and last in DAYS and DAYS.index(first) <= DAYS.index(last):
            for day in DAYS[DAYS.index(first):DAYS.index(last) + 1]:
                fixed[day] = text
        elif KEY.fullmatch(key):
            fixed[key] = text
        else:
            fixed[key.replace("-", "_")[:16]] = text
    return fixed


def upgrade() -> None:
    bind = op.get_bind()
    locations = sa.table("locations", sa.column("code", sa.String),
                         sa.column("operating_hours", JSON))
    rows = bind.execute(sa.select(locations.c.code, locations.c.operating_hours)
                        .where(locations.c.operating_hours.is_not(None))).all()
    for code, hours in rows:
        if isinstance(hours, str):
            hours = json.loads(hours)
        if isinstance(hours, dict):
            fixed = repaired(hours)
            if fixed != hours:
                bind.execute(locations.update().where(locations.c.code == code)
                             .values(operating_hours=fixed))


def downgrade() -> None:
    """Nothing to undo: the repaired hours say the same in the API's shape."""
