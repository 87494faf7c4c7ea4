"""Item pipelines: observations into the corpus."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from memoryhole.corpus.store import (
    RESOLVE,
    Corpus,
    FetchFailure,
    LongTextObservation,
    PageObservation,
    ProbeObservation,
)
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

FLUSH_EVERY = 500

log = logging.getLogger(__name__)


class CorpusPipeline:
    """Writes a spider's observations into the corpus and records the crawl itself.

    Opens a `crawls` row (plan, software version, start) when the spider opens, writes items in
    batches of FLUSH_EVERY inside one transaction each (retried whole while another writer holds
    the corpus), and closes the row with the end time, status and Scrapy's stats. A batch that
    cannot be stored at all stops the crawl and leaves its row `running` with its lock released:
    it is never `finished`, and the next `memoryhole crawl` recovers it from its WARC files.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.corpus: Corpus | None = None
        self.crawl_id: int | None = None
        self.pending: dict[type, list[Any]] = {PageObservation: [], ProbeObservation: [],
                                               LongTextObservation: [], FetchFailure: []}
        self.store_error: Exception | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CorpusPipeline:
        pipeline = cls(crawler)
        # The finish reason is known only at spider_closed, which comes after close_spider.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        self.corpus = Corpus(spider.data_dir)
        plan = spider.plan
        self.crawl_id = self.corpus.start_crawl(
            kind=spider.kind, platform=plan.platform, plan=plan.as_record(),
            plan_name=plan.name, plan_path=plan.path, base_url=plan.base_url,
            declaration=spider.adapter.declaration(), members=plan.members(),
        )
        spider.crawl_id = self.crawl_id

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        bucket = self.pending.get(type(item))
        if bucket is None:
            raise TypeError(f"CorpusPipeline cannot store {type(item).__name__}")
        bucket.append(item)
        if sum(len(b) for b in self.pending.values()) >= FLUSH_EVERY:
            self.flush()
        return item

    def flush(self) -> None:
        assert self.corpus is not None and self.crawl_id is not None
        if self.store_error is not None:
            return   # the crawl is stopping; what is pending is in the WARC files
        pending = self.pending
        try:
            self.corpus.record_batch(
                self.crawl_id, failures=pending[FetchFailure], pages=pending[PageObservation],
                probes=pending[ProbeObservation], long_texts=pending[LongTextObservation])
        except sqlite3.Error as exc:
            self.store_error = exc
            log.error("crawl %s: cannot store its results in %s (%s); stopping it. Its answers "
                      "are archived: the next `memoryhole crawl` recovers them.", self.crawl_id,
                      self.corpus.path, exc)
            if getattr(self.crawler, "engine", None) is not None:
                deferred_from_coro(self._stop_crawl())
            return
        self.crawler.stats.inc_value("memoryhole/stored_batches")
        for bucket in self.pending.values():
            bucket.clear()

    async def _stop_crawl(self) -> None:
        try:
            await self.crawler.engine.close_spider_async(reason="store_failed")
        except RuntimeError:   # already closing
            pass

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.corpus is not None:
            self.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.corpus is None:
            return
        if self.store_error is not None:
            # Never `finished`: left `running`, unlocked, for the next start to recover.
            self.corpus.release_crawl(self.crawl_id)
        else:
            status = "finished" if reason == "finished" else "interrupted"
            stats = dict(self.crawler.stats.get_stats(), finish_reason=reason)
            if getattr(spider, "kind", None) == "probe":
                stats[RESOLVE] = "pending"   # until the differ has resolved its answers
            self.corpus.finish_crawl(self.crawl_id, status, stats)
        self.corpus.close()
        self.corpus = None
