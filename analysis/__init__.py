"""Analysis: turn the corpus into deletion patterns, and publish them.

- `memoryhole.analysis.tables.analyze(db, data_dir)` runs every step (memoryhole.analysis.pipeline)
  and writes derived tables into the corpus itself (so Datasette shows them next to the evidence) and
  figures into DATA/figures/: rates with denominators and Wilson intervals (rates), time to
  removal as interval-censored, left-truncated survival (outcomes, npmle, survival), jieba tokens
  once per post version (segmentation), per-term rates and weighted log-odds (keywords), bursts,
  accounts, figures. Each step aggregates in SQL or in chunks and replaces its tables in one
  transaction; each run is logged in `analysis_runs`. Methods: docs/analysis.md.
- `memoryhole.analysis.report` reads the analysis tables for the notebooks (the corpus the
  validation and the notebooks' test use is built by `memoryhole.simulated_corpus`, outside the
  stages).
- `memoryhole.analysis.publish` builds the Datasette metadata (table and column descriptions,
  facets; the reason vocabulary comes from `memoryhole.corpus.reasons`) and runs `datasette serve`
  on the corpus.

A removal is always an interval: the post was last seen at `last_seen_at` and confirmed gone at
`first_missing_at`. Failed fetches are never removals.
"""

from memoryhole.corpus import map_array_types

map_array_types()   # analysis inserts numpy and pandas scalars through sqlite-utils
