"""What reading news costs: a feed parsed by feedparser, and an article's answer read by the
news adapter (main text extracted by trafilatura), against the simplest reading of the same
bytes (the page's visible text with parsel, which a version must not compare: it changes with
every "related" box). Pages are the simulated news site's (memoryhole/sandbox/news.py).

    python bench/run.py feeds          # BENCH_FEED_ARTICLES (default 300) pages
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from _common import Figure, env_int, median, table
from memoryhole.crawlers.platforms.html_pages import read_page, visible_text
from memoryhole.crawlers.platforms.news import parse_article, parse_feed

from memoryhole.sandbox.news import NewsSpec, NewsWorld, article_page

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def main() -> list[Figure]:
    n = env_int("BENCH_FEED_ARTICLES", 300)
    world = NewsWorld(NewsSpec(articles=n, feed_size=min(n, 50)), AT, seed=7)
    pages = [article_page(a, AT + timedelta(minutes=i % 5)) for i, a in enumerate(world.articles)]
    feed = world.feed(AT)
    url = "https://www.example.com/world/2026/1.html"

    # Interleaved page by page (load from other processes falls on both), medians of repeats.
    repeats = env_int("BENCH_REPEATS", 3)
    adapter_runs, plain_runs, feed_runs = [], [], []
    for _ in range(repeats):
        adapter_s = plain_s = 0.0
        for page in pages:
            began = time.perf_counter()
            parse_article(200, page, url, url)
            middle = time.perf_counter()
            visible_text(read_page(200, page))
            adapter_s += middle - began
            plain_s += time.perf_counter() - middle
        adapter_runs.append(1000 * adapter_s / len(pages))
        plain_runs.append(1000 * plain_s / len(pages))
        began = time.perf_counter()
        parse_feed(200, feed, AT)
        feed_runs.append(1000 * (time.perf_counter() - began))
    adapter_ms, plain_ms, feed_ms = median(adapter_runs), median(plain_runs), median(feed_runs)

    print(table(f"reading news ({len(pages)} article pages, a feed of {min(n, 50)} entries)",
                ["what", "ms each"],
                [["article answer (trafilatura main text)", round(adapter_ms, 2)],
                 ["visible text only (parsel)", round(plain_ms, 2)],
                 ["feed (feedparser)", round(feed_ms, 2)]]))
    return [
        Figure("news article answer read, main text", round(adapter_ms, 2), "ms/page",
               baseline=round(plain_ms, 2), baseline_label="visible text only (parsel)",
               goal="< 100 ms/page (polite crawls ask ~1 page/s)"),
        Figure(f"feed of {min(n, 50)} entries read", round(feed_ms, 2), "ms/feed",
               goal="< 200 ms/feed"),
    ]


if __name__ == "__main__":
    main()
