"""Alembic migrations: the only way the schema changes, on SQLite and PostgreSQL alike."""
