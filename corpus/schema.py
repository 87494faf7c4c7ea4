"""The corpus schema and its migrations.

The schema version lives in SQLite's `user_version`. Each migration is a function taking the
database from version N-1 to N; opening a corpus applies the missing ones in order inside one
transaction, so a corpus made by any earlier release opens in this one.

Tables (times are UTC ISO 8601 text, see corpus.clock):
- crawls: one row per crawl (a timeline pass or a probe pass) with its plan, software version,
  start, end and stats.
- accounts, posts: the latest known state of each account and post.
- sightings: append-only; which post was seen on which page of which crawl, and when.
- pages: every timeline page fetched (or failed) by a crawl: the raw observations behind windows.
- windows: per crawl and account, the part of the timeline the crawl actually covered. Only posts
  inside a window can be declared absent.
- candidates: posts absent from a covered window, waiting for a probe to say why.
- probes: every probe of a single post, with the raw response as evidence.
- fetch_failures: every fetch that was not an observation (5xx, 418, captcha, truncated, ...).
- removals: a post the platform confirmed gone, with reason, exact message, the interval
  [last_seen_at, first_missing_at] and the probe that classified it.
"""

from collections.abc import Callable

import sqlite_utils

V1 = """
        CREATE TABLE crawls (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,              -- 'timeline' or 'probe'
            platform TEXT NOT NULL,
            plan_name TEXT,
            plan_path TEXT,
            plan_json TEXT NOT NULL,         -- the plan exactly as loaded (with defaults)
            software_version TEXT NOT NULL,
            base_url TEXT,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            status TEXT NOT NULL,            -- running | finished | interrupted | failed
            stats_json TEXT
        );
        CREATE TABLE accounts (
            platform TEXT NOT NULL,
            account_id TEXT NOT NULL,
            screen_name TEXT,
            watchlist TEXT,
            first_seen_at TEXT,
            last_seen_at TEXT,
            PRIMARY KEY (platform, account_id)
        );
        CREATE TABLE posts (
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            order_key INTEGER NOT NULL,      -- platform's time-ordered id (Weibo mid)
            bid TEXT,
            url TEXT,
            created_at TEXT,
            text TEXT,
            is_long_text INTEGER,
            source TEXT,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            last_seen_crawl_id INTEGER REFERENCES crawls(id),
            PRIMARY KEY (platform, post_id)
        );
        CREATE INDEX posts_account_order ON posts (platform, account_id, order_key);
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            page INTEGER NOT NULL,
            position INTEGER NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            seen_at TEXT NOT NULL            -- when the request that saw it was sent
        );
        CREATE INDEX sightings_post ON sightings (platform, post_id);
        CREATE INDEX sightings_crawl ON sightings (crawl_id);
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            platform TEXT NOT NULL,
            account_id TEXT NOT NULL,
            watchlist TEXT,
            page INTEGER NOT NULL,
            url TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            http_status INTEGER,
            outcome TEXT NOT NULL,           -- posts | end | failed
            failure TEXT,                    -- failure name when outcome = failed
            n_posts INTEGER NOT NULL DEFAULT 0,
            newest_key INTEGER,              -- order keys of non-pinned posts on the page
            oldest_key INTEGER
        );
        CREATE INDEX pages_crawl ON pages (crawl_id, platform, account_id);
        CREATE TABLE windows (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            platform TEXT NOT NULL,
            account_id TEXT NOT NULL,
            watchlist TEXT,
            status TEXT NOT NULL,            -- covered | empty | failed
            pages_planned INTEGER NOT NULL,
            pages_ok INTEGER NOT NULL,
            reached_end INTEGER NOT NULL,
            newest_key INTEGER,
            oldest_key INTEGER,              -- 0 when the crawl reached the end of the timeline
            requested_at TEXT
        );
        CREATE INDEX windows_crawl ON windows (crawl_id);
        CREATE TABLE candidates (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            opened_crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            last_seen_at TEXT NOT NULL,
            first_absent_at TEXT NOT NULL,
            status TEXT NOT NULL,            -- open | visible | removed | seen_again
            probes INTEGER NOT NULL DEFAULT 0,
            closed_at TEXT,
            closed_crawl_id INTEGER
        );
        CREATE UNIQUE INDEX candidates_open ON candidates (platform, post_id) WHERE status = 'open';
        CREATE TABLE probes (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT,
            url TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            probed_at TEXT NOT NULL,         -- when the response arrived
            http_status INTEGER,
            outcome TEXT NOT NULL,           -- visible | removed | failed
            reason TEXT,                     -- vocabulary in corpus.reasons when removed
            message TEXT,                    -- the platform's exact words
            failure TEXT,                    -- failure name when outcome = failed
            response_headers TEXT,           -- JSON, as received
            response_body BLOB               -- raw bytes, as received: the evidence
        );
        CREATE INDEX probes_post ON probes (platform, post_id);
        CREATE TABLE fetch_failures (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            platform TEXT NOT NULL,
            url TEXT NOT NULL,
            failure TEXT NOT NULL,
            http_status INTEGER,
            detail TEXT,
            at TEXT NOT NULL
        );
        CREATE TABLE removals (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            message TEXT,
            last_seen_at TEXT NOT NULL,      -- removed after this ...
            first_missing_at TEXT NOT NULL,  -- ... and before this (the confirming probe's answer)
            detected_crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            probe_id INTEGER NOT NULL REFERENCES probes(id),
            restored_at TEXT,                -- seen again after removal
            restored_crawl_id INTEGER
        );
        CREATE UNIQUE INDEX removals_active ON removals (platform, post_id) WHERE restored_at IS NULL;
"""


# Each entry takes the corpus from version N-1 to N: a SQL script, or a function for data moves.
MIGRATIONS: list[str | Callable[[sqlite_utils.Database], None]] = [V1]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring `db` to SCHEMA_VERSION, one migration per transaction; returns the old version."""
    before = schema_version(db)
    if before > SCHEMA_VERSION:
        raise RuntimeError(
            f"corpus schema version {before} is newer than this memoryhole ({SCHEMA_VERSION}); "
            "upgrade memoryhole"
        )
    for version in range(before + 1, SCHEMA_VERSION + 1):
        step = MIGRATIONS[version - 1]
        try:
            if isinstance(step, str):
                # executescript commits first, so the script carries its own transaction.
                db.conn.executescript(f"BEGIN;\n{step}\nPRAGMA user_version = {version};\nCOMMIT;")
            else:
                with db.atomic():
                    step(db)
                    db.execute(f"PRAGMA user_version = {version}")
        except Exception:
            if db.conn.in_transaction:
                db.conn.rollback()
            raise
    return before
