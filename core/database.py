"""Opening the database: connect, refuse files that are not ours, migrate to the newest schema.

SQLite inside the data directory by default; any SQLAlchemy URL (PostgreSQL for scale-out) via
``SUPPORTLOOP_DATABASE_URL``. Migrations run on open, so a new install and an upgrade are the same step.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StorageError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """An engine plus a session factory over a migrated database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str) -> Database:
    """Connect to ``url`` and upgrade it to the newest schema, or raise a one-line ``StorageError``."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"SUPPORTLOOP_DATABASE_URL is not a valid database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.begin() as conn:
            inspect(conn).get_table_names()
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except DBAPIError as exc:
        engine.dispose()
        where = parsed.database if parsed.get_backend_name() == "sqlite" else parsed.render_as_string()
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise StorageError(
            f"Cannot use the database at {where}: {reason}. "
            "Point SUPPORTLOOP_DATABASE_URL (or SUPPORTLOOP_DATA_DIR) at a SupportLoop database."
        ) from exc
    return Database(engine)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL lets the bots read while a job writes; foreign keys are off by default in SQLite."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
