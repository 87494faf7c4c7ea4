"""The corpus schema and its migrations.

The schema version lives in SQLite's `user_version`. Each migration is a function taking the
database from version N-1 to N; opening a corpus applies the missing ones in order inside one
transaction, so a corpus made by any earlier release opens in this one.

Tables (times are UTC ISO 8601 text, see memoryhole.corpus.clock):
- crawls: one row per crawl (a timeline pass or a probe pass) with its plan, software version,
  start, end and stats.
- platforms: what each platform's adapter declares (watch kind, order key, versioned fields,
  created-at resolution, extra columns and their release policy), recorded by every crawl, so
  analysis and releases read a platform's facts from the corpus, never from crawler code.
- accounts, posts: the latest known state of each account and post (an item of an item watch is
  a post). A post's platform-only fields are JSON in `posts.extra`, described in `platforms`.
- watchlist_members: which accounts (listing watches) and items (item watches) each watchlist
  watched; many-to-many (`accounts.watchlist` keeps the first, for older queries).
- sightings: append-only; which post was seen on which page of which crawl, and when (page 0: by
  a probe of a watched item).
- pages: every timeline page fetched (or failed) by a crawl: the raw observations behind windows.
- windows: per crawl and account, the part of the timeline the crawl actually covered. Only posts
  inside a covered window, or of an account whose empty timeline is not a glitch, can be declared
  absent.
- candidates: posts that may be gone (absent from a covered window, of an account that is gone,
  shown as a tombstone), waiting for a probe to say why.

The values of status, cause, event and state columns, and what each means, live in one place:
memoryhole.corpus.vocabulary (reasons: memoryhole.corpus.reasons). The comments below name the vocabulary.
- probes: every probe of a single post, with the raw response as evidence.
- fetch_failures: every fetch that was not an observation (5xx, 418, captcha, truncated, ...).
- removals: a post the platform confirmed gone, with reason, exact message, the interval
  [last_seen_at, first_missing_at] and the probe that classified it.
"""

import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path

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
            order_key INTEGER NOT NULL,      -- sorts by time (platforms.order_key says how)
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
            status TEXT NOT NULL,            -- vocabulary.WindowStatus
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
            status TEXT NOT NULL,            -- vocabulary.CandidateStatus
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
            reason TEXT,                     -- vocabulary in memoryhole.corpus.reasons when removed
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

# v2: evidence (WARC references), lifecycle events, re-probes, versions, accounts, reposts,
# long texts, cursors. candidates and removals are rebuilt so that `last_seen_at` may be NULL:
# an original known only from a repost's tombstone was never seen intact.
V2 = """
        ALTER TABLE pages ADD COLUMN cursor TEXT;          -- since_id this page was asked with
        ALTER TABLE pages ADD COLUMN next_cursor TEXT;     -- since_id the page offered for the next
        ALTER TABLE pages ADD COLUMN account_check TEXT;   -- page 1 empty: profile exists | gone | failed
        ALTER TABLE pages ADD COLUMN account_state TEXT;   -- ... and when gone: vocabulary.AccountState
        ALTER TABLE pages ADD COLUMN account_message TEXT; -- ... in the platform's exact words
        ALTER TABLE pages ADD COLUMN warc_file TEXT;       -- evidence: WARC file (relative to data dir)
        ALTER TABLE pages ADD COLUMN warc_offset INTEGER;  -- ... byte offset of the response record
        ALTER TABLE pages ADD COLUMN warc_record_id TEXT;  -- ... its WARC-Record-ID
        ALTER TABLE probes ADD COLUMN purpose TEXT NOT NULL DEFAULT 'classify';  -- or confirm | recheck
        ALTER TABLE probes ADD COLUMN warc_file TEXT;
        ALTER TABLE probes ADD COLUMN warc_offset INTEGER;
        ALTER TABLE probes ADD COLUMN warc_record_id TEXT;
        ALTER TABLE sightings ADD COLUMN page_id INTEGER REFERENCES pages(id);  -- and so its WARC record
        ALTER TABLE sightings ADD COLUMN via_post_id TEXT;  -- seen inside this repost
        ALTER TABLE posts ADD COLUMN repost_of TEXT;        -- post_id of the original
        ALTER TABLE posts ADD COLUMN edit_count INTEGER;
        ALTER TABLE posts ADD COLUMN version INTEGER;       -- latest post_versions.version
        ALTER TABLE posts ADD COLUMN content_hash TEXT;     -- of the latest version
        ALTER TABLE posts ADD COLUMN full_text TEXT;        -- long posts: the whole text
        ALTER TABLE posts ADD COLUMN text_complete INTEGER; -- 1 whole text; 0 truncated, whole not had
        ALTER TABLE accounts ADD COLUMN state TEXT NOT NULL DEFAULT 'active';  -- vocabulary.AccountState
        ALTER TABLE accounts ADD COLUMN state_changed_at TEXT;

        CREATE TABLE candidates_v2 (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            opened_crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            last_seen_at TEXT,               -- NULL: never seen intact (known from a tombstone)
            first_absent_at TEXT NOT NULL,
            status TEXT NOT NULL,            -- vocabulary.CandidateStatus
            probes INTEGER NOT NULL DEFAULT 0,
            closed_at TEXT,
            closed_crawl_id INTEGER,
            cause TEXT NOT NULL DEFAULT 'window'  -- vocabulary.CandidateCause
        );
        INSERT INTO candidates_v2 (id, platform, post_id, account_id, opened_crawl_id,
            last_seen_at, first_absent_at, status, probes, closed_at, closed_crawl_id)
            SELECT id, platform, post_id, account_id, opened_crawl_id, last_seen_at,
                   first_absent_at, status, probes, closed_at, closed_crawl_id FROM candidates;
        DROP TABLE candidates;
        ALTER TABLE candidates_v2 RENAME TO candidates;
        CREATE UNIQUE INDEX candidates_open ON candidates (platform, post_id) WHERE status = 'open';

        CREATE TABLE removals_v2 (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            message TEXT,
            last_seen_at TEXT,               -- removed after this (NULL: never seen intact) ...
            first_missing_at TEXT NOT NULL,  -- ... and before this (the classifying probe's answer)
            detected_crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            probe_id INTEGER NOT NULL REFERENCES probes(id),
            confirmed_at TEXT,               -- a later probe (after the confirm delay) agreed
            probes INTEGER NOT NULL DEFAULT 1,  -- successful probes that said removed
            next_probe_at TEXT,              -- when the re-probe policy looks again (NULL: done)
            next_probe_purpose TEXT,         -- confirm | recheck
            restored_at TEXT,                -- seen again (or probed visible) after removal
            restored_crawl_id INTEGER
        );
        INSERT INTO removals_v2 (id, platform, post_id, account_id, reason, message,
            last_seen_at, first_missing_at, detected_crawl_id, probe_id, restored_at,
            restored_crawl_id)
            SELECT id, platform, post_id, account_id, reason, message, last_seen_at,
                   first_missing_at, detected_crawl_id, probe_id, restored_at, restored_crawl_id
            FROM removals;
        DROP TABLE removals;
        ALTER TABLE removals_v2 RENAME TO removals;
        CREATE UNIQUE INDEX removals_active ON removals (platform, post_id)
            WHERE restored_at IS NULL;
        CREATE INDEX removals_next_probe ON removals (next_probe_at)
            WHERE next_probe_at IS NOT NULL AND restored_at IS NULL;

        CREATE TABLE post_events (          -- every lifecycle transition; nothing is overwritten
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            event TEXT NOT NULL,             -- vocabulary.PostEvent
            reason TEXT,
            at TEXT NOT NULL,
            crawl_id INTEGER REFERENCES crawls(id),
            probe_id INTEGER REFERENCES probes(id),
            detail TEXT
        );
        CREATE INDEX post_events_post ON post_events (platform, post_id);

        CREATE TABLE post_versions (        -- as git-history: a row per change, changed fields only
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            content_hash TEXT NOT NULL,      -- sha256 of the canonical JSON of the versioned fields
            changed TEXT NOT NULL,           -- JSON: the versioned fields that changed, new values
            seen_at TEXT NOT NULL,
            crawl_id INTEGER REFERENCES crawls(id),
            page_id INTEGER REFERENCES pages(id),
            UNIQUE (platform, post_id, version)
        );

        CREATE TABLE account_events (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            account_id TEXT NOT NULL,
            state TEXT NOT NULL,             -- vocabulary.AccountState
            message TEXT,                    -- the platform's exact words
            at TEXT NOT NULL,
            crawl_id INTEGER REFERENCES crawls(id),
            probe_id INTEGER REFERENCES probes(id)
        );
        CREATE INDEX account_events_account ON account_events (platform, account_id);

        CREATE TABLE tombstones (           -- an original's removal, as shown inside a repost
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            page_id INTEGER REFERENCES pages(id),
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,           -- the original
            via_post_id TEXT NOT NULL,       -- the repost that showed it
            reason TEXT NOT NULL,
            message TEXT,
            seen_at TEXT NOT NULL
        );
        CREATE INDEX tombstones_post ON tombstones (platform, post_id);

        CREATE TABLE long_texts (           -- fetches of a long post's whole text
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            url TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            http_status INTEGER,
            outcome TEXT NOT NULL,           -- ok | failed | removed
            failure TEXT,
            text TEXT,
            warc_file TEXT,
            warc_offset INTEGER,
            warc_record_id TEXT
        );
        CREATE INDEX long_texts_post ON long_texts (platform, post_id);
        CREATE INDEX sightings_page ON sightings (page_id);
"""


# The corpus time form (memoryhole.corpus.clock.iso), so the back-fill below only shifts times it can read.
_ISO_GLOB = ("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]."
             "[0-9][0-9][0-9][0-9][0-9][0-9]Z")


def _shifted(column: str, seconds: int) -> str:
    return (f"strftime('%Y-%m-%dT%H:%M:%S', substr({column}, 1, 19), '{seconds:+d} seconds')"
            f" || substr({column}, 20)")


# v3: creation time as an interval (a platform's coarse date names a whole day, a relative one
# a past minute or hour); accounts carry the watchlist the plan watched them under.
V3 = f"""
        ALTER TABLE posts ADD COLUMN created_earliest TEXT;  -- created in [earliest, latest],
        ALTER TABLE posts ADD COLUMN created_latest TEXT;    -- from the form of the platform's date
        -- Rows from before v3 kept only created_at, the time the form named: the latest possible
        -- for 刚刚/N分钟前/N小时前 (up to an hour late), the earliest for 昨天 HH:MM, MM-DD and
        -- dates (up to a day early). Which form it was is not stored, so the interval is the one
        -- that holds for every form: [created_at - 1 h, min(created_at + 1 day, first sighting)].
        UPDATE posts SET
            created_earliest = {_shifted("created_at", -3600)},
            created_latest = MIN({_shifted("created_at", 86400)}, first_seen_at)
        WHERE created_at GLOB '{_ISO_GLOB}';
        UPDATE posts SET created_earliest = created_at, created_latest = created_at
        WHERE created_at IS NOT NULL AND created_earliest IS NULL;
        UPDATE accounts SET watchlist = (
            SELECT p.watchlist FROM pages AS p
            WHERE p.platform = accounts.platform AND p.account_id = accounts.account_id
              AND p.watchlist IS NOT NULL ORDER BY p.id LIMIT 1)
        WHERE watchlist IS NULL;
"""

# The declaration of the only platform corpora held before the platforms table (its adapter's,
# crawlers/platforms/weibo.py, when the table was made): history, so not read from crawler code.
_WEIBO_DECLARATION = (
    '{"created_at_resolution": [[3600.0, 60.0], [86400.0, 3600.0], [null, 86400.0]], '
    '"extra_columns": [{"description": "Weibo\'s short post id (base 62 of the mid), as in the '
    'post\'s URL.", "name": "bid", "post_alias": true, "release": "drop"}, {"description": '
    '"The client the post was sent from, as Weibo names it.", "name": "source", "post_alias": '
    'false, "release": "free"}], "failures": {"anti_crawler": "HTTP 418: Weibo\'s '
    'anti-crawler answer (bans last hours to days)", "user_agent_refused": "HTTP 432: Weibo '
    'refused the user agent or a missing cookie"}, "order_key": "id", "platform": "weibo", '
    '"versioned_fields": ["text", "edit_count"], "watch": "listing"}')

# v4: platforms as their adapters declare them; a post's platform-only fields as JSON (Weibo's
# and source move there); watchlist membership, many-to-many, back-filled from recorded plans.
V_PLATFORMS = f"""
        CREATE TABLE platforms (
            platform TEXT PRIMARY KEY,
            watch TEXT NOT NULL,             -- listing | item
            order_key TEXT NOT NULL,         -- id (a time-ordered id) | timestamp (epoch ms)
            declaration TEXT NOT NULL,       -- JSON: the adapter's declaration, as last recorded
            recorded_at TEXT NOT NULL,
            recorded_crawl_id INTEGER REFERENCES crawls(id)
        );
        INSERT INTO platforms (platform, watch, order_key, declaration, recorded_at)
            SELECT 'weibo', 'listing', 'id', '{_WEIBO_DECLARATION.replace("'", "''")}', MIN(started_at)
            FROM crawls WHERE platform = 'weibo' HAVING COUNT(*) > 0;
        ALTER TABLE posts ADD COLUMN extra TEXT;   -- JSON: platform-only fields (platforms)
        UPDATE posts SET extra = json_object('bid', bid, 'source', source)
            WHERE bid IS NOT NULL OR source IS NOT NULL;
        ALTER TABLE posts DROP COLUMN bid;
        ALTER TABLE posts DROP COLUMN source;
        CREATE TABLE watchlist_members (
            platform TEXT NOT NULL,
            watchlist TEXT NOT NULL,
            kind TEXT NOT NULL,              -- account (listing watch) | item (item watch)
            member_id TEXT NOT NULL,         -- the account_id, or the item's post_id
            first_crawl_id INTEGER REFERENCES crawls(id),
            last_crawl_id INTEGER REFERENCES crawls(id),
            PRIMARY KEY (platform, watchlist, kind, member_id)
        );
        CREATE INDEX watchlist_members_member ON watchlist_members (platform, kind, member_id);
        INSERT INTO watchlist_members (platform, watchlist, kind, member_id, first_crawl_id,
                                       last_crawl_id)
            SELECT c.platform, json_extract(w.value, '$.name'), 'account', CAST(a.value AS TEXT),
                   MIN(c.id), MAX(c.id)
            FROM crawls c, json_each(c.plan_json, '$.watchlists') w,
                 json_each(w.value, '$.accounts') a
            WHERE json_valid(c.plan_json) AND json_extract(w.value, '$.name') IS NOT NULL
            GROUP BY 1, 2, 3, 4;
"""

# Weibo search blocking (keyword tests, memoryhole.corpus.search_blocking): runs of tests, the
# terms, every test with its evidence, each term's blocks as intervals (as removals), and
# minimizations of blocked phrases to their minimal blocked substrings.
V_SEARCH_BLOCKING = """
        CREATE TABLE search_runs (          -- a campaign pass or a minimization, as crawls are
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,              -- campaign | minimize
            platform TEXT NOT NULL,
            endpoint TEXT NOT NULL,          -- desktop | mobile
            base_url TEXT,
            plan_json TEXT NOT NULL,         -- the plan's search section (with defaults)
            software_version TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            status TEXT NOT NULL,            -- running | finished | interrupted | failed
            stats_json TEXT
        );
        CREATE TABLE search_terms (         -- a term under test: its latest state
            platform TEXT NOT NULL,
            term TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'untested',  -- blocked | unblocked | untested
            first_tested_at TEXT,
            last_tested_at TEXT,             -- latest answer (an observation, or unknown)
            last_outcome TEXT,               -- search_tests.outcome of that answer
            last_result_count INTEGER,
            last_blocked_at TEXT,            -- request time of the latest test that said blocked
            last_unblocked_at TEXT,          -- ... that showed results or no results
            tests INTEGER NOT NULL DEFAULT 0,          -- observations (blocked or not)
            failed_tests INTEGER NOT NULL DEFAULT 0,   -- answers that were not observations
            PRIMARY KEY (platform, term)
        );
        CREATE TABLE search_tests (         -- every search, with its WARC evidence
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES search_runs(id),
            platform TEXT NOT NULL,
            term TEXT NOT NULL,
            purpose TEXT NOT NULL,           -- watch (the plan's list) | minimize
            minimization_id INTEGER REFERENCES search_minimizations(id),
            endpoint TEXT NOT NULL,
            url TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            tested_at TEXT NOT NULL,         -- when the answer arrived
            http_status INTEGER,
            outcome TEXT NOT NULL,           -- blocked | results | no_results | unknown | failed
            result_count INTEGER,            -- the platform's stated total, where shown
            results_shown INTEGER,           -- result cards on the page
            message TEXT,                    -- the platform's exact words
            failure TEXT,                    -- failure name when outcome = failed
            detail TEXT,
            warc_file TEXT,
            warc_offset INTEGER,
            warc_record_id TEXT
        );
        CREATE INDEX search_tests_term ON search_tests (platform, term, id);
        CREATE INDEX search_tests_run ON search_tests (run_id);
        CREATE TABLE search_blocks (        -- a term's block: blocked in, unblocked in, intervals
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            term TEXT NOT NULL,
            blocked_after TEXT,              -- last test showing results before (NULL: never seen)
            blocked_before TEXT NOT NULL,    -- the first test that said blocked (its answer)
            blocked_test_id INTEGER NOT NULL REFERENCES search_tests(id),
            message TEXT,
            blocked_tests INTEGER NOT NULL DEFAULT 1,
            last_blocked_at TEXT NOT NULL,   -- request time of the latest test still blocked
            unblocked_after TEXT,            -- = last_blocked_at once unblocked
            unblocked_before TEXT,           -- the first test after that showed results (answer)
            unblocked_test_id INTEGER REFERENCES search_tests(id)
        );
        CREATE UNIQUE INDEX search_blocks_open ON search_blocks (platform, term)
            WHERE unblocked_before IS NULL;
        CREATE INDEX search_blocks_term ON search_blocks (platform, term, id);
        CREATE TABLE search_minimizations (  -- a blocked phrase reduced to minimal substrings
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES search_runs(id),
            platform TEXT NOT NULL,
            term TEXT NOT NULL,              -- the original phrase
            started_at TEXT NOT NULL,
            ended_at TEXT,
            status TEXT NOT NULL,            -- running | minimal | not_blocked | incomplete
            probes INTEGER NOT NULL DEFAULT 0,         -- searches that answered
            failed_probes INTEGER NOT NULL DEFAULT 0,  -- searches that were not observations
            substrings TEXT                  -- JSON list of the minimal blocked substrings
        );
        CREATE TABLE search_minimal_substrings (
            minimization_id INTEGER NOT NULL REFERENCES search_minimizations(id),
            platform TEXT NOT NULL,
            term TEXT NOT NULL,              -- the original phrase
            substring TEXT NOT NULL,
            PRIMARY KEY (minimization_id, substring)
        );
"""

# Distributed campaigns (memoryhole.crawlers.worker): which worker fetched each page, probe,
# long text and failure (NULL: the campaign's own process), and what the ingester has taken in
# (each answer once, each request's observation once, each exchange archived once).
V_WORKERS = """
        ALTER TABLE pages ADD COLUMN worker_name TEXT;
        ALTER TABLE pages ADD COLUMN worker_address TEXT;   -- the address it fetched from
        ALTER TABLE probes ADD COLUMN worker_name TEXT;
        ALTER TABLE probes ADD COLUMN worker_address TEXT;
        ALTER TABLE long_texts ADD COLUMN worker_name TEXT;
        ALTER TABLE long_texts ADD COLUMN worker_address TEXT;
        ALTER TABLE fetch_failures ADD COLUMN worker_name TEXT;
        ALTER TABLE fetch_failures ADD COLUMN worker_address TEXT;
        CREATE TABLE worker_receipts (     -- answers and observations ingested, by key
            key TEXT PRIMARY KEY,
            crawl_id INTEGER REFERENCES crawls(id)
        ) WITHOUT ROWID;
        CREATE TABLE worker_exchanges (    -- a worker's exchange id -> its WARC record
            exchange_id TEXT PRIMARY KEY,
            crawl_id INTEGER REFERENCES crawls(id),
            warc_file TEXT NOT NULL,
            warc_offset INTEGER NOT NULL,
            warc_record_id TEXT NOT NULL
        ) WITHOUT ROWID;
"""


# The campaign scheduler's state (crawlers/cadence.py): when each watched account was last polled
# and how young its newest post is, what each tick admitted against the hourly budget per host,
# each watchlist's load, and the versions of each plan. Derived from crawls and their pages
# (`fold`), so a restart after a crash continues where the corpus says it stopped.
V_SCHEDULE = """
        ALTER TABLE crawls ADD COLUMN plan_hash TEXT;   -- plan_versions.plan_hash of plan_json
        CREATE INDEX crawls_plan_hash ON crawls (plan_hash);
        CREATE INDEX crawls_started ON crawls (started_at);
        CREATE INDEX fetch_failures_crawl ON fetch_failures (crawl_id);
        CREATE TABLE plan_versions (
            plan_hash TEXT PRIMARY KEY,      -- sha256 (16 hex) of the plan as recorded on crawls
            plan_key TEXT NOT NULL,          -- the plan's name, else its platform
            version INTEGER NOT NULL,        -- 1, 2, ... in order of first use, per plan_key
            platform TEXT NOT NULL,
            first_crawl_id INTEGER REFERENCES crawls(id),
            first_used_at TEXT NOT NULL,
            plan_json TEXT NOT NULL,
            UNIQUE (plan_key, version)
        );
        CREATE TABLE schedule_members (     -- a watched account's polls (listing watches)
            platform TEXT NOT NULL,
            watchlist TEXT NOT NULL,
            member_id TEXT NOT NULL,
            last_polled_at TEXT NOT NULL,    -- page 1 of its last poll was requested then
            last_crawl_id INTEGER REFERENCES crawls(id),
            polls INTEGER NOT NULL DEFAULT 1,
            newest_post_at TEXT,             -- its newest post seen (created_at, else first seen)
            PRIMARY KEY (platform, watchlist, member_id)
        );
        CREATE TABLE schedule_folded (      -- crawls whose polls are in schedule_members
            crawl_id INTEGER PRIMARY KEY REFERENCES crawls(id)
        );
        CREATE TABLE schedule_ticks (       -- one per platform per scheduler tick with work
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            platform TEXT NOT NULL,
            host TEXT NOT NULL,
            plan_hash TEXT,
            budget INTEGER NOT NULL,         -- requests per host per hour
            used_before INTEGER NOT NULL,    -- requests of the host's ticks in the hour before
            requests_due INTEGER NOT NULL,   -- requests the due work needed
            requests_admitted INTEGER NOT NULL,
            requests_made INTEGER,           -- counted by Scrapy, once the crawls ended
            timeline_crawl_id INTEGER REFERENCES crawls(id),
            probe_crawl_id INTEGER REFERENCES crawls(id)
        );
        CREATE INDEX schedule_ticks_host ON schedule_ticks (host, at);
        CREATE TABLE schedule_watchlists (  -- each watchlist's load at the latest tick
            platform TEXT NOT NULL,
            watchlist TEXT NOT NULL,
            plan_hash TEXT,
            kind TEXT NOT NULL,              -- account | item
            every REAL NOT NULL,             -- seconds: the watchlist's own cadence
            schedule TEXT,                   -- JSON: its steps by age of the newest post
            members INTEGER NOT NULL,
            due INTEGER NOT NULL,            -- members due at the tick
            admitted INTEGER NOT NULL,       -- ... and polled (within the budget)
            behind INTEGER NOT NULL,         -- ... left for later: the budget was spent
            lag_seconds REAL NOT NULL,       -- how long the most overdue member left waits
            last_run_at TEXT,
            next_run_at TEXT,
            tick_at TEXT NOT NULL,
            tick_id INTEGER REFERENCES schedule_ticks(id),
            PRIMARY KEY (platform, watchlist)
        );
"""

# Cool-downs (crawlers/cooldown.py): each time the platform blocked a crawl and a host rested.
# `session` is a label (anonymous, visitor-3, cookie:WEIBO_COOKIE), never a cookie value.
V_COOLDOWNS = """
        CREATE TABLE cooldowns (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER REFERENCES crawls(id),
            platform TEXT,
            host TEXT,
            session TEXT,                    -- a session label, never a cookie value
            cause TEXT,                      -- the failure that started it (fetch_failures.failure)
            started_at TEXT,                 -- UTC ISO 8601
            until TEXT                       -- UTC ISO 8601: when the host may be asked again
        );
        CREATE INDEX cooldowns_crawl ON cooldowns (crawl_id);
        CREATE INDEX cooldowns_until ON cooldowns (platform, until);
"""

# Each entry takes the corpus from version N-1 to N: a SQL script, or a function for data moves.
MIGRATIONS: list[str | Callable[[sqlite_utils.Database], None]] = [
    V1, V2, V3, V_PLATFORMS, V_SEARCH_BLOCKING, V_WORKERS, V_SCHEDULE, V_COOLDOWNS]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def _statements(script: str) -> list[str]:
    """A migration script's statements, whole (SQLite's own test of a complete statement)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer)
            buffer = ""
    return statements


def migrate(db: sqlite_utils.Database) -> int:
    """Bring `db` to SCHEMA_VERSION; returns the old version.

    A new corpus (version 0) is made by every migration in ONE transaction: one commit (and one
    fsync) instead of one per migration, and a crash while it is made leaves no schema at all,
    never half of one. An existing corpus is upgraded one migration per transaction, so a long
    data move keeps the steps already done. Each transaction takes the write lock first (BEGIN
    IMMEDIATE) and reads the version again inside it: two processes opening a new corpus
    together (a crawl and a server) wait for each other, and the second finds the work done
    instead of running it twice. A migration function must not commit on its own."""
    before = schema_version(db)
    if before > SCHEMA_VERSION:
        raise RuntimeError(
            f"corpus schema version {before} is newer than this memoryhole ({SCHEMA_VERSION}); "
            "upgrade memoryhole"
        )
    if before == 0 and SCHEMA_VERSION > 0:
        _apply(db, range(1, SCHEMA_VERSION + 1), expect=0)
    for version in range(schema_version(db) + 1, SCHEMA_VERSION + 1):
        _apply(db, [version], expect=version - 1)
    return before


def _apply(db: sqlite_utils.Database, versions: range | list[int], expect: int) -> None:
    """Run the migrations to `versions` in one write transaction, if the corpus is still at
    `expect` once the lock is held (another process may have done them meanwhile)."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        if schema_version(db) == expect:
            for version in versions:
                step = MIGRATIONS[version - 1]
                if isinstance(step, str):
                    for statement in _statements(step):
                        db.conn.execute(statement)
                else:
                    step(db)
            db.execute(f"PRAGMA user_version = {versions[-1]}")
        db.conn.execute("COMMIT")
    except Exception:
        if db.conn.in_transaction:
            db.conn.rollback()
        raise


NEW_PREFIX = ".new-"   # DATA/.new-<pid>-<random>-corpus.db: a corpus being made, not yet in place


def create(path: Path) -> bool:
    """Make a new corpus database at `path` whole, or not at all; False if another process put
    one there first (then that one is used) or the file system has no hard links (then
    `migrate` makes it in place, in one transaction).

    Every migration runs on a private file beside it with no rollback journal and no syncs (a
    file nobody else sees needs neither: a crash leaves only that file, removed by the next
    creation), is switched to WAL, synced once and linked into place: a fresh corpus costs one
    fsync instead of a journal, a WAL and a sync per migration. The schema is the one `migrate`
    makes (the same statements on a connection set up as `Corpus` sets it up)."""
    _remove_abandoned(path)
    private = path.with_name(f"{NEW_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}")
    try:
        conn = sqlite3.connect(private, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA foreign_keys = ON")   # as on every corpus connection
            conn.execute("BEGIN")
            db = sqlite_utils.Database(conn, execute_plugins=False)
            for step in MIGRATIONS:
                if isinstance(step, str):
                    for statement in _statements(step):
                        conn.execute(statement)
                else:
                    step(db)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        _fsync(private)
        try:
            os.link(private, path)   # never replaces: a corpus made meanwhile is kept
        except FileExistsError:
            return False
        except OSError:   # no hard links on this file system: `migrate` makes it in place
            return False
        _fsync(path.parent)
        return True
    finally:
        for leftover in (private, *(private.with_name(private.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_abandoned(path: Path) -> None:
    """Remove the private files of creations whose process died (a crash while making)."""
    for leftover in path.parent.glob(f"{NEW_PREFIX}*-{path.name}*"):
        try:
            pid = int(leftover.name[len(NEW_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            leftover.unlink(missing_ok=True)
        except (ValueError, PermissionError):   # not ours, or a live process of another user
            continue
