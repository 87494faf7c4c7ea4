"""The Scrapy project: spiders per platform, probes, pipelines into the corpus, middlewares."""
