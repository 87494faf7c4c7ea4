"""Item pipelines: observations into the corpus."""

from __future__ import annotations

from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from corpus.store import (
    Corpus,
    FetchFailure,
    LongTextObservation,
    PageObservation,
    ProbeObservation,
)

FLUSH_EVERY = 500


class CorpusPipeline:
    """Writes a spider's observations into the corpus and records the crawl itself.

    Opens a `crawls` row (plan, software version, start) when the spider opens, writes items in
    batches of FLUSH_EVERY inside one transaction each, and closes the row with the end time,
    status and Scrapy's stats.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.corpus: Corpus | None = None
        self.crawl_id: int | None = None
        self.pending: dict[type, list[Any]] = {PageObservation: [], ProbeObservation: [],
                                               LongTextObservation: [], FetchFailure: []}

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
        pending = self.pending
        self.corpus.record_failures(self.crawl_id, pending[FetchFailure])
        self.corpus.record_pages(self.crawl_id, pending[PageObservation])
        self.corpus.record_probes(self.crawl_id, pending[ProbeObservation])
        self.corpus.record_long_texts(self.crawl_id, pending[LongTextObservation])
        for bucket in self.pending.values():
            bucket.clear()

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.corpus is not None:
            self.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.corpus is None:
            return
        status = "finished" if reason == "finished" else "interrupted"
        stats = dict(self.crawler.stats.get_stats(), finish_reason=reason)
        self.corpus.finish_crawl(self.crawl_id, status, stats)
        self.corpus.close()
        self.corpus = None
