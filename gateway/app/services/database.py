"""The one SQL database of the deployment (SQLite locally, PostgreSQL when scaled out): its engine.

The speaker store and the job store keep their tables here, on one engine. SQLite has no row
locks, so every transaction takes the write lock up front (BEGIN IMMEDIATE): writers queue
instead of racing, which makes a count-then-insert or a claim exact on both databases.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import IntegrityError, ProgrammingError

__all__ = ["create_tables", "open_engine"]


def open_engine(url: str) -> Engine:
    connect_args: dict[str, object] = {}
    sqlite = url.startswith("sqlite")
    if sqlite:
        connect_args = {"check_same_thread": False, "timeout": 30}
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def create_tables(metadata: MetaData, engine: Engine) -> None:
    try:
        metadata.create_all(engine)
    except (IntegrityError, ProgrammingError):
        # another replica created the tables at the same moment: they exist now
        metadata.create_all(engine)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # SQLite has no row locks: take the write lock up front so writers serialise instead of racing.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
