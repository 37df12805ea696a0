"""Catalogue search: a full-text index over SKU, name, category and attribute values.

PostgreSQL: a GIN index over a tsvector expression of each product (the 'simple'
configuration, for SKUs and brand names, beside the 'english' one, for stems: "running
shoes" finds "running shoe"). SQLite: an FTS5 table (porter stemmer over unicode61) that
triggers keep in step with ``products`` on every write path (the API, imports, the demo
loader), keyed through ``product_search_ids`` (a product's rowid is not stable: VACUUM may
renumber it). Existing products are indexed here. The expression is the one
``adapters/queries/search.py`` queries with; the two must stay the same text.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 07:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Separators of codes and names ("RUN-0012", "T-shirt") split words, as on SQLite.
SKU_WORDS = "translate(sku, '-_.', '   ')"
WORDS = "translate(name || ' ' || category, '-_.', '   ')"
VECTOR = (
    f"setweight(to_tsvector('simple'::regconfig, {SKU_WORDS}), 'A') || "
    f"setweight(to_tsvector('simple'::regconfig, {WORDS}), 'B') || "
    f"setweight(to_tsvector('english'::regconfig, {WORDS}), 'B') || "
    "setweight(jsonb_to_tsvector('simple'::regconfig, attributes, "
    "'[\"string\", \"numeric\"]'::jsonb), 'C') || "
    "setweight(jsonb_to_tsvector('english'::regconfig, attributes, "
    "'[\"string\", \"numeric\"]'::jsonb), 'C')")

ATTRIBUTE_TEXT = ("(SELECT group_concat(value, ' ') FROM json_tree(new.attributes) "
                  "WHERE type IN ('text', 'integer', 'real'))")
INDEX_NEW = (
    "INSERT INTO products_fts (rowid, sku, name, category, attrs) VALUES ("
    "(SELECT id FROM product_search_ids WHERE sku = new.sku), new.sku, new.name, "
    f"new.category, {ATTRIBUTE_TEXT});")
UNINDEX_OLD = ("DELETE FROM products_fts WHERE rowid = "
               "(SELECT id FROM product_search_ids WHERE sku = old.sku);")

SQLITE = [
    "CREATE TABLE product_search_ids (id INTEGER PRIMARY KEY, "
    "sku VARCHAR(64) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE products_fts USING fts5(sku, name, category, attrs, "
    "tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN "
    "INSERT INTO product_search_ids (sku) VALUES (new.sku); " + INDEX_NEW + " END",
    "CREATE TRIGGER products_search_update AFTER UPDATE ON products BEGIN "
    + UNINDEX_OLD + " " + INDEX_NEW + " END",
    "CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN "
    + UNINDEX_OLD + " DELETE FROM product_search_ids WHERE sku = old.sku; END",
    "INSERT INTO product_search_ids (sku) SELECT sku FROM products ORDER BY sku",
    "INSERT INTO products_fts (rowid, sku, name, category, attrs) "
    "SELECT i.id, p.sku, p.name, p.category, "
    "(SELECT group_concat(value, ' ') FROM json_tree(p.attributes) "
    "WHERE type IN ('text', 'integer', 'real')) "
    "FROM products p JOIN product_search_ids i ON i.sku = p.sku",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_products_search ON products USING gin (({VECTOR}))")
        return
    for statement in SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_products_search")
        return
    for trigger in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER products_search_{trigger}")
    op.execute("DROP TABLE products_fts")
    op.execute("DROP TABLE product_search_ids")
