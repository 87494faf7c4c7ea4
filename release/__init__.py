"""`memoryhole release`: a versioned, de-identified, byte-reproducible dataset a paper can cite.

    OUT/
      corpus.db            de-identified SQLite (the public tables, and posts_fts when text is in)
      data/<table>.csv     one CSV per public table (UTF-8, header row, empty field = NULL)
      datapackage.json     Frictionless data package: every CSV with its schema and sha256
      CITATION.cff         type: dataset, version, date, authors
      .zenodo.json         upload_type: dataset
      DATASHEET.md         a datasheet for the dataset: motivation, collection, vocabulary, biases
      SHA256SUMS           sha256 of every other file (`sha256sum -c SHA256SUMS`)

Reproducible: two releases of the same corpus with the same version, key and options are byte
for byte identical. Nothing depends on the clock or on the machine: the release date is the UTC
date the corpus's last crawl ended, rows go in primary-key order, the SQLite file is written with
a fixed page size and vacuumed, JSON and YAML keys are in a fixed order.

De-identified (memoryhole.corpus.deid): account ids, screen names and @mentions become keyed pseudonyms,
post ids too (a post id leads back to its author); accounts a watchlist marks `public_figures`
keep their ids and names. Raw responses, WARC references, request URLs, cursors and local paths
never enter a release. Post ids written in text (`mid 5076…`, in a URL) are pseudonymised there too.
A leak scan reads every file of the finished release and fails it (nothing is left at OUT) if a raw
id or screen name of a pseudonymised account, a raw post id of theirs, or the key, appears.

Authors and wording come from `--author` options or DATA/release.yaml:

    title: Removals of public Weibo posts, 2026
    description: ...
    authors:
      - {family-names: Doe, given-names: Jane, orcid: https://orcid.org/0000-0002-1825-0097}
      - {name: Some Lab}
    license: CC-BY-4.0
    keywords: [censorship, Weibo]
    repository: https://example.org/where-the-release-is-archived

The package, one concept a module: `options` (what is asked, what is reported), `source` (reading
the corpus), `columns` (the column policy), `identities` (what is pseudonymised, and the row
transformer), `database` (the SQLite copy), `csv_files`, `authors` (release.yaml, --author),
`context` (what the documents share), `datapackage`, `citation`, `zenodo`, `datasheet`, and
`build` (`build_release`, which runs them in order).
"""

from __future__ import annotations

from .build import build_release
from .citation import validate_citation
from .columns import column_policy
from .identities import Transformer, extra_declarations
from .options import ReleaseError, ReleaseOptions, ReleaseReport
from .source import public_figures

__all__ = ["ReleaseError", "ReleaseOptions", "ReleaseReport", "Transformer", "build_release",
           "column_policy", "extra_declarations", "public_figures", "validate_citation"]
