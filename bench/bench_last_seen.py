"""Where a post's last sighting could live: the write each re-sighting costs and the reads it serves.

Issue 12's store goal (bench_ingest: whole store path >= 0.5x raw sighting inserts) ran into the
update every re-sighting makes to its post's ~600-byte `posts` row (`last_seen_at`,
`last_seen_crawl_id`). This measures, on plain SQLite tables shaped like the corpus's, the three
places that state could live:

- column: in `posts` (today), updated by rowid per sighting;
- narrow: a `post_last_seen (post_rowid INTEGER PRIMARY KEY, last_seen_at, last_seen_crawl_id)`
  table updated per sighting, joined by readers;
- derived: nothing written; readers take MAX(seen_at) / MAX(crawl_id) of the post's sightings
  through an index `sightings (platform, post_id, seen_at, crawl_id)`.

Writes: `BENCH_LAST_SEEN_ACCOUNTS` (5,000) accounts x 20 posts (Chinese text), every post re-seen
by 2 polls in transactions of 5,000 sightings (WAL); baseline the sighting inserts alone, same
DDL, interleaved per poll. Reads, after `BENCH_LAST_SEEN_CRAWLS` (10) crawls that each saw every
post: the differ's per-account candidate query (posts of an account last seen before a crawl),
analysis's latest sighting per platform, and the Datasette posts page's default sort (newest
last_seen_at first, 100 rows; no index on it in any design). Baseline: the column. BENCH_QUICK=1:
500 accounts.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, env_int, median, table  # noqa: E402

HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
POSTS_DDL = """
    CREATE TABLE posts (platform TEXT NOT NULL, post_id TEXT NOT NULL, account_id TEXT NOT NULL,
        order_key INTEGER NOT NULL, url TEXT, created_at TEXT, text TEXT, is_long_text INTEGER,
        first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, last_seen_crawl_id INTEGER,
        repost_of TEXT, edit_count INTEGER, version INTEGER, content_hash TEXT, full_text TEXT,
        text_complete INTEGER, created_earliest TEXT, created_latest TEXT, extra TEXT,
        PRIMARY KEY (platform, post_id));
    CREATE INDEX posts_account_order ON posts (platform, account_id, order_key);
    CREATE TABLE post_last_seen (post_rowid INTEGER PRIMARY KEY, last_seen_at TEXT,
        last_seen_crawl_id INTEGER);
"""
SIGHTINGS_DDL = """
    CREATE TABLE sightings (id INTEGER PRIMARY KEY, crawl_id INTEGER NOT NULL,
        platform TEXT NOT NULL, post_id TEXT NOT NULL, account_id TEXT NOT NULL,
        page INTEGER NOT NULL, position INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0,
        seen_at TEXT NOT NULL, page_id INTEGER, via_post_id TEXT);
    CREATE INDEX sightings_crawl ON sightings (crawl_id);
    CREATE INDEX sightings_page ON sightings (page_id);
"""
SIGHTINGS_POST = {"derived": "CREATE INDEX sightings_post ON sightings "
                             "(platform, post_id, seen_at, crawl_id)"}
SIGHTING_INSERT = """INSERT INTO sightings (crawl_id, platform, post_id, account_id, page,
                         position, pinned, seen_at, page_id, via_post_id)
                     VALUES (?,?,?,?,?,?,?,?,?,?)"""
LAST_SEEN_WRITE = {
    "column": """UPDATE posts SET last_seen_at = MAX(last_seen_at, ?2),
                     last_seen_crawl_id = MAX(last_seen_crawl_id, ?3) WHERE rowid = ?1""",
    "narrow": """UPDATE post_last_seen SET last_seen_at = MAX(last_seen_at, ?2),
                     last_seen_crawl_id = MAX(last_seen_crawl_id, ?3) WHERE post_rowid = ?1""",
}
_MAX = ("(SELECT MAX({col}) FROM sightings s "
        "WHERE s.platform = p.platform AND s.post_id = p.post_id)")
_NARROW = "posts p JOIN post_last_seen l ON l.post_rowid = p.rowid"
READS = {
    "differ: an account's posts last seen before a crawl": {
        "column": "SELECT post_id, last_seen_at FROM posts p WHERE platform = 'weibo' "
                  "AND account_id = ? AND last_seen_crawl_id < ?",
        "narrow": f"SELECT p.post_id, l.last_seen_at FROM {_NARROW} WHERE p.platform = 'weibo' "
                  "AND p.account_id = ? AND l.last_seen_crawl_id < ?",
        "derived": f"SELECT p.post_id, {_MAX.format(col='seen_at')} FROM posts p "
                   f"WHERE platform = 'weibo' AND account_id = ? "
                   f"AND {_MAX.format(col='crawl_id')} < ?",
    },
    "analysis: latest sighting per platform": {
        "column": "SELECT platform, MAX(last_seen_at) FROM posts GROUP BY platform",
        "narrow": f"SELECT p.platform, MAX(l.last_seen_at) FROM {_NARROW} GROUP BY p.platform",
        "derived": "SELECT platform, MAX(seen_at) FROM sightings GROUP BY platform",
    },
    "posts page: 100 newest by last_seen_at": {
        "column": "SELECT post_id, last_seen_at FROM posts ORDER BY last_seen_at DESC LIMIT 100",
        "narrow": f"SELECT p.post_id, l.last_seen_at FROM {_NARROW} "
                  "ORDER BY l.last_seen_at DESC LIMIT 100",
        "derived": f"SELECT p.post_id, {_MAX.format(col='seen_at')} AS last FROM posts p "
                   "ORDER BY last DESC LIMIT 100",
    },
}


def _posts(accounts: int, rng: random.Random) -> list[tuple[str, str, int]]:
    key, out = 4_900_000_000_000_000, []
    for a in range(accounts):
        for _ in range(20):
            key += rng.randint(1, 5_000)
            out.append((str(key), str(1_000_000_000 + a * 7919), key))
    return out


def _open(path: Path, design: str, posts: list, rng: random.Random) -> sqlite3.Connection:
    """A database with every post stored once (seen by crawl 1) and no sightings yet."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(POSTS_DDL + SIGHTINGS_DDL)
    conn.execute(SIGHTINGS_POST.get(design, "CREATE INDEX sightings_post ON sightings "
                                            "(platform, post_id)"))
    texts = ["".join(rng.choice(HAN) for _ in range(rng.randint(15, 140))) for _ in range(997)]
    seen = "2026-01-01T00:00:00Z"
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO posts VALUES (" + ",".join("?" * 20) + ")",
        [("weibo", p, a, o, f"https://m.weibo.cn/status/{p}", seen, texts[i % 997], 0, seen,
          seen, 1, None, 0, 1, f"{o:064x}", None, 1, None, None,
          f'{{"bid":"B{o:x}","source":"iPhone客户端"}}') for i, (p, a, o) in enumerate(posts)])
    conn.execute("INSERT INTO post_last_seen SELECT rowid, last_seen_at, last_seen_crawl_id "
                 "FROM posts")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return conn


def _poll(conn: sqlite3.Connection, design: str | None, posts: list, crawl: int) -> float:
    """Every post re-seen by crawl `crawl`, 5,000 sightings a transaction; seconds."""
    seen_at = f"2026-01-{crawl:02d}T00:00:00Z"
    spent = 0.0
    for start in range(0, len(posts), 5_000):
        chunk = posts[start:start + 5_000]
        rows = [(crawl, "weibo", p, a, 1, i % 10, 0, seen_at, start + i, None)
                for i, (p, a, _) in enumerate(chunk)]
        last = [(start + i + 1, seen_at, crawl) for i in range(len(chunk))]
        began = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(SIGHTING_INSERT, rows)
        if design in LAST_SEEN_WRITE:
            conn.executemany(LAST_SEEN_WRITE[design], last)
        conn.execute("COMMIT")
        spent += time.perf_counter() - began
    return spent


def main() -> list[Figure]:
    quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
    accounts = env_int("BENCH_LAST_SEEN_ACCOUNTS", 500 if quick else 5000)
    crawls = max(3, env_int("BENCH_LAST_SEEN_CRAWLS", 10))
    rng = random.Random(7)
    posts = _posts(accounts, rng)
    designs = ("sightings alone", "column", "narrow", "derived")
    with tempfile.TemporaryDirectory(prefix="bench-last-seen-") as tmp:
        conns = {d: _open(Path(tmp) / f"{i}.db", d, posts, random.Random(7))
                 for i, d in enumerate(designs)}
        spent = {d: 0.0 for d in designs}
        for crawl in range(2, crawls + 1):
            for d in (designs if crawl % 2 else designs[::-1]):   # interleaved
                took = _poll(conns[d], d, posts, crawl)
                if crawl <= 3:   # the timed write polls; later ones only grow the sightings
                    spent[d] += took
        n = 2 * len(posts)
        rate = {d: n / spent[d] for d in designs}
        print(table(f"Last-seen writes: {len(posts):,} posts re-seen by 2 polls, transactions "
                    "of 5,000 sightings; sightings/s",
                    ["design", "sightings/s", "vs sightings alone", "us per sighting extra"],
                    [[d, rate[d], f"{rate[d] / rate[designs[0]]:.2f}x",
                      1e6 * (spent[d] - spent[designs[0]]) / n] for d in designs]))
        accs = [str(1_000_000_000 + a * 7919) for a in range(0, accounts, 10)]
        read_ms: dict[str, dict[str, float]] = {}
        for query, by_design in READS.items():
            read_ms[query] = {}
            for d, sql in by_design.items():
                conn = conns[d]
                runs = []
                for _ in range(3):
                    began = time.perf_counter()
                    if "?" in sql:
                        for a in accs:
                            conn.execute(sql, (a, crawls + 1)).fetchall()
                    else:
                        conn.execute(sql).fetchall()
                    runs.append(1e3 * (time.perf_counter() - began))
                read_ms[query][d] = median(runs)
        print()
        print(table(f"Last-seen reads after {crawls} crawls that each saw every post; ms, "
                    f"median of 3 (the differ's query: {len(accs)} accounts)",
                    ["query", "column", "narrow", "derived"],
                    [[q, ms["column"], ms["narrow"], ms["derived"]]
                     for q, ms in read_ms.items()]))
        for conn in conns.values():
            conn.close()
    figures = [Figure(f"re-sighting with last-seen in {d}, {len(posts):,} posts", rate[d],
                      "sightings/s", rate[designs[0]], "sighting inserts alone")
               for d in designs[1:]]
    figures += [Figure(f"{q} ({d}), {len(posts):,} posts x {crawls} crawls", ms[d], "ms",
                       ms["column"], "last_seen in posts (today)", "as fast as today")
                for q, ms in read_ms.items() for d in ("narrow", "derived")]
    return figures


if __name__ == "__main__":
    main()
