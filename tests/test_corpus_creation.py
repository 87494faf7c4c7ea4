"""A new corpus is made whole or not at all, with the schema the migrations make step by step.

`Corpus` makes a new corpus on a private file (every migration, one sync) and links it into
place; an empty database file found instead is migrated from version 0 in one transaction.
A crash while making (an error, or kill -9) leaves no corpus, and the next open makes it whole.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys

import pytest
from memoryhole.corpus import schema
from memoryhole.corpus.store import DB_NAME, Corpus, CorpusError


def schema_of(path) -> tuple[int, str, list[tuple[str, str, str]]]:
    """(user_version, journal mode, every table/index/trigger/view and its SQL)."""
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        objects = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
                               ).fetchall()
    finally:
        conn.close()
    return version, mode, objects


def test_a_new_corpus_has_the_schema_that_migrating_step_by_step_makes(tmp_path):
    Corpus(tmp_path / "new").close()
    # The step-by-step path: an existing database at version 0, then each upgrade on its own.
    (tmp_path / "old").mkdir()
    sqlite3.connect(tmp_path / "old" / DB_NAME).close()
    db = sqlite3.connect(tmp_path / "old" / DB_NAME, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA foreign_keys = ON")
    import sqlite_utils

    stepwise = sqlite_utils.Database(db)
    for version in range(1, schema.SCHEMA_VERSION + 1):
        schema._apply(stepwise, [version], expect=version - 1)
    db.close()
    made = schema_of(tmp_path / "new" / DB_NAME)
    assert made == schema_of(tmp_path / "old" / DB_NAME)
    assert made[0] == schema.SCHEMA_VERSION and made[1] == "wal"
    assert {name for kind, name, _ in made[2] if kind == "table"} >= {"crawls", "posts",
                                                                     "sightings", "removals"}
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [DB_NAME]


@pytest.fixture
def broken_last_migration(monkeypatch):
    migrations = [*schema.MIGRATIONS, "CREATE TABLE half_done (x);\nSELECT no_such_function();"]
    monkeypatch.setattr(schema, "MIGRATIONS", migrations)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(migrations))
    return monkeypatch


def test_a_failure_while_making_a_corpus_leaves_no_corpus(tmp_path, broken_last_migration):
    data = tmp_path / "data"
    with pytest.raises(CorpusError, match="cannot make a new corpus.*no_such_function"):
        Corpus(data)
    assert list(data.iterdir()) == []   # no corpus.db, no private file
    broken_last_migration.undo()
    Corpus(data).close()
    assert schema_of(data / DB_NAME)[0] == schema.SCHEMA_VERSION


def test_an_empty_database_is_migrated_in_one_transaction(tmp_path, broken_last_migration):
    """A database file with no schema (made by another tool) goes from version 0 to the last
    in one transaction: a failure in the last migration leaves none of the others behind."""
    data = tmp_path / "data"
    data.mkdir()
    sqlite3.connect(data / DB_NAME).close()
    with pytest.raises(CorpusError, match="no_such_function"):
        Corpus(data)
    version, _, objects = schema_of(data / DB_NAME)
    assert (version, objects) == (0, [])
    broken_last_migration.undo()
    Corpus(data).close()
    assert schema_of(data / DB_NAME)[0] == schema.SCHEMA_VERSION


KILLED_WHILE_MAKING = """
import os, signal, sys
from memoryhole.corpus import schema
from memoryhole.corpus.store import Corpus

def die(db):
    db.execute("CREATE TABLE half_done (x)")
    os.kill(os.getpid(), signal.SIGKILL)

schema.MIGRATIONS = [*schema.MIGRATIONS, die]
schema.SCHEMA_VERSION = len(schema.MIGRATIONS)
Corpus(sys.argv[1])
"""


def test_a_process_killed_while_making_a_corpus_leaves_no_corpus(tmp_path):
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_MAKING, str(data)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    left = sorted(p.name for p in data.iterdir())
    assert DB_NAME not in left and left and all(n.startswith(schema.NEW_PREFIX) for n in left)
    Corpus(data).close()   # the next open makes it whole and removes the dead one's file
    assert sorted(p.name for p in data.iterdir()) == [DB_NAME]
    version, _, objects = schema_of(data / DB_NAME)
    assert version == schema.SCHEMA_VERSION
    assert "half_done" not in {name for _, name, _ in objects}


def test_without_hard_links_the_corpus_is_made_in_place(tmp_path, monkeypatch):
    def refuse(*_):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("os.link", refuse)
    Corpus(tmp_path / "data").close()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [DB_NAME]
    assert schema_of(tmp_path / "data" / DB_NAME)[0] == schema.SCHEMA_VERSION
