"""Sighting ingest: the store's real path against raw executemany of the same sighting rows.

Subject: `Corpus.record_pages` (the path the crawl pipeline uses) fed realistic timeline pages
(10 posts a page, ~5% reposts whose original is a sighting too, ~10% of accounts with a pinned
post, Chinese text, edits) in batches of `memoryhole.crawlers.pipelines.FLUSH_EVERY` pages, one transaction
per batch. Everything it does is timed: the page rows, the sightings, tombstones, the posts
lookup and upsert with the version check, versions, events and accounts.

Baseline: `executemany` of exactly the sighting rows the store wrote (same tuples, same batches,
one BEGIN/COMMIT per batch) into a bare `sightings` table made with the corpus's own DDL and
indexes (no other tables, so no foreign keys to check) in a separate database file with the same
PRAGMAs (WAL, sqlite's default synchronous).

The two sides are interleaved batch by batch, so both databases grow alike and any load from
other processes falls on both. Reported per poll kind, medians of BENCH_REPEATS fresh runs:
(a) store path: sightings written per second of the whole `record_pages` call;
(b) store sightings insert alone: the `INSERT INTO sightings` executemany inside `record_pages`
    (timed through a thin connection wrapper), which also checks the foreign keys to crawls and
    pages (the corpus turns foreign_keys on).
Target (issue 3): (a) / raw >= 0.5.

Environment: BENCH_INGEST_ACCOUNTS (default 5000; two pages each per poll, so ~105k sightings a
poll), BENCH_INGEST_POLLS (default 3: one first poll, all posts new, then re-polls),
BENCH_REPEATS (default 3), BENCH_PROFILE=1 (cProfile one re-poll of the store path);
BENCH_QUICK=1: 200 accounts, one repeat.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, env_int, median, table  # noqa: E402
from memoryhole.corpus.clock import iso  # noqa: E402
from memoryhole.corpus.store import Corpus, PageObservation  # noqa: E402
from memoryhole.crawlers.pipelines import FLUSH_EVERY  # noqa: E402
from memoryhole.crawlers.platforms import PostRecord  # noqa: E402

PAGE_SIZE = 10
PAGES_PER_POLL = 2
REPOST_SHARE = 0.05
PINNED_SHARE = 0.10
EDIT_SHARE = 0.005
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HAN = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
       "过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都"
       "两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重")
# The write a re-sighting that changes nothing else makes (Corpus._upsert_posts): side (d)
# replays every write but this one, the SQL floor if last-seen cost nothing.
LAST_SEEN_UPDATE = "UPDATE posts SET last_seen_at = MAX(last_seen_at, ?2)"
SIGHTING_INSERT = """INSERT INTO sightings (crawl_id, platform, post_id, account_id, page,
                         position, pinned, seen_at, page_id, via_post_id)
                     VALUES (?,?,?,?,?,?,?,?,?,?)"""


# --- synthetic timelines -----------------------------------------------------------------------

class Timelines:
    """Accounts that keep posting; each poll shows the newest PAGES_PER_POLL pages of each."""

    def __init__(self, accounts: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.next_key = 4_900_000_000_000_000
        self.accounts = [str(1_000_000_000 + i * 7919) for i in range(accounts)]
        self.posts: dict[str, list[PostRecord]] = {a: [] for a in self.accounts}
        self.pinned: dict[str, PostRecord | None] = {}
        self.originals: list[PostRecord] = []
        self.poll = 0

    def _text(self) -> str:
        n = self.rng.randint(15, 140)
        return "".join(self.rng.choice(HAN) for _ in range(n))

    def _post(self, account: str, when: datetime, repost: bool = False) -> PostRecord:
        self.next_key += self.rng.randint(1, 5_000)
        key = self.next_key
        original = None
        if repost:
            if not self.originals or self.rng.random() < 0.5:
                self.next_key += 1
                okey = key - self.rng.randint(10_000, 10_000_000)
                oacc = str(5_000_000_000 + self.rng.randint(0, 50_000))
                self.originals.append(PostRecord(
                    platform="weibo", post_id=str(okey), account_id=oacc, order_key=okey,
                    created_at=when - timedelta(hours=3), text=self._text(),
                    screen_name=f"orig{oacc}", url=f"https://m.weibo.cn/status/{okey}",
                    edit_count=0, extra={"bid": f"O{okey:x}", "source": "微博 weibo.com"}))
            original = self.rng.choice(self.originals)
        return PostRecord(
            platform="weibo", post_id=str(key), account_id=account, order_key=key,
            created_at=when, text="转发微博" if repost else self._text(),
            screen_name=f"user{account}", url=f"https://m.weibo.cn/status/{key}",
            edit_count=0, repost_of=original, extra={"bid": f"B{key:x}", "source": "iPhone客户端"})

    def next_poll(self) -> list[PageObservation]:
        """Advance time, let accounts post (every post of the first poll is new), and return
        the pages a timeline crawl would see now."""
        self.poll += 1
        when = T0 + timedelta(minutes=10 * self.poll)
        first = self.poll == 1
        pages = []
        for account in self.accounts:
            timeline = self.posts[account]
            new = PAGES_PER_POLL * PAGE_SIZE if first else self.rng.choice((0, 0, 1, 1, 2, 3))
            for _ in range(new):
                timeline.append(self._post(account, when, self.rng.random() < REPOST_SHARE))
            if first:
                self.pinned[account] = (timeline[0] if self.rng.random() < PINNED_SHARE
                                        else None)
            else:
                for i in range(max(0, len(timeline) - 20), len(timeline)):
                    p = timeline[i]
                    if p is not self.pinned[account] and self.rng.random() < EDIT_SHARE:
                        # an edit: new text, new edit count
                        timeline[i] = PostRecord(**{**p.__dict__, "text": self._text(),
                                                    "edit_count": (p.edit_count or 0) + 1})
            pinned = self.pinned[account]
            newest = [p for p in reversed(timeline) if p is not pinned]
            shown = ([pinned] if pinned else []) + newest
            shown = [PostRecord(**{**p.__dict__, "pinned": True}) if p is pinned else p
                     for p in shown]
            for number in range(1, PAGES_PER_POLL + 1):
                chunk = shown[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
                at = when + timedelta(seconds=number)
                pages.append(PageObservation(
                    platform="weibo", account_id=account, watchlist="bench", page=number,
                    url=f"https://m.weibo.cn/api/container/getIndex?uid={account}&page={number}",
                    requested_at=at, fetched_at=at + timedelta(milliseconds=300),
                    http_status=200, outcome="posts", failure=None, posts=tuple(chunk)))
        return pages


def sighting_rows(crawl_id: int, pages: list[PageObservation], first_page_id: int) -> list[tuple]:
    """The sighting tuples `record_pages` writes for these pages (page ids assigned in order)."""
    rows = []
    for page_id, obs in enumerate(pages, start=first_page_id):
        seen_at = iso(obs.requested_at)
        for position, post in enumerate(obs.posts):
            rows.append((crawl_id, post.platform, post.post_id, post.account_id, obs.page,
                         position, int(post.pinned), seen_at, page_id, None))
            if post.repost_of is not None:
                o = post.repost_of
                rows.append((crawl_id, o.platform, o.post_id, o.account_id, obs.page, position,
                             0, seen_at, page_id, post.post_id))
    return rows


# --- timing the store from inside ----------------------------------------------------------------

class _Rows(list):
    """A SELECT's rows, fetched inside the timer, read back as a cursor would be."""

    description = None

    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


class TimingConnection:
    """Delegates to a sqlite3 connection, adding up the time of each statement kind (SELECTs
    are fetched inside the timer so their cost is theirs), and logging every write with its
    parameters so that the same writes can be replayed raw (side (c))."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.spent: dict[str, float] = defaultdict(float)
        self.replayed: dict[str, float] = defaultdict(float)   # (c) per statement kind
        self.writes: list[tuple[str, list]] = []
        self._kinds: dict[str, tuple[str, bool, bool]] = {}

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def _kind(self, sql: str) -> tuple[str, bool, bool]:
        """(statement kind, is a SELECT, is a write), worked out once per SQL text."""
        known = self._kinds.get(sql)
        if known is None:
            words = sql.split()
            verb = words[0].upper().rstrip(";")
            if verb == "INSERT":
                kind = f"insert {words[2]}"
            elif verb == "SELECT":
                kind = "select " + words[words.index("FROM") + 1] if "FROM" in words else "select"
            else:
                kind = verb.lower()
            known = self._kinds[sql] = (kind, verb == "SELECT",
                                        verb in ("INSERT", "UPDATE", "DELETE"))
        return known

    def _log(self, sql: str, rows: list) -> None:
        if self.writes and self.writes[-1][0] is sql:
            self.writes[-1][1].extend(rows)
        else:
            self.writes.append((sql, list(rows)))

    def execute(self, sql, *args):
        kind, select, write = self._kind(sql)
        start = time.perf_counter()
        cursor = self._conn.execute(sql, *args)
        if select:
            rows = _Rows(cursor.fetchall())
            rows.description = cursor.description   # sqlite-utils' query() reads it
            cursor = rows
        self.spent[kind] += time.perf_counter() - start
        if write:
            self._log(sql, [args[0] if args else ()])
        return cursor

    def executemany(self, sql, rows):
        kind, _, write = self._kind(sql)
        start = time.perf_counter()
        cursor = self._conn.executemany(sql, rows)
        self.spent[kind] += time.perf_counter() - start
        if write:
            self._log(sql, rows)
        return cursor


def open_raw(path: Path, corpus_db: sqlite3.Connection) -> sqlite3.Connection:
    """A bare sightings table with the corpus's own DDL and indexes, same PRAGMAs."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    for (sql,) in corpus_db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'sightings' AND sql IS NOT NULL "
            "ORDER BY type = 'index'"):
        conn.execute(sql)
    conn.commit()
    return conn


def run_once(accounts: int, polls: int, seed: int, profile: bool) -> list[dict]:
    """Fresh databases for the four sides, `polls` polls each, interleaved batch by batch:
    the store path; the store's own writes replayed raw into a mirror corpus, all of them (c)
    and all but the last-seen-only updates (d); raw sightings."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        corpus = Corpus(workdir / "store")
        mirror = Corpus(workdir / "mirror")     # same schema, PRAGMAs and foreign keys
        unseen = Corpus(workdir / "unseen")     # side (d)
        raw = open_raw(workdir / "raw.db", corpus.db.conn)
        timing = TimingConnection(corpus.db.conn)
        corpus.db.conn = timing
        timelines = Timelines(accounts, seed)
        plan = {"platform": "weibo", "watchlists": [{"name": "bench", "pages": PAGES_PER_POLL}]}
        next_page_id, results = 1, []
        for poll in range(1, polls + 1):
            pages = timelines.next_poll()
            crawl = corpus.start_crawl("timeline", "weibo", plan)
            assert mirror.start_crawl("timeline", "weibo", plan) == crawl
            assert unseen.start_crawl("timeline", "weibo", plan) == crawl
            batches = [pages[i:i + FLUSH_EVERY] for i in range(0, len(pages), FLUSH_EVERY)]
            rows_of, skipped = [], 0
            for batch in batches:
                rows_of.append(sighting_rows(crawl, batch, next_page_id))
                next_page_id += len(batch)
            timing.spent.clear()
            timing.replayed.clear()
            spent = {"store": 0.0, "replay": 0.0, "unseen": 0.0, "raw": 0.0}
            profiler = cProfile.Profile() if profile and poll == polls else None
            for i, (batch, rows) in enumerate(zip(batches, rows_of, strict=True)):
                # The replay needs the store's writes first; raw goes first, between or last.
                order = (("raw", "store", "replay", "unseen"), ("store", "raw", "unseen", "replay"),
                         ("store", "replay", "unseen", "raw"))[i % 3]
                for side in order:
                    if side == "store":
                        timing.writes.clear()
                        start = time.perf_counter()
                        if profiler:
                            profiler.enable()
                        corpus.record_pages(crawl, batch)
                        if profiler:
                            profiler.disable()
                        spent["store"] += time.perf_counter() - start
                        writes = list(timing.writes)
                        continue
                    target = {"replay": mirror.db.conn, "unseen": unseen.db.conn}.get(side, raw)
                    start = time.perf_counter()
                    target.execute("BEGIN")
                    if side == "replay":
                        for sql, params in writes:
                            began = time.perf_counter()
                            target.executemany(sql, params)
                            timing.replayed[timing._kind(sql)[0]] += time.perf_counter() - began
                    elif side == "unseen":
                        for sql, params in writes:
                            if sql.lstrip().startswith(LAST_SEEN_UPDATE):
                                skipped += len(params)
                            else:
                                target.executemany(sql, params)
                    else:
                        target.executemany(SIGHTING_INSERT, rows)
                    began = time.perf_counter()
                    target.execute("COMMIT")
                    if side == "replay":
                        timing.replayed["commit"] += time.perf_counter() - began
                    spent[side] += time.perf_counter() - start
            n = sum(len(r) for r in rows_of)
            # (d) must have left out the store's last-seen updates (its SQL text is matched).
            assert poll == 1 or skipped > 0, "side (d) found no last-seen update to leave out"
            parts = dict(timing.spent)
            for db in (corpus.db, mirror.db, unseen.db):
                stored = db.execute("SELECT COUNT(*) FROM sightings WHERE crawl_id = ?",
                                    [crawl]).fetchone()[0]
                assert stored == n, (stored, n)
            results.append({"kind": "first poll (all new)" if poll == 1 else "re-poll",
                            "rows": n, "posts": sum(len(p.posts) for p in pages), **spent,
                            "sightings_part": parts.get("insert sightings", 0.0),
                            "parts": parts, "replayed": dict(timing.replayed)})
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
                print(f"cProfile of the store path, poll {poll}:\n{out.getvalue()}")
        for c in (corpus, mirror, unseen):
            c.close()
        raw.close()
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> list[Figure]:
    # BENCH_QUICK=1 (`make bench BENCH=quick`, CI): a small run that finishes in seconds.
    quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
    accounts = env_int("BENCH_INGEST_ACCOUNTS", 200 if quick else 5000)
    polls = max(2, env_int("BENCH_INGEST_POLLS", 3))
    repeats = 1 if quick else env_int("BENCH_REPEATS", 3)
    profile = env_int("BENCH_PROFILE", 0) == 1
    runs = [run_once(accounts, polls, seed=7 + r, profile=profile and r == 0)
            for r in range(repeats)]
    rows, summary = [], {}
    for kind in ("first poll (all new)", "re-poll", "all polls"):
        per_run = []
        for results in runs:
            chosen = [x for x in results if kind == "all polls" or x["kind"] == kind]
            per_run.append({k: sum(x[k] for x in chosen)
                            for k in ("rows", "store", "raw", "replay", "unseen",
                                      "sightings_part")})
        sides = ("store", "sightings_part", "replay", "unseen")
        rate = {side: median([r["rows"] / r[side] for r in per_run]) for side in ("raw", *sides)}
        ratio = {side: median([r["raw"] / r[side] for r in per_run]) for side in sides}
        a_c = median([r["replay"] / r["store"] for r in per_run])
        rows.append([kind, median([r["rows"] for r in per_run]), rate["raw"],
                     rate["store"], ratio["store"], rate["sightings_part"],
                     ratio["sightings_part"], rate["replay"], ratio["replay"], a_c,
                     rate["unseen"], ratio["unseen"]])
        summary[kind] = (rate["store"], rate["raw"])
    print(table(
        f"Sighting ingest: {accounts} accounts x {PAGES_PER_POLL} pages a poll, {polls} polls, "
        f"batches of {FLUSH_EVERY} pages; sightings/s, median of {repeats} runs "
        "(target: (a)/raw >= 0.5)",
        ["polls", "sightings/run", "raw", "(a) store", "(a)/raw", "(b) store sightings",
         "(b)/raw", "(c) store SQL raw", "(c)/raw", "(a)/(c)", "(d) (c) w/o last-seen",
         "(d)/raw"], rows))
    print("raw: executemany of the same sighting rows into a bare sightings table (same DDL and "
          "indexes, WAL), BEGIN/COMMIT per batch\n"
          "(a): Corpus.record_pages, all of it (pages, sightings, tombstones, posts lookup + "
          "upsert + versions, events, accounts, commit)\n"
          "(b): the INSERT INTO sightings executemany inside (a) alone (no commit; checks "
          "foreign keys)\n"
          "(c): every write (a) made, replayed as executemany with the same parameters into a "
          "mirror corpus, BEGIN/COMMIT per batch: the SQL floor of (a)\n"
          "(d): (c) without the updates that write only a re-sighted post's last_seen_*: the SQL "
          "floor if last-seen cost nothing (its lookup, in (a), is not in (c) or (d))")
    # Where the store path's time goes, and where its SQL floor (c) goes (median runs).
    for kind in ("first poll (all new)", "re-poll"):
        parts: dict[str, list[float]] = defaultdict(list)
        floor: dict[str, list[float]] = defaultdict(list)
        totals = []
        for results in runs:
            chosen = [x for x in results if x["kind"] == kind]
            total = sum(x["store"] for x in chosen)
            totals.append(total)
            sql = 0.0
            for name in {k for x in chosen for k in x["parts"]}:
                spent = sum(x["parts"].get(name, 0.0) for x in chosen)
                parts[name].append(spent)
                sql += spent
            parts["python (outside SQL)"].append(total - sql)
            for name in {k for x in chosen for k in x["replayed"]}:
                floor[name].append(sum(x["replayed"].get(name, 0.0) for x in chosen))
        n = median([sum(x["rows"] for x in results if x["kind"] == kind) for results in runs])
        raw_us = 1e6 * median([sum(x["raw"] for x in results if x["kind"] == kind)
                               for results in runs]) / n
        for title, spent in (("Store path (a)", parts), ("Its SQL replayed, (c)", floor)):
            breakdown = sorted(((name, median(v)) for name, v in spent.items()),
                               key=lambda r: -r[1])
            whole = sum(s for _, s in breakdown)
            print()
            print(table(f"{title}, {kind}: where the time goes (median of runs; raw "
                        f"{raw_us:.2f} us per sighting)",
                        ["part", "seconds", "share", "us per sighting"],
                        [[name, s, f"{100 * s / whole:.0f}%", 1e6 * s / n]
                         for name, s in breakdown]))
    return [Figure(f"store path ({kind}), {accounts:,} accounts x {PAGES_PER_POLL} pages",
                   store, "sightings/s", raw, "raw executemany, same rows", ">= 0.5x")
            for kind, (store, raw) in summary.items()]


if __name__ == "__main__":
    main()
