"""DATASHEET.md: a datasheet for the dataset (motivation, collection, vocabulary, biases)."""

from __future__ import annotations

from typing import Any

from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.reasons import REASON_DESCRIPTIONS, REASONS
from memoryhole.corpus.vocabulary import VOCABULARIES

from .authors import author_name
from .columns import quote
from .context import ReleaseContext


def _thousands(n: int) -> str:
    return f"{n:,}"


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)} {unit}"
    return f"{s:g} s"


def datasheet_md(ctx: ReleaseContext) -> bytes:
    c = ctx.count
    lines: list[str] = []
    add = lines.append
    crawls = ctx.rows("SELECT kind, COUNT(*) AS n, MIN(started_at) AS first, "
                      "MAX(COALESCE(ended_at, started_at)) AS last FROM crawls GROUP BY kind "
                      "ORDER BY kind")
    period = ctx.rows("SELECT MIN(started_at) AS first, MAX(COALESCE(ended_at, started_at)) "
                      "AS last FROM crawls")
    first, last = (period[0]["first"], period[0]["last"]) if period else ("?", "?")
    versions = ctx.rows("SELECT software_version, COUNT(*) AS n FROM crawls "
                        "GROUP BY software_version ORDER BY software_version")
    reasons = {r["reason"]: (r["n"], r["restored"]) for r in ctx.rows(
        "SELECT reason, COUNT(*) AS n, SUM(restored_at IS NOT NULL) AS restored "
        "FROM removals GROUP BY reason")}
    posts = c("SELECT COUNT(*) FROM posts")
    removed_posts = c("SELECT COUNT(DISTINCT platform || ':' || post_id) FROM removals "
                      "WHERE restored_at IS NULL")
    add(f"# Datasheet: {ctx.title}, version {ctx.options.version}")
    add("")
    add(f"Released {ctx.date} (the UTC date the last crawl in the corpus ended). Written by "
        f"`memoryhole release` ({software_version()}); the same corpus, version and key give a "
        "byte-identical release. Structure follows *Datasheets for Datasets* (Gebru et al., "
        "2021).")
    add("")
    add("## Motivation")
    add("")
    add(ctx.description)
    add("")
    add("The dataset measures what disappears from a platform: which public posts were removed, "
        "when (as an interval), and by whom according to the platform's own words (the author, "
        "the platform, or unattributed). Authors: "
        + "; ".join(author_name(a) for a in ctx.authors) + ".")
    add("")
    add("## Composition")
    add("")
    add("| table | rows | one row per |")
    add("|---|---:|---|")
    from memoryhole.analysis.publish import table_descriptions

    descriptions = table_descriptions()
    for table in ctx.tables:
        text = " ".join(str(descriptions.get(table.name, {}).get("description", "")).split())
        first_sentence = text.split(". ")[0].rstrip(".") if text else ""
        add(f"| `{table.name}` | {_thousands(table.rows)} | {first_sentence} |")
    add("")
    removals = c("SELECT COUNT(*) FROM removals")
    restored = c("SELECT COUNT(*) FROM removals WHERE restored_at IS NOT NULL")
    add(f"- Posts observed: {_thousands(posts)}; posts currently removed: "
        f"{_thousands(removed_posts)}; removals recorded: {_thousands(removals)} "
        f"(of which later restored: {_thousands(restored)}).")
    add(f"- Accounts: {_thousands(c('SELECT COUNT(*) FROM accounts'))}, of which marked public "
        f"figures in the crawl plan: {_thousands(len(ctx.figures))}.")
    text = ("included (with identifiers redacted, see below)" if ctx.options.include_text
            else "not included (`--no-text`); text columns are empty")
    add(f"- Post text: {text}.")
    add("- Every CSV in `data/` is also a table of `corpus.db`; `datapackage.json` describes every "
        "column. Times are UTC ISO 8601 text. An empty CSV field is NULL.")
    add("")
    add("## Collection process")
    add("")
    add(f"- Period: {first} to {last} (UTC).")
    add(f"- Platforms: {', '.join(sorted(ctx.plans)) or 'none'}.")
    for kind in crawls:
        add(f"- {kind['kind']} crawls: {_thousands(kind['n'])} ({kind['first']} to {kind['last']}).")
    add("- Software that made the crawls (from the `crawls` table):")
    for v in versions:
        add(f"  - {v['software_version']}: {_thousands(v['n'])} crawl(s)")
    for platform, plan in sorted(ctx.plans.items()):
        add(f"- Watchlists of the latest {platform} plan ({plan.get('name') or 'unnamed'}):")
        for w in plan.get("watchlists") or []:
            n = len(w.get("accounts") or [])
            pf = len(w.get("public_figures") or [])
            add(f"  - `{w.get('name')}`: {_thousands(n)} account(s), every "
                f"{_duration(w.get('every'))}, {w.get('pages')} timeline page(s) per poll"
                + (f", {pf} public figure(s)" if pf else ""))
        polite = plan.get("politeness") or {}
        if polite:
            add(f"  - politeness: delay {_duration(polite.get('delay'))}, concurrency "
                f"{polite.get('concurrency')}, retries {polite.get('retries')}, robots.txt "
                f"{'obeyed' if polite.get('obey_robots_txt') else 'not obeyed'}")
    add("- Method: each poll reads pages 1…N of every watched account's public timeline and "
        "records a sighting of each post. A post that was seen before and is absent from the part "
        "of the timeline a crawl actually covered becomes a candidate; a probe then asks the "
        "platform about that single post, and only the platform's answer (matched against a "
        "catalogue of its messages) makes a removal. Failed fetches (server errors, rate limits, "
        "captchas, truncated pages) are never removals.")
    add("")
    add("## The reason vocabulary")
    add("")
    add("| reason | removals | restored | meaning |")
    add("|---|---:|---:|---|")
    for reason in REASONS:
        n, restored = reasons.get(reason, (0, 0))
        add(f"| `{reason}` | {_thousands(n)} | {_thousands(restored or 0)} | "
            f"{REASON_DESCRIPTIONS[reason]} |")
    add("")
    add("`message` keeps the platform's exact words; for `unknown` they are all there is.")
    add("")
    add("## The other vocabularies")
    add("")
    add("Every status, cause, event and state column holds one of these values "
        "(`corpus/vocabulary.py`).")
    for vocab in VOCABULARIES:
        table, column = vocab.columns[0].split(".")
        counts = {r[0]: r[1] for r in ctx.rows(
            f"SELECT {quote(column)}, COUNT(*) FROM {quote(table)} GROUP BY 1")}
        add("")
        add(f"{vocab.name.capitalize()} ({', '.join(f'`{c}`' for c in vocab.columns)}):")
        add("")
        add(f"| value | rows of `{table}` | meaning |")
        add("|---|---:|---|")
        for value in vocab.values:
            add(f"| `{value}` | {_thousands(counts.get(value, 0))} | {vocab.describe(value)} |")
    add("")
    add("## De-identification")
    add("")
    if ctx.pseudonymised:
        add("- Account ids, screen names and @mentions are replaced by keyed pseudonyms: "
            "`u_` + the first 16 hex digits of HMAC-SHA256(key, \"account\\0<platform>\\0<id>\"); "
            "an @name that is not a known account becomes `m_` + HMAC of the name. Post ids "
            "become `p_` + HMAC (a post id leads back to its author). The key is kept by the "
            "researchers and is not published; the same key gives the same pseudonyms in every "
            "release, so releases can be joined, but nobody without the key can recompute or "
            "test a pseudonym.")
        add("- A screen name is redacted wherever it appears in text, not only after @: a name "
            "that is also a common word is therefore redacted in unrelated posts too.")
        add("- Post ids written in text (after `mid`, inside a URL, glued to a word) become "
            "their pseudonyms too; an id is matched as a whole run of digits, never inside a "
            "longer number.")
        add("- URLs in text, with or without a scheme (`weibo.com/…`, `t.cn/…`), become "
            "`<url>`.")
        add(f"- Accounts marked `public_figures` in a watchlist keep their ids, names and post ids "
            f"({_thousands(len(ctx.figures))} account(s); see `accounts.public_figure`).")
        add("- A leak scan read every file of this release and found no raw id or screen name of "
            "a pseudonymised account and no raw id of a pseudonymised post.")
    else:
        add("- **Not pseudonymised**: the researchers chose to publish raw account ids, screen "
            "names and post ids (`--no-pseudonyms`).")
    add("- Never included: raw responses (`probes.response_body`, headers), WARC references, "
        "request URLs, paging cursors, order keys and local file paths.")
    add("")
    add("## Known biases and how to read the data")
    add("")
    add("- **Pre-publication filtering is invisible.** Posts blocked before they appear on a "
        "timeline are never sighted; the dataset measures removals of posts that were public at "
        "least once, so it understates censorship.")
    add("- **Removal times are intervals.** A post was removed after `last_seen_at` and before "
        "`first_missing_at`; the width depends on the polling cadence above. Treat time to "
        "removal as interval-censored (e.g. Turnbull/Kaplan–Meier on intervals), not as points.")
    add(f"- **Right-censoring.** {_thousands(max(posts - removed_posts, 0))} post(s) were still "
        "visible at their last sighting: their removal time (if any) is only known to be after "
        "`last_seen_at`. Do not count them as never removed; censor them at `last_seen_at`.")
    add("- **Coverage.** Only the first pages of each timeline are read; posts pushed off those "
        "pages between polls are not missing, and removals among them are unseen. Accounts were "
        "chosen by the researchers (watchlists), not sampled from the platform.")
    add("- **`restricted` is not a deletion** (the post exists but is hidden); `unknown` means "
        "the platform's words were not in the catalogue. Account-level reasons "
        "(`account_suspended`, `account_closed`, `account_locked`) remove all of an account's "
        "posts at once.")
    add("- **Restorations.** A removed post seen again gets `restored_at`; if it vanishes again "
        "it gets a new removal row.")
    add("")
    add("## Distribution and maintenance")
    add("")
    add(f"- License: {ctx.license}. Cite with `CITATION.cff`; `.zenodo.json` carries the same "
        "metadata for a Zenodo deposit.")
    add("- Verify the files with `sha256sum -c SHA256SUMS`; browse with "
        "`memoryhole serve --data <this directory>` (Datasette, read-only).")
    add("")
    return "\n".join(lines).encode("utf-8")
