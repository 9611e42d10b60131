import sqlite3

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import IntegrityError

from core.database import MIGRATIONS, open_database
from core.errors import StorageError
from core.jobs import JobQueue
from core.records import Records
from core.tables import AnswerRecord, Base, ModelVersionRecord

EXPECTED_COLUMNS = {
    "answers": [
        "id",
        "question",
        "answer",
        "citations",
        "passage_ids",
        "declined",
        "model_version",
        "platform",
        "channel",
        "thread",
        "user_hash",
        "latency_s",
        "created_at",
        "reward",
        "condensed",
        "mode",
    ],
    "feedback": [
        "id",
        "answer_id",
        "user_hash",
        "vote",
        "reason",
        "retracted",
        "created_at",
        "simulated",
        "source",
    ],
    "model_versions": ["id", "parent_id", "path", "created_at", "metrics", "audit_status", "is_current"],
    "job_runs": [
        "id",
        "kind",
        "status",
        "progress",
        "started_at",
        "finished_at",
        "summary",
        "params",
        "requested_by",
        "created_at",
        "owner",
        "heartbeat_at",
    ],
    "answer_messages": ["id", "answer_id", "platform", "channel", "message"],
    "handled_events": ["id", "key", "created_at"],
    "leases": ["name", "holder", "expires_at"],
    "escalations": [
        "id",
        "answer_id",
        "platform",
        "channel",
        "thread",
        "requested_by",
        "created_at",
        "status",
        "taken_by",
        "taken_at",
    ],
}


def test_migrations_create_exactly_the_schema(database_url):
    db = open_database(database_url)
    inspector = inspect(db.engine)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    assert tables == set(EXPECTED_COLUMNS)
    for table, columns in EXPECTED_COLUMNS.items():
        assert [c["name"] for c in inspector.get_columns(table)] == columns
    unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("feedback")}
    assert ("answer_id", "user_hash") in unique


def test_opening_twice_is_an_upgrade_to_the_same_head(database_url):
    url = database_url
    open_database(url).close()
    db = open_database(url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0009"


def test_the_migrated_schema_matches_the_table_definitions(database_url):
    db = open_database(database_url)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def migrate_and_insert(url: str, revision: str, insert: str) -> None:
    """A database as an older release left it: migrated up to ``revision`` only, with a row in it."""
    engine = create_engine(url)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.exec_driver_sql(insert)
    engine.dispose()


def test_an_older_database_is_upgraded_and_keeps_its_rows(database_url):
    url = database_url
    migrate_and_insert(
        url,
        "0001",
        "INSERT INTO job_runs (kind, status, progress, summary) VALUES ('reindex', 'succeeded', 1, '{}')",
    )
    db = open_database(url)
    run = JobQueue(db).get(1)
    assert (run.kind, run.status, run.params, run.requested_by) == ("reindex", "succeeded", {}, None)


def test_answers_stored_before_the_condensed_column_keep_their_rows(database_url):
    migrate_and_insert(
        database_url,
        "0007",
        "INSERT INTO answers (question, answer, citations, passage_ids, declined, platform, latency_s, "
        "created_at) VALUES ('and on the app?', 'Open Settings.', '[]', '[]', false, 'slack', 0.5, "
        "CURRENT_TIMESTAMP)",
    )
    db = open_database(database_url)
    records = Records(db)
    later = records.add_answer(
        question="and on the app?",
        condensed="and on the app? (How do I turn off notifications?)",
        answer="Open the app's settings.",
        platform="slack",
        latency_s=0.5,
    )
    with db.session() as session:
        old, new = session.get(AnswerRecord, 1), session.get(AnswerRecord, later)
        assert (old.condensed, old.standalone_question) == (None, "and on the app?")
        assert new.standalone_question == "and on the app? (How do I turn off notifications?)"
    db.close()


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "db.sqlite"
    content = b"these are somebody's notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StorageError) as caught:
        open_database(f"sqlite:///{path}")
    assert "not a database" in str(caught.value)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_an_invalid_url_is_refused():
    with pytest.raises(StorageError, match="not a valid database URL"):
        open_database("not a url")


def test_only_one_model_version_can_be_current(database_url):
    db = open_database(database_url)
    with db.session() as session:
        session.add(ModelVersionRecord(id=0, path="a", is_current=True))
        session.add(ModelVersionRecord(id=1, path="b", is_current=False))
        session.commit()
        session.add(ModelVersionRecord(id=2, path="c", is_current=True))
        with pytest.raises(IntegrityError):
            session.commit()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    path = tmp_path / "db.sqlite"
    open_database(f"sqlite:///{path}").close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
