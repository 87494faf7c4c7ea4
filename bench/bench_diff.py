"""The diff after a poll, and the probe resolution after it, on corpora of growing size.

For each corpus size (sightings; posts = sightings / 10) a synthetic corpus is built once, straight
into the schema `memoryhole.corpus.store.Corpus` creates (executemany in one transaction, indexes dropped
during the load and recreated after with their own DDL, no ANALYZE, as a real corpus has none),
and cached under bench/.cache/ keyed by size, account count, schema version and generator version.

The corpus is the history of C = sightings / (accounts x 10) timeline crawls of the same
BENCH_DIFF_ACCOUNTS (10,000) accounts, page 1 (10 posts) each time, so each crawl was the size of
the poll. Accounts hold a skewed number of posts (mean C, 10 to 10 C: about 100 and up to 1000 at
10M sightings; exactly one page at 1M, where C = 10), posted through the history, order keys
increasing with time; a post stays on page 1 until newer ones push it off. ~3% of posts have a
candidate history: ~1% removed (10% of those restored later) and ~2% absent once then probed
visible; 5% of accounts have an open candidate from the last crawl. Posts carry text, one version,
a first_seen event; pages, windows, probes, post_events, post_versions are all filled in.

The poll (identical at every size): a new timeline crawl of the same accounts, page 1 each, through
`Corpus.record_pages` (the real path, batches of 500 pages): 0-3 new posts per account pushing
old ones off, ~5% reposts (the original a sighting too, a few shown as tombstones), ~10% of
accounts with a pinned old post, ~1.1% of previously seen posts absent inside the window, some
removed posts seen again (restorations), half the open candidates seen again, 1% failed pages,
3 accounts found suspended (empty timeline, profile gone), 2 with an empty timeline the profile
could not confirm, 20 suspended accounts active again. About 100k sightings.

Timed (wall clock, median of BENCH_REPEATS, sizes interleaved within each repeat, each run on a
fresh copy of the cached corpus: OS cache warm, SQLite's page cache cold, as a new crawl process
sees it): `diff_timeline` for the poll, and `resolve_probes` after a probe crawl that asks about
every open candidate plus 300 confirm probes of earlier removals.
Targets (issue 3): diff < 2 s on 10M sightings; the cost tracks the poll, not the corpus (the
ratio to the smallest corpus, measured in the same run, stays ~1).

Environment: BENCH_SIZES (default 1000000,3000000,10000000), BENCH_DIFF_ACCOUNTS (10000),
BENCH_REPEATS (3), BENCH_CACHE (bench/.cache), BENCH_EXPLAIN=1 (print the diff's query plans);
BENCH_QUICK=1: corpora of 100k and 200k sightings, 1,000 accounts, one repeat (the generator
needs at least 100 sightings an account).
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CACHE_DIR, Figure, env_int, env_ints, human, median, table  # noqa: E402
from memoryhole.corpus.clock import iso  # noqa: E402
from memoryhole.corpus.differ import diff_timeline, resolve_probes  # noqa: E402
from memoryhole.corpus.schema import SCHEMA_VERSION  # noqa: E402
from memoryhole.corpus.store import Corpus, PageObservation, ProbeObservation, content_hash  # noqa: E402
from memoryhole.crawlers.pipelines import FLUSH_EVERY  # noqa: E402
from memoryhole.crawlers.platforms import PostRecord  # noqa: E402
from memoryhole.crawlers.platforms.base import Tombstone  # noqa: E402

GENERATOR_VERSION = 1
DEFAULT_SIZES = (1_000_000, 3_000_000, 10_000_000)
PAGE = 10
BASE_KEY = 4_900_000_000_000_000
T0 = datetime(2026, 3, 1, tzinfo=UTC)
CADENCE = timedelta(minutes=10)
PLATFORM = "weibo"
HAN = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
       "过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都"
       "两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重")
_rng = random.Random(1)
TEXTS = ["".join(_rng.choice(HAN) for _ in range(_rng.randint(20, 120))) for _ in range(997)]
HASHES = [content_hash({"text": t, "edit_count": 0}) for t in TEXTS]
CHANGED = [json.dumps({"edit_count": 0, "text": t}, ensure_ascii=False, sort_keys=True)
           for t in TEXTS]
REMOVED_MESSAGE = "该微博因被投诉违反《微博社区公约》的有关规定，现已无法查看。"
DELETED_MESSAGE = "该微博已被作者删除"
SUSPENDED_MESSAGE = "用户已被封禁"
PLAN = {"platform": PLATFORM, "watchlists": [{"name": "bench", "pages": 1}]}


def account_id(ai: int) -> str:
    return str(1_000_000_000 + ai * 7919)


def key_of(ai: int, j: int, crawl: int) -> int:
    """Order keys grow with time: the crawl a post first appeared before, then account, index."""
    return BASE_KEY + crawl * 10**10 + ai * 10**5 + j


def crawl_time(c: int) -> datetime:
    return T0 + c * CADENCE


class History:
    """Each account's posts and when they were on page 1; deterministic from (size, accounts)."""

    def __init__(self, sightings: int, accounts: int, seed: int = 11) -> None:
        self.accounts = accounts
        self.crawls = max(3, round(sightings / (accounts * PAGE)))
        c = self.crawls
        rng = random.Random(seed)
        # Posts per account: skewed (lognormal), mean C, between 10 and 10 C (a post must spend
        # at least one crawl on page 1 to be in the corpus at all).
        weights = [rng.lognormvariate(0, 0.9) for _ in range(accounts)]
        scale = (c - PAGE) * accounts / sum(weights)
        self.extra = [min(int(w * scale + rng.random()), PAGE * (c - 1)) for w in weights]
        self.n = [PAGE + e for e in self.extra]
        # Absences: (ai, j) -> (first crawl absent, last crawl absent); plus what they were.
        self.absent: dict[tuple[int, int], tuple[int, int]] = {}
        self.events: list[tuple[int, int, int, str]] = []   # (crawl, ai, j, kind)
        for ai in range(accounts):
            for j in range(self.n[ai]):
                first, last = self.first_seen(ai, j), self.last_seen_plain(ai, j)
                if last <= first or rng.random() >= 0.03:
                    continue
                k = rng.randint(first + 1, last)
                roll = rng.random()
                if roll < 0.30:       # removed, and still gone
                    self.absent[(ai, j)] = (k, c)
                    self.events.append((k, ai, j, "removed"))
                elif roll < 0.33:     # removed, restored two crawls later
                    self.absent[(ai, j)] = (k, min(c, k + 1))
                    self.events.append((k, ai, j, "restored"))
                else:                 # absent once, the probe said visible
                    self.absent[(ai, j)] = (k, k)
                    self.events.append((k, ai, j, "visible"))
        # Open candidates: 5% of accounts had a post of page 1 absent from the last crawl.
        self.open: list[tuple[int, int]] = []
        for ai in range(accounts):
            if rng.random() < 0.05:
                j = self.n[ai] - 1 - rng.randint(0, PAGE - 2)   # never the page's oldest
                if (ai, j) not in self.absent and self.first_seen(ai, j) < c:
                    self.absent[(ai, j)] = (c, c)
                    self.open.append((ai, j))
        self.events.sort()

    def created(self, ai: int, j: int) -> int:
        """The crawl before which post j of account ai was posted (0: before the first)."""
        if j < PAGE:
            return 0
        return 2 + (j - PAGE) * (self.crawls - 1) // self.extra[ai]

    def key(self, ai: int, j: int) -> int:
        return key_of(ai, j, self.created(ai, j))

    def posts_by(self, ai: int, c: int) -> int:
        """How many posts account ai had made by crawl c."""
        extra = self.extra[ai]
        return PAGE + min(extra, -(-(c - 1) * extra // (self.crawls - 1)))

    def first_seen(self, ai: int, j: int) -> int:
        return max(1, self.created(ai, j))

    def last_seen_plain(self, ai: int, j: int) -> int:
        """The last crawl that showed post j on page 1 (before any absence)."""
        if j + PAGE < self.n[ai]:
            return self.created(ai, j + PAGE) - 1
        return self.crawls

    def shown(self, ai: int, c: int) -> list[int]:
        m = self.posts_by(ai, c)
        out = []
        for j in range(m - 1, max(-1, m - 1 - PAGE), -1):
            gap = self.absent.get((ai, j))
            if gap is None or not gap[0] <= c <= gap[1]:
                out.append(j)
        return out

    def last_seen(self, ai: int, j: int) -> int:
        last = self.last_seen_plain(ai, j)
        gap = self.absent.get((ai, j))
        if gap is not None and gap[1] >= last:
            last = gap[0] - 1
        return last


# --- building a corpus -------------------------------------------------------------------------

def _seen_at(c: int, ai: int) -> str:
    return iso(crawl_time(c) + timedelta(milliseconds=50 * ai))


def build(sightings: int, accounts: int, target: Path) -> None:
    started = time.perf_counter()
    h = History(sightings, accounts)
    C, A = h.crawls, accounts
    work = target.parent / (target.name + ".building")
    shutil.rmtree(work, ignore_errors=True)
    Corpus(work).close()                      # the schema exactly as the store creates it
    conn = sqlite3.connect(work / "corpus.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -2000000")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                           "AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("BEGIN")
    x = conn.executemany
    plan = json.dumps(PLAN, sort_keys=True)
    x("INSERT INTO crawls (id, kind, platform, plan_json, software_version, started_at, ended_at,"
      " status) VALUES (?,?,?,?,?,?,?,?)",
      [(c, "timeline", PLATFORM, plan, "bench", iso(crawl_time(c)),
        iso(crawl_time(c) + timedelta(minutes=9)), "finished") for c in range(1, C + 1)]
      + [(C + c, "probe", PLATFORM, plan, "bench", iso(crawl_time(c) + timedelta(minutes=9)),
          iso(crawl_time(c) + timedelta(minutes=10)), "finished") for c in range(1, C + 1)])
    suspended = set(random.Random(5).sample(range(A), 20))
    x("INSERT INTO accounts (platform, account_id, screen_name, watchlist, first_seen_at, "
      "last_seen_at, state, state_changed_at) VALUES (?,?,?,?,?,?,?,?)",
      [(PLATFORM, account_id(ai), f"user{ai}", "bench", _seen_at(1, ai), _seen_at(C, ai),
        "suspended" if ai in suspended else "active",
        _seen_at(C, ai) if ai in suspended else None) for ai in range(A)])
    # Pages, windows and sightings, crawl by crawl (ids in time order, as a real corpus has them).
    page_id = 0
    n_sightings = 0
    for c in range(1, C + 1):
        pages, windows, rows = [], [], []
        for ai in range(A):
            page_id += 1
            acc = account_id(ai)
            at = _seen_at(c, ai)
            shown = h.shown(ai, c)
            keys = [h.key(ai, j) for j in shown]
            pages.append((page_id, c, PLATFORM, acc, "bench", 1,
                          f"https://m.weibo.cn/api/container/getIndex?uid={acc}&page=1", at, at,
                          200, "posts", len(keys), keys[0], keys[-1]))
            windows.append((c, PLATFORM, acc, "bench", "covered", 1, 1, 0, keys[0], keys[-1], at))
            for position, key in enumerate(keys):
                rows.append((c, PLATFORM, str(key), acc, 1, position, 0, at, page_id))
        x("INSERT INTO pages (id, crawl_id, platform, account_id, watchlist, page, url, "
          "requested_at, fetched_at, http_status, outcome, n_posts, newest_key, oldest_key) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", pages)
        x("INSERT INTO windows (crawl_id, platform, account_id, watchlist, status, pages_planned,"
          " pages_ok, reached_end, newest_key, oldest_key, requested_at) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?)", windows)
        x("INSERT INTO sightings (crawl_id, platform, post_id, account_id, page, position, "
          "pinned, seen_at, page_id) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        n_sightings += len(rows)
    # Posts, their first version and first_seen event.
    posts, versions, events = [], [], []
    for ai in range(A):
        acc = account_id(ai)
        for j in range(h.n[ai]):
            key = h.key(ai, j)
            first, last = h.first_seen(ai, j), h.last_seen(ai, j)
            t = key % len(TEXTS)
            first_at = _seen_at(first, ai)
            posts.append((PLATFORM, str(key), acc, key,
                          f'{{"bid":"B{key:x}","source":"iPhone客户端"}}',
                          f"https://m.weibo.cn/status/{key}",
                          iso(crawl_time(h.created(ai, j)) - timedelta(minutes=3)), TEXTS[t], 0,
                          first_at, _seen_at(last, ai), last, 0, 1, HASHES[t], 1))
            versions.append((PLATFORM, str(key), 1, HASHES[t], CHANGED[t], first_at, first,
                             (first - 1) * A + ai + 1))
            events.append((PLATFORM, str(key), "first_seen", None, first_at, first, None, None))
    x("INSERT INTO posts (platform, post_id, account_id, order_key, extra, url, created_at, text, "
      "is_long_text, first_seen_at, last_seen_at, last_seen_crawl_id, edit_count, "
      "version, content_hash, text_complete) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", posts)
    n_posts = len(posts)
    del posts
    x("INSERT INTO post_versions (platform, post_id, version, content_hash, changed, seen_at, "
      "crawl_id, page_id) VALUES (?,?,?,?,?,?,?,?)", versions)
    del versions
    # Candidate history: a candidate, its probe, its events; a removal when removed.
    candidates, probes, removals = [], [], []
    probe_id = 0
    for k, ai, j, kind in h.events:
        acc, pid = account_id(ai), str(h.key(ai, j))
        absent_at = _seen_at(k, ai)
        last_at = _seen_at(k - 1, ai)
        probed_at = iso(crawl_time(k) + timedelta(minutes=9, milliseconds=50 * ai))
        probe_id += 1
        removed = kind != "visible"
        probes.append((probe_id, C + k, PLATFORM, pid, acc, f"https://m.weibo.cn/statuses/show?id="
                       f"{pid}", probed_at, probed_at, 200,
                       "removed" if removed else "visible",
                       "platform_removed" if removed else None,
                       REMOVED_MESSAGE if removed else None, b'{"ok":0}'))
        candidates.append((PLATFORM, pid, acc, k, last_at, absent_at,
                           "removed" if removed else "visible", 1, probed_at, C + k))
        events.append((PLATFORM, pid, "missing", None, absent_at, k, None, "window"))
        events.append((PLATFORM, pid, "removed" if removed else "visible",
                       "platform_removed" if removed else None, probed_at, C + k, probe_id,
                       REMOVED_MESSAGE if removed else None))
        if removed:
            restored_at = _seen_at(k + 2, ai) if kind == "restored" else None
            removals.append((PLATFORM, pid, acc, "platform_removed", REMOVED_MESSAGE, last_at,
                             probed_at, k, probe_id, probed_at, 2,
                             None if restored_at else iso(crawl_time(k) + timedelta(days=1)),
                             None if restored_at else "recheck", restored_at,
                             k + 2 if restored_at else None))
            if restored_at:
                events.append((PLATFORM, pid, "restored", "platform_removed", restored_at, k + 2,
                               None, "seen again"))
    for ai, j in h.open:
        acc, pid = account_id(ai), str(h.key(ai, j))
        candidates.append((PLATFORM, pid, acc, C, _seen_at(C - 1, ai), _seen_at(C, ai), "open",
                           0, None, None))
        events.append((PLATFORM, pid, "missing", None, _seen_at(C, ai), C, None, "window"))
    x("INSERT INTO probes (id, crawl_id, platform, post_id, account_id, url, requested_at, "
      "probed_at, http_status, outcome, reason, message, response_body) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", probes)
    x("INSERT INTO candidates (platform, post_id, account_id, opened_crawl_id, last_seen_at, "
      "first_absent_at, status, probes, closed_at, closed_crawl_id) "
      "VALUES (?,?,?,?,?,?,?,?,?,?)", candidates)
    x("INSERT INTO removals (platform, post_id, account_id, reason, message, last_seen_at, "
      "first_missing_at, detected_crawl_id, probe_id, confirmed_at, probes, next_probe_at, "
      "next_probe_purpose, restored_at, restored_crawl_id) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", removals)
    x("INSERT INTO post_events (platform, post_id, event, reason, at, crawl_id, probe_id, detail)"
      " VALUES (?,?,?,?,?,?,?,?)", events)
    # A few tombstones seen through reposts, as history.
    rng = random.Random(9)
    x("INSERT INTO tombstones (crawl_id, page_id, platform, post_id, via_post_id, reason, "
      "message, seen_at) VALUES (?,?,?,?,?,?,?,?)",
      [(c, (c - 1) * A + ai + 1, PLATFORM, str(BASE_KEY - rng.randint(1, 10**9)),
        str(h.key(ai, h.posts_by(ai, c) - 1)), "platform_removed", REMOVED_MESSAGE,
        _seen_at(c, ai))
       for c, ai in ((rng.randint(1, C), rng.randrange(A)) for _ in range(n_sightings // 1000))])
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    meta = {"sightings": n_sightings, "posts": n_posts, "crawls": C, "accounts": A,
            "removals": len(removals), "candidates": len(candidates),
            "build_seconds": time.perf_counter() - started}
    (work / "meta.json").write_text(json.dumps(meta))
    with open(work / "history.pickle", "wb") as f:
        pickle.dump(vars(h), f)     # plain data: loadable whichever module name runs this
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)


def load_history(cached: Path) -> History:
    h = History.__new__(History)
    with open(cached / "history.pickle", "rb") as f:
        h.__dict__.update(pickle.load(f))
    return h


def cached_corpus(sightings: int, accounts: int) -> Path:
    target = CACHE_DIR / (f"diff-s{sightings}-a{accounts}-schema{SCHEMA_VERSION}"
                          f"-gen{GENERATOR_VERSION}")
    if not (target / "meta.json").exists():
        print(f"building the {human(sightings)}-sighting corpus in {target} ...", flush=True)
        build(sightings, accounts, target)
        meta = json.loads((target / "meta.json").read_text())
        print(f"  built in {meta['build_seconds']:.0f} s", flush=True)
    return target


# --- the poll ----------------------------------------------------------------------------------

def _post(ai: int, key: int, when: datetime, **extra) -> PostRecord:
    return PostRecord(platform=PLATFORM, post_id=str(key), account_id=account_id(ai),
                      order_key=key, created_at=when, text=TEXTS[key % len(TEXTS)],
                      screen_name=f"user{ai}", url=f"https://m.weibo.cn/status/{key}",
                      edit_count=0, extra={"bid": f"B{key:x}", "source": "iPhone客户端"},
                      **extra)


def make_poll(h: History, seed: int = 21) -> list[PageObservation]:
    rng = random.Random(seed)
    C, A = h.crawls, h.accounts
    c = C + 1
    when = crawl_time(c)
    gone = set(rng.sample(range(A), 5))
    unconfirmed = set(list(gone)[:2])
    failed = {ai for ai in range(A) if rng.random() < 0.01} - gone
    open_now = set(h.open)
    removed_now = {(ai, j) for (ai, j), (_, last) in h.absent.items() if last == C} - open_now
    recent = sorted((ai, j) for ai, j in removed_now if j >= h.n[ai] - PAGE)   # on page 1
    restore = set(rng.sample(recent, min(30, len(recent))))
    pages = []
    for ai in range(A):
        acc = account_id(ai)
        at = when + timedelta(milliseconds=50 * ai)
        url = f"https://m.weibo.cn/api/container/getIndex?uid={acc}&page=1"
        common = dict(platform=PLATFORM, account_id=acc, watchlist="bench", page=1, url=url,
                      requested_at=at, fetched_at=at + timedelta(milliseconds=300))
        if ai in failed:
            pages.append(PageObservation(**common, http_status=502, outcome="failed",
                                         failure="server_error", posts=()))
            continue
        if ai in gone:
            check = "failed" if ai in unconfirmed else "gone"
            pages.append(PageObservation(
                **common, http_status=200, outcome="end", failure=None, posts=(),
                account_check=check, account_state=None if check == "failed" else "suspended",
                account_message=None if check == "failed" else SUSPENDED_MESSAGE))
            continue
        n = h.n[ai]
        new = []
        for i in range(rng.choice((0, 0, 0, 0, 1, 1, 1, 2, 2, 3))):
            key = key_of(ai, n + i, c)
            if rng.random() < 0.05:     # a repost: its original (another account) is seen too
                okey = BASE_KEY - rng.randint(1, 10**9)
                oacc = 5_000_000_000 + okey % 50_000
                if rng.random() < 0.1:
                    new.append(_post(ai, key, at, original_tombstone=Tombstone(
                        post_id=str(okey), reason="platform_removed", message=REMOVED_MESSAGE)))
                else:
                    original = PostRecord(platform=PLATFORM, post_id=str(okey),
                                          account_id=str(oacc), order_key=okey,
                                          created_at=at - timedelta(hours=5),
                                          text=TEXTS[okey % len(TEXTS)], screen_name=f"o{oacc}",
                                          edit_count=0)
                    new.append(_post(ai, key, at, repost_of=original))
            else:
                new.append(_post(ai, key, at))
        new.reverse()
        old = []
        for j in range(n - 1, max(-1, n - 1 - PAGE), -1):
            if (ai, j) in open_now and rng.random() < 0.5:
                continue                         # still absent: its candidate stays open
            if (ai, j) in removed_now and (ai, j) not in restore:
                continue                         # removed, still gone
            if rng.random() < 0.011:
                continue                         # newly absent: a candidate when in the window
            old.append(_post(ai, h.key(ai, j), crawl_time(h.created(ai, j))))
        pinned = []
        if n > PAGE and rng.random() < 0.10:
            pinned = [_post(ai, h.key(ai, 0), crawl_time(0), pinned=True)]
        shown = pinned + (new + old)[:PAGE - len(pinned)]
        pages.append(PageObservation(**common, http_status=200, outcome="posts", failure=None,
                                     posts=tuple(shown)))
    return pages


def make_probes(db: sqlite3.Connection, when: datetime, seed: int = 31) -> list[ProbeObservation]:
    """A probe of every open candidate, plus confirm probes of 300 earlier removals."""
    rng = random.Random(seed)
    out = []

    def probe(pid: str, acc: str, outcome: str, reason: str | None, message: str | None,
              purpose: str = "classify") -> ProbeObservation:
        return ProbeObservation(
            platform=PLATFORM, post_id=pid, account_id=acc,
            url=f"https://m.weibo.cn/statuses/show?id={pid}", requested_at=when, probed_at=when,
            http_status=200 if outcome != "failed" else 502, outcome=outcome, reason=reason,
            message=message, failure="server_error" if outcome == "failed" else None,
            headers={"Content-Type": ["application/json"]}, body=b'{"ok":0,"msg":"..."}',
            purpose=purpose)

    for pid, acc, cause in db.execute(
            "SELECT post_id, account_id, cause FROM candidates WHERE status = 'open' ORDER BY id"):
        roll = rng.random()
        if cause == "empty_timeline":
            out.append(probe(pid, acc, "removed", "account_suspended", SUSPENDED_MESSAGE))
        elif roll < 0.45:
            out.append(probe(pid, acc, "removed", "platform_removed", REMOVED_MESSAGE))
        elif roll < 0.60:
            out.append(probe(pid, acc, "removed", "author_deleted", DELETED_MESSAGE))
        elif roll < 0.95:
            out.append(probe(pid, acc, "visible", None, None))
        else:
            out.append(probe(pid, acc, "failed", None, None))
    for pid, acc in db.execute(
            "SELECT post_id, account_id FROM removals WHERE restored_at IS NULL "
            "ORDER BY id LIMIT 300"):
        out.append(probe(pid, acc, "removed", "platform_removed", REMOVED_MESSAGE, "confirm"))
    return out


def run_poll(cached: Path, poll: list[PageObservation], workdir: Path) -> dict:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    shutil.copyfile(cached / "corpus.db", workdir / "corpus.db")
    corpus = Corpus(workdir)
    try:
        crawl = corpus.start_crawl("timeline", PLATFORM, PLAN)
        start = time.perf_counter()
        for i in range(0, len(poll), FLUSH_EVERY):
            corpus.record_pages(crawl, poll[i:i + FLUSH_EVERY])
        record_s = time.perf_counter() - start
        corpus.finish_crawl(crawl, "finished", {})
        start = time.perf_counter()
        diff = diff_timeline(corpus.db, crawl)
        diff_s = time.perf_counter() - start
        probe_crawl = corpus.start_crawl("probe", PLATFORM, PLAN)
        probes = make_probes(corpus.db.conn, crawl_time(10**4))
        corpus.record_probes(probe_crawl, probes)
        corpus.finish_crawl(probe_crawl, "finished", {})
        start = time.perf_counter()
        resolution = resolve_probes(corpus.db, probe_crawl)
        resolve_s = time.perf_counter() - start
        poll_sightings = corpus.db.execute("SELECT COUNT(*) FROM sightings WHERE crawl_id = ?",
                                           [crawl]).fetchone()[0]
        return {"record": record_s, "diff": diff_s, "resolve": resolve_s, "diff_result": diff,
                "resolution": resolution, "poll_sightings": poll_sightings}
    finally:
        corpus.close()
        shutil.rmtree(workdir, ignore_errors=True)


def explain(cached: Path, poll: list[PageObservation]) -> None:
    """Print the query plan of each statement the diff runs (BENCH_EXPLAIN=1)."""
    import memoryhole.corpus.differ as differ

    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        shutil.copyfile(cached / "corpus.db", Path(tmp) / "corpus.db")
        corpus = Corpus(tmp)
        crawl = corpus.start_crawl("timeline", PLATFORM, PLAN)
        corpus.record_pages(crawl, poll)
        real = corpus.db.execute
        seen = set()

        def traced(sql, params=None):
            if sql not in seen and sql.lstrip().split(None, 1)[0].upper() in (
                    "SELECT", "UPDATE", "INSERT"):
                seen.add(sql)
                plan = real(f"EXPLAIN QUERY PLAN {sql}", params or []).fetchall()
                print(" ".join(sql.split())[:160])
                for row in plan:
                    print("    ", row[-1])
            return real(sql, params or [])

        corpus.db.execute = traced
        differ.diff_timeline(corpus.db, crawl)
        corpus.close()


def main() -> list[Figure]:
    # BENCH_QUICK=1 (`make bench BENCH=quick`, CI): small corpora that build and run in seconds.
    quick = os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")
    sizes = env_ints("BENCH_SIZES", [100_000, 200_000] if quick else DEFAULT_SIZES)
    accounts = env_int("BENCH_DIFF_ACCOUNTS", 1_000 if quick else 10_000)
    repeats = 1 if quick else env_int("BENCH_REPEATS", 3)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = {s: cached_corpus(s, accounts) for s in sizes}
    polls = {s: make_poll(load_history(cached[s])) for s in sizes}
    gc.collect()
    gc.freeze()     # the polls stay alive all run: keep the collector from walking them
    if os.environ.get("BENCH_EXPLAIN") == "1":
        explain(cached[sizes[-1]], polls[sizes[-1]])
    results: dict[int, list[dict]] = {s: [] for s in sizes}
    workdir = Path(tempfile.mkdtemp(prefix="bench-diff-", dir=CACHE_DIR))
    try:
        for r in range(repeats):
            for s in (sizes if r % 2 == 0 else sizes[::-1]):   # interleaved, alternating order
                results[s].append(run_poll(cached[s], polls[s], workdir / "run"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = sizes[0]
    base_diff = median([x["diff"] for x in results[base]])
    base_resolve = median([x["resolve"] for x in results[base]])
    rows = []
    for s in sizes:
        meta = json.loads((cached[s] / "meta.json").read_text())
        runs = results[s]
        d, rv = median([x["diff"] for x in runs]), median([x["resolve"] for x in runs])
        last = runs[-1]
        rows.append([human(s), meta["sightings"], meta["posts"], last["poll_sightings"],
                     median([x["record"] for x in runs]), d, d / base_diff,
                     last["diff_result"].new_candidates, last["diff_result"].seen_again,
                     last["diff_result"].restored, rv, rv / base_resolve,
                     last["resolution"].probed, last["resolution"].removed])
    print(table(
        f"Diff after a poll ({accounts} accounts x 1 page), median of {repeats} runs; ratios "
        f"against the {human(base)} corpus in the same run (targets: diff < 2 s at 10M, "
        "ratio ~1)",
        ["corpus", "sightings", "posts", "poll sightings", "record poll s", "diff s",
         "diff / smallest", "new cand.", "seen again", "restored", "resolve s",
         "resolve / smallest", "probes", "removed"], rows))
    figures = []
    for s in sizes:
        figures.append(Figure(
            f"diff after a poll of {accounts:,} accounts, {human(s)}-sighting corpus",
            median([x["diff"] for x in results[s]]), "s", base_diff,
            f"same diff, {human(base)} corpus", "< 2 s at 10M; ratio ~1"))
        figures.append(Figure(
            f"resolve_probes after the probe crawl, {human(s)}-sighting corpus",
            median([x["resolve"] for x in results[s]]), "s", base_resolve,
            f"same, {human(base)} corpus", "ratio ~1"))
    return figures


if __name__ == "__main__":
    main()
