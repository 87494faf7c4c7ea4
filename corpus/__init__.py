"""The corpus as code: schema, the append-only store, the differ, exports (memoryhole.corpus).

It imports no other stage and no Scrapy: crawlers/ write into it, analysis/ and release/ read it.
"""
