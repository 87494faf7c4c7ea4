"""Shared test builders: corpora in tmp_path, posts and page observations made by code."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from memoryhole.corpus.store import Corpus, PageObservation, ProbeObservation
from memoryhole.crawlers.platforms import ADAPTERS, PostRecord

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)

# The suite's simulated faults are single bad answers, not bans: no cool-downs (crawlers/
# cooldown.py) in any test, module-scoped fixtures included; the gate tests turn them back on.
os.environ["MEMORYHOLE_COOLDOWNS"] = "off"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def post(key: int, account: str = "1001", pinned: bool = False, text: str | None = None,
         edit_count: int = 0, **extra) -> PostRecord:
    return PostRecord(platform="weibo", post_id=str(key), account_id=account, order_key=key,
                      created_at=None, text=text or f"post {key}", screen_name=f"user{account}",
                      pinned=pinned, edit_count=edit_count, **extra)


def page(number: int, posts: list[PostRecord] | None, when: datetime, account: str = "1001",
         outcome: str | None = None, failure: str | None = None, **extra) -> PageObservation:
    outcome = outcome or ("failed" if failure else "posts" if posts else "end")
    return PageObservation(
        platform="weibo", account_id=account, watchlist="w", page=number,
        url=f"http://x/{account}/{number}", requested_at=when, fetched_at=when, http_status=200,
        outcome=outcome, failure=failure, posts=tuple(posts or ()), **extra)


def probe(post_id: str, when: datetime, outcome: str, reason: str | None = None,
          message: str | None = None, failure: str | None = None,
          account: str = "1001", purpose: str = "classify") -> ProbeObservation:
    return ProbeObservation(
        platform="weibo", post_id=post_id, account_id=account, url=f"http://x/s/{post_id}",
        requested_at=when, probed_at=when, http_status=200, outcome=outcome, reason=reason,
        message=message, failure=failure, headers={"Content-Type": ["application/json"]},
        body=b'{"ok":0}', purpose=purpose)


class CorpusBuilder:
    """Drives a corpus crawl by crawl, the way the scheduler does, without the network."""

    def __init__(self, data_dir, pages: int = 2) -> None:
        self.corpus = Corpus(data_dir)
        self.corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
        self.plan = {"platform": "weibo", "watchlists": [{"name": "w", "pages": pages}]}

    def timeline(self, pages: list[PageObservation]):
        from memoryhole.corpus.differ import diff_timeline

        crawl = self.corpus.start_crawl("timeline", "weibo", self.plan)
        self.corpus.record_pages(crawl, pages)
        self.corpus.finish_crawl(crawl, "finished", {})
        return diff_timeline(self.corpus.db, crawl)

    def probes(self, probes: list[ProbeObservation]):
        from memoryhole.corpus.differ import resolve_probes

        crawl = self.corpus.start_crawl("probe", "weibo", self.plan)
        self.corpus.record_probes(crawl, probes)
        self.corpus.finish_crawl(crawl, "finished", {})
        return resolve_probes(self.corpus.db, crawl)

    def open_candidates(self) -> set[str]:
        return {r["post_id"] for r in self.corpus.open_candidates("weibo")}

    def removals(self) -> list[dict]:
        return list(self.corpus.db.query("SELECT * FROM removals ORDER BY id"))

    def events(self, post_id: str) -> list[tuple]:
        return [(r["event"], r["reason"]) for r in self.corpus.db.query(
            "SELECT event, reason FROM post_events WHERE post_id = ? ORDER BY id", [post_id])]


@pytest.fixture
def builder(tmp_path):
    b = CorpusBuilder(tmp_path / "data")
    yield b
    b.corpus.close()
