"""Scrapy settings for memoryhole. Polite defaults; a crawl plan's `politeness:` overrides them."""

from scrapy.settings import default_settings as _scrapy_defaults

BOT_NAME = "memoryhole"
SPIDER_MODULES = ["memoryhole.crawlers.spiders"]
NEWSPIDER_MODULE = "memoryhole.crawlers.spiders"
# Platform spiders (`weibo_timeline`, `weibo_probe`) made by name when asked, not all at start.
SPIDER_LOADER_CLASS = "memoryhole.crawlers.spiders.PlatformSpiderLoader"

USER_AGENT = "memoryhole (research crawler; +https://github.com/memoryhole)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
DOWNLOAD_TIMEOUT = 30
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Per-response machinery sized to what a callback yields (one observation and at most one next
# request): Scrapy's default of 100 starts 100 tasks per response to drain 1-2 outputs, which
# cost more than the parsing. Pipelines here are synchronous, so 1 loses no overlap.
CONCURRENT_ITEMS = 1
# A development lint that re-reads each callback's source per response (its cache is keyed by
# the bound method, made anew each time); tests/test_layout.py-style checks belong in CI.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy's remote control (on by default in Scrapy 2.19: an HTTP server on localhost that runs any
# Python code sent with its token, written to the user's profile) has no place in a measurement
# crawler. It is left out of the base list, not disabled with `None` in EXTENSIONS: Scrapy imports
# every EXTENSIONS key to normalise it, and that module imports aiohttp (0.08 s of every process).
EXTENSIONS_BASE = {path: order for path, order in _scrapy_defaults.EXTENSIONS_BASE.items()
                   if path != "scrapy.extensions.remote_control.RemoteControl"}

# Every answer reaches the spider, which decides what is an observation and what is a failure
# (rule 1), records each failed attempt, and retries it through Scrapy's retry bookkeeping.
HTTPERROR_ALLOW_ALL = True
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES: list[int] = []   # statuses are classified by the spider, not retried blindly
META_COPY_WARN_SKIP_KEYS = ["retry_times"]   # spider-side retries carry their count on purpose

DOWNLOADER_MIDDLEWARES = {
    # Archives each response as received: after the downloader, before HttpCompressionMiddleware
    # (590) decodes the body; process_response runs from the highest number down.
    "memoryhole.crawlers.middlewares.WarcArchiveMiddleware": 950,
    "memoryhole.crawlers.middlewares.RequestTimeMiddleware": 990,
    # Getting through the platform's gate (README "Getting through a platform's gate"): the
    # session's cookies and visitor sessions (after archiving: a redirect to the visitor page
    # is kept), cool-downs next to the network (requests held, answers during one marked before
    # they are archived), and the marked answers set aside (after archiving, also in reparse).
    "memoryhole.crawlers.sessions.SessionMiddleware": 720,
    "memoryhole.crawlers.cooldown.CooldownMiddleware": 960,
    "memoryhole.crawlers.cooldown.HeldAnswerMiddleware": 940,
}
ITEM_PIPELINES = {
    "memoryhole.crawlers.pipelines.CorpusPipeline": 300,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# Where the corpus lives: `-s MEMORYHOLE_DATA=DIR` or the spider argument `-a data=DIR`.
MEMORYHOLE_DATA = None

# Evidence: every response archived as WARC in DATA/warc/, a new file past this size.
MEMORYHOLE_WARC_ENABLED = True
MEMORYHOLE_WARC_MAX_BYTES = 100 * 1024 * 1024
