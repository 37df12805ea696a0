"""Catalogue search: what staff type, matched against the full-text index of migration 0016
(SKU, name, category and attribute values), best first.

What is typed is never handed to a query parser as it is: it is cut into words (runs of
letters and digits), all of them required; the last is sought as a prefix when nothing but
spaces follows it (a word being typed, a partial SKU), the others whole (a search for
"100%" does not find "1000"). So quotes, ``*``,
``AND``, brackets or a very long text search for their words (``AND``, ``OR``, ``NOT`` and
``NEAR`` beside other words are dropped), and a text without any word finds nothing. A
product whose SKU starts with the text typed (any case: "run-00" for RUN-0012) comes first;
then the index's rank (PostgreSQL ``ts_rank``, SQLite ``bm25``), then the SKU. The rank
goes into the cursor as an integer, so that pages follow each other without a gap or a
repeat while the catalogue does not change.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.sql.elements import ColumnClause

from stockline.adapters.queries.base import decode_cursor
from stockline.adapters.tables import products

P = products.c
WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 16
OPERATORS = frozenset({"and", "or", "not", "near"})
MAX_WORD = 64
# Ranks are fractions (bm25 can be tiny on a small catalogue): scaled to integers with
# room for many digits, below the SKU-prefix bonus.
SCALE = 1e9
PREFIX_BONUS = 10**15
# Migration 0016's index expression, word for word (the planner uses the index only for
# the same expression).
# Separators of codes and names ("RUN-0012", "T-shirt") split words, as on SQLite.
SKU_WORDS = "translate(sku, '-_.', '   ')"
WORDS = "translate(name || ' ' || category, '-_.', '   ')"
VECTOR: ColumnClause[Any] = literal_column(
    f"(setweight(to_tsvector('simple'::regconfig, {SKU_WORDS}), 'A') || "
    f"setweight(to_tsvector('simple'::regconfig, {WORDS}), 'B') || "
    f"setweight(to_tsvector('english'::regconfig, {WORDS}), 'B') || "
    "setweight(jsonb_to_tsvector('simple'::regconfig, attributes, "
    "'[\"string\", \"numeric\"]'::jsonb), 'C') || "
    "setweight(jsonb_to_tsvector('english'::regconfig, attributes, "
    "'[\"string\", \"numeric\"]'::jsonb), 'C'))")
SIMPLE: ColumnClause[Any] = literal_column("'simple'::regconfig")
ENGLISH: ColumnClause[Any] = literal_column("'english'::regconfig")
# SQLite: the FTS5 table and the ids that tie it to products. Weights: SKU, name,
# category, attributes.
IDS = table("product_search_ids", column("id", Integer), column("sku"))
FTS = (text("SELECT rowid AS id, bm25(products_fts, 10.0, 5.0, 2.0, 2.0) AS r "
            "FROM products_fts WHERE products_fts MATCH :words")
       .columns(column("id", Integer), column("r", Float)))

# What migration 0016 makes beside the table definitions (the FTS5 table's own tables
# start with its name): schema comparisons leave them out.
OUTSIDE_TABLES = ("products_fts", "product_search_ids", "ix_products_search")


def outside_tables(name: str | None, type_: str, parents: Any) -> bool:
    """False for a search object (an ``include_name`` hook of Alembic's comparison)."""
    return not (name is not None and name.startswith(OUTSIDE_TABLES))


def words(typed: str) -> list[tuple[str, bool]]:
    """The words of what was typed, lower case, as many as are sought, each with whether
    it is a prefix; the words of a search syntax ("red AND shoe") are left out, unless
    they are all there is."""
    end = len(typed.rstrip(" "))
    found = [(m.group()[:MAX_WORD].lower(), m.end() == end)
             for m in list(WORD.finditer(typed))[:MAX_WORDS]]
    return [w for w in found if w[0] not in OPERATORS] or found


def search(typed: str, postgres: bool) -> Select[Any] | None:
    """The products that match ``typed``, each with its ``score`` (higher: better); None
    when there is no word to look for."""
    found = words(typed)
    if not found:
        return None
    prefix = case((func.lower(P.sku).startswith(typed.strip().lower(), autoescape=True),
                   literal(PREFIX_BONUS)), else_=literal(0))
    if postgres:
        sought = _tsquery(found)
        rank = cast(func.ts_rank(VECTOR, sought) * SCALE, BigInteger)
        return select(products, (prefix + rank).label("score")).where(VECTOR.op("@@")(sought))
    match = " ".join(f'"{w}"' + ("*" if prefix else "") for w, prefix in found)
    fts = FTS.bindparams(words=match).subquery("fts")
    rank = cast(func.max(0.0, -fts.c.r) * SCALE, Integer)
    return (select(products, (prefix + rank).label("score"))
            .select_from(products.join(IDS, IDS.c.sku == P.sku)
                         .join(fts, fts.c.id == IDS.c.id)))


def _tsquery(found: list[tuple[str, bool]]) -> ColumnElement[Any]:
    """Every word, each as typed ('simple') or by its English stem: a stop word of English
    ("a", "on", a brand) is still sought as typed."""
    sought: ColumnElement[Any] | None = None
    for word, prefix in found:
        term = word + (":*" if prefix else "")
        either = func.to_tsquery(SIMPLE, term).op("||")(func.to_tsquery(ENGLISH, term))
        sought = either.self_group() if sought is None else sought.op("&&")(either.self_group())
    assert sought is not None
    return sought


def after(cursor: str | None, score: ColumnElement[int],
          sku: ColumnElement[str]) -> list[ColumnElement[bool]]:
    """The keyset condition of the next page: best first, then by SKU."""
    if not cursor:
        return []
    best, last = decode_cursor(cursor, int, str)
    return [or_(score < best, and_(score == best, sku > last))]
