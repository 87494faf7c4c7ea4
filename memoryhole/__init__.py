"""memoryhole: watch public posts, learn what was removed, when and by whom, and publish it.

This package holds the command line (`memoryhole.cli`), the simulated platform
(`memoryhole.sandbox`) and what drives the pipeline against it (the demo, the validation, the
simulated corpus). The stages are installed beside them from the repository's top-level folders:
`memoryhole.crawlers` (crawlers/), `memoryhole.corpus` (corpus/), `memoryhole.analysis`
(analysis/) and `memoryhole.release` (release/); see [tool.importlinter] in pyproject.toml for
the directions their imports may take.
"""
