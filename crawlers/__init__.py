"""The Scrapy project (memoryhole.crawlers): spiders per platform, probes, pipelines into the
corpus, middlewares, the scheduler, and the replay of archived crawls (reparse)."""
