"""memoryhole: watch public posts, learn what was removed, when and by whom, and publish it.

This package holds the command line (`memoryhole.cli`), the simulated platform
(`memoryhole.sandbox`) and the demo; the stages live in `crawlers`, `corpus` and `analysis`.
"""
