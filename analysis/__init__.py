"""Analysis: turn the corpus into deletion patterns, and publish them.

- `analysis.tables.analyze(db)` writes derived tables into the corpus itself (so Datasette shows
  them next to the evidence): removals per day, per-account removal rates with their explicit
  denominator, and time to removal as an interval [min_seconds, max_seconds]. It aggregates in
  SQL, replaces earlier versions in one transaction, and logs each run in `analysis_runs`.
- `analysis.publish` builds the Datasette metadata (table and column descriptions, facets; the
  reason vocabulary comes from `corpus.reasons`) and runs `datasette serve` on the corpus.

A removal is always an interval: the post was last seen at `last_seen_at` and confirmed gone at
`first_missing_at`. Failed fetches are never removals.
"""
