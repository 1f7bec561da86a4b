"""Storage: SQLModel tables, the engine (SQLite WAL or PostgreSQL) and repositories.

Repositories are plain functions over a ``Session``; the caller owns the
transaction, so that an act and everything it implies commit together.
"""

__all__: list[str] = []
