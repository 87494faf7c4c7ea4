"""A post's history, with the archived response behind each removal.

`post_history(corpus, post_id)` gathers what the corpus knows about one post: versions,
sightings, lifecycle events, candidates, probes, tombstones (with the reposts that showed them)
and removals, also for an original never seen intact (known only from a repost's tombstone);
for the probe that classified each removal it reads the response back from the WARC record the
probe points at (status, headers, time received, decoded body). `format_history` prints it for a person,
`history_record` as JSON for a program.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .clock import iso
from .store import Corpus, WarcRef
from .warc import EvidenceError, contained_path, crawl_files, iter_responses, read_response


class UnknownPost(EvidenceError):
    """No post with that id in the corpus."""


@dataclass(frozen=True)
class ResponseEvidence:
    """The answer a probe got, as archived (or, for corpora made before WARC archiving, as
    stored on the probe row)."""

    probe_id: int
    source: str                      # warc | probe row
    ref: WarcRef | None
    received_at: str
    status: int | None
    reason: str
    protocol: str
    headers: list[tuple[str, str]]
    body: str                        # decoded; JSON pretty-printed, Chinese kept as characters
    raw_bytes: int
    # Other answers to the same URL archived in the same crawl (refused attempts, retries).
    attempts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PostHistory:
    platform: str
    post_id: str
    post: dict[str, Any]
    account: dict[str, Any] | None
    sightings: dict[str, Any]
    versions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[dict[str, Any]] = field(default_factory=list)
    removals: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[int, ResponseEvidence] = field(default_factory=dict)   # by removal id
    seen_intact: bool = True     # False: known only from tombstones, probes and removals


# Where a post never seen intact can still be known from (an original shown as a tombstone).
_KNOWN_FROM = ("tombstones", "candidates", "removals", "probes")


def _post_known_elsewhere(db: sqlite_utils.Database, where: str, args: list[str]
                          ) -> list[dict[str, Any]]:
    """Stand-in post rows for an id absent from posts but present in _KNOWN_FROM: platform, id
    and the author when a candidate, removal or probe named one (a tombstone names none)."""
    found: dict[str, dict[str, Any]] = {}
    for table in _KNOWN_FROM:
        author = "NULL" if table == "tombstones" else "account_id"
        for row in db.query(f"SELECT platform, post_id, {author} AS account_id FROM {table} "
                            f"WHERE {where}", args):
            post = found.setdefault(row["platform"], {
                "platform": row["platform"], "post_id": row["post_id"], "account_id": None})
            post["account_id"] = post["account_id"] or row["account_id"] or None
    return list(found.values())


def post_history(corpus: Corpus, post_id: str, platform: str | None = None) -> PostHistory:
    """Everything the corpus knows about one post; UnknownPost / EvidenceError say what is
    missing."""
    db = corpus.db
    where, args = "post_id = ?", [post_id]
    if platform:
        where, args = where + " AND platform = ?", [post_id, platform]
    posts = list(db.query(f"SELECT * FROM posts WHERE {where}", args))
    seen_intact = bool(posts)
    if not posts:
        posts = _post_known_elsewhere(db, where, args)
    if not posts:
        raise UnknownPost(f"post {post_id}: not in the corpus at {corpus.path}")
    if len(posts) > 1:
        raise UnknownPost(f"post {post_id}: on several platforms "
                          f"({', '.join(p['platform'] for p in posts)}); give --platform")
    post = posts[0]
    key = [post["platform"], post_id]

    def rows(sql: str) -> list[dict[str, Any]]:
        return list(db.query(sql, key))

    summary = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT crawl_id), MIN(seen_at), MAX(seen_at), "
        "SUM(via_post_id IS NOT NULL) FROM sightings WHERE platform = ? AND post_id = ?",
        key).fetchone()
    last_page = next(iter(db.query(
        """SELECT p.crawl_id, p.page, p.warc_file, p.warc_offset, p.warc_record_id
           FROM sightings s JOIN pages p ON p.id = s.page_id
           WHERE s.platform = ? AND s.post_id = ? ORDER BY s.id DESC LIMIT 1""", key)), None)
    history = PostHistory(
        platform=post["platform"], post_id=post_id, post=post,
        account=next(iter(db.query("SELECT * FROM accounts WHERE platform = ? AND account_id = ?",
                                   [post["platform"], post["account_id"]])), None),
        seen_intact=seen_intact,
        sightings={"count": summary[0], "crawls": summary[1], "first_seen_at": summary[2],
                   "last_seen_at": summary[3], "inside_reposts": summary[4] or 0,
                   "last_page": last_page},
        versions=rows("SELECT version, content_hash, changed, seen_at, crawl_id FROM "
                      "post_versions WHERE platform = ? AND post_id = ? ORDER BY version"),
        events=rows("SELECT event, reason, at, crawl_id, probe_id, detail FROM post_events "
                    "WHERE platform = ? AND post_id = ? ORDER BY at, id"),
        candidates=rows("SELECT * FROM candidates WHERE platform = ? AND post_id = ? "
                        "ORDER BY id"),
        probes=rows("SELECT id, crawl_id, url, requested_at, probed_at, http_status, purpose, "
                    "outcome, reason, message, failure, warc_file, warc_offset, warc_record_id "
                    "FROM probes WHERE platform = ? AND post_id = ? ORDER BY id"),
        tombstones=rows("SELECT t.crawl_id, t.via_post_id, t.reason, t.message, t.seen_at, "
                        "r.account_id AS via_account_id, COALESCE(r.full_text, r.text) AS via_text "
                        "FROM tombstones t LEFT JOIN posts r ON r.platform = t.platform "
                        "AND r.post_id = t.via_post_id "
                        "WHERE t.platform = ? AND t.post_id = ? ORDER BY t.id"),
        removals=rows("SELECT * FROM removals WHERE platform = ? AND post_id = ? ORDER BY id"),
    )
    for removal in history.removals:
        if removal["probe_id"] is not None:
            history.evidence[removal["id"]] = probe_evidence(corpus, removal["probe_id"])
    return history


def probe_evidence(corpus: Corpus, probe_id: int) -> ResponseEvidence:
    """The response a probe got, read back from its WARC record."""
    probe = corpus.db.execute(
        "SELECT warc_file, warc_offset, warc_record_id, probed_at, http_status, "
        "response_headers, response_body, crawl_id FROM probes WHERE id = ?",
        [probe_id]).fetchone()
    if probe is None:
        raise EvidenceError(f"probe {probe_id}: not in the corpus")
    file, offset, record_id, probed_at, status, headers_json, body, crawl_id = probe
    if file is None:   # made before WARC archiving: the copy kept on the probe row
        headers = [(k, v) for k, vs in json.loads(headers_json or "{}").items() for v in vs]
        return ResponseEvidence(probe_id, "probe row", None, probed_at, status, "", "",
                                headers, _readable((body or b"").decode("utf-8", "replace")),
                                len(body or b""))
    try:
        contained_path(corpus.data_dir, file)
    except EvidenceError as exc:
        raise EvidenceError(f"probe {probe_id}: warc_file {exc}") from None
    ref = WarcRef(file, offset, record_id)
    archived = read_response(corpus.data_dir, ref)
    attempts = [{"received_at": iso(other.date), "status": other.status,
                 "warc_file": other.ref.file, "warc_offset": other.ref.offset,
                 "warc_record_id": other.ref.record_id}
                for other in _intact_responses(corpus, crawl_id)
                if other.url == archived.url and other.ref.record_id != record_id]
    return ResponseEvidence(probe_id, "warc", ref, iso(archived.date), archived.status,
                            archived.reason, archived.protocol, archived.headers,
                            _readable(archived.text()), len(archived.body), attempts)


def _intact_responses(corpus: Corpus, crawl_id: int) -> list[Any]:
    """A crawl's readable response records; a damaged one (a crawl killed mid-write) ends its
    file's list, and the answer that is shown was checked on its own."""
    found = []
    for path in crawl_files(corpus.data_dir, crawl_id):
        try:
            found.extend(iter_responses(corpus.data_dir, path))
        except EvidenceError:
            continue
    return found


def _readable(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text


# --- output ----------------------------------------------------------------------------------


def history_record(history: PostHistory) -> dict[str, Any]:
    """The history as one JSON-ready dict."""
    removals = []
    for removal in history.removals:
        evidence = history.evidence.get(removal["id"])
        removals.append({**removal, "evidence": None if evidence is None else {
            "probe_id": evidence.probe_id, "source": evidence.source,
            "warc_file": evidence.ref.file if evidence.ref else None,
            "warc_offset": evidence.ref.offset if evidence.ref else None,
            "warc_record_id": evidence.ref.record_id if evidence.ref else None,
            "received_at": evidence.received_at, "status": evidence.status,
            "headers": [list(h) for h in evidence.headers], "body": evidence.body,
            "raw_bytes": evidence.raw_bytes, "other_attempts": evidence.attempts}})
    return {"platform": history.platform, "post_id": history.post_id,
            "seen_intact": history.seen_intact, "post": history.post,
            "account": history.account, "sightings": history.sightings,
            "versions": history.versions, "events": history.events,
            "candidates": history.candidates, "probes": history.probes,
            "tombstones": history.tombstones, "removals": removals}


def format_history(history: PostHistory) -> str:
    """The history as text, oldest first within each section."""
    post, seen = history.post, history.sightings
    author = post["account_id"] or "unknown"
    lines = [f"post {history.post_id} ({history.platform}) by account {author}"
             + (f" ({history.account['screen_name']}, {history.account.get('state', 'active')})"
                if history.account and history.account.get("screen_name") else "")]
    if history.seen_intact:
        lines += [f"  {post.get('url') or ''}",
                  f"  text: {_short(post.get('full_text') or post.get('text'))}"]
    else:
        lines.append("  never seen intact: known only from "
                     + ("a repost's tombstone" if history.tombstones else "its probes")
                     + "; its text is unknown")
    if post.get("repost_of"):
        lines.append(f"  repost of {post['repost_of']}")
    if not seen["count"]:
        lines.append("\nsightings: none")
    else:
        lines.append(f"\nsightings: {seen['count']} in {seen['crawls']} crawls, first "
                     f"{seen['first_seen_at']}, last {seen['last_seen_at']}"
                     + (f" ({seen['inside_reposts']} inside reposts)" if seen["inside_reposts"]
                        else ""))
    if seen["last_page"] and seen["last_page"]["warc_file"]:
        page = seen["last_page"]
        lines.append(f"  last seen on page {page['page']} of crawl {page['crawl_id']}: "
                     f"{page['warc_file']}@{page['warc_offset']}")
    lines.append("\nversions:" + ("" if history.versions else " none"))
    for v in history.versions:
        lines.append(f"  v{v['version']}  {v['seen_at']}  crawl {v['crawl_id']}  "
                     f"{_short(v['changed'], 90)}")
    lines.append("\nevents:" + ("" if history.events else " none recorded"))
    for e in history.events:
        lines.append("  " + "  ".join(x for x in (
            e["at"], e["event"], e["reason"] or "", f"crawl {e['crawl_id']}" if e["crawl_id"]
            else "", f"probe {e['probe_id']}" if e["probe_id"] else "", e["detail"] or "") if x))
    lines.append("\ncandidates:" + ("" if history.candidates else " none"))
    for c in history.candidates:
        lines.append(f"  #{c['id']}  {c['status']}  cause {c.get('cause', 'window')}  opened "
                     f"by crawl {c['opened_crawl_id']}  last seen {c['last_seen_at'] or '-'}  "
                     f"first absent {c['first_absent_at']}  probes {c['probes']}  closed "
                     f"{c['closed_at'] or '-'}")
    if history.tombstones:
        lines.append("\ntombstones (the post's removal as shown inside a repost):")
        for t in history.tombstones:
            lines.append(f"  {t['seen_at']}  via {t['via_post_id']}  {t['reason']}  "
                         f"{t['message'] or ''}")
            if t.get("via_account_id"):
                lines.append(f"     the repost, by account {t['via_account_id']}: "
                             f"{_short(t['via_text'], 90)}")
    lines.append("\nprobes:" + ("" if history.probes else " none"))
    for p in history.probes:
        said = p["reason"] or p["failure"] or ""
        lines.append(f"  #{p['id']}  {p['probed_at']}  {p['purpose']}  {p['outcome']}  {said}  "
                     f"HTTP {p['http_status'] if p['http_status'] is not None else '-'}"
                     + (f"  \"{p['message']}\"" if p["message"] else ""))
    lines.append("\nremovals:" + ("" if history.removals else " none"))
    for r in history.removals:
        lines.append(f"  #{r['id']}  {r['reason']}  \"{r['message'] or ''}\"")
        lines.append(f"     removed in [{r['last_seen_at'] or 'never seen intact'}, "
                     f"{r['first_missing_at']}]")
        lines.append(f"     confirmed {r.get('confirmed_at') or '-'}  probes "
                     f"{r.get('probes', 1)}  restored {r['restored_at'] or '-'}")
        evidence = history.evidence.get(r["id"])
        if evidence is not None:
            lines.extend(_evidence_lines(evidence))
    return "\n".join(lines)


def _evidence_lines(evidence: ResponseEvidence) -> list[str]:
    where = (f"{evidence.ref.file}@{evidence.ref.offset} {evidence.ref.record_id}"
             if evidence.ref else "the probe row (no WARC record)")
    lines = [f"     classified by probe #{evidence.probe_id}; its response, from {where}:",
             f"       received {evidence.received_at}",
             f"       {evidence.protocol} {evidence.status} {evidence.reason}".rstrip()]
    lines += [f"       {name}: {value}" for name, value in evidence.headers]
    lines.append(f"       body ({evidence.raw_bytes} bytes as received), decoded:")
    lines += [f"         {line}" for line in evidence.body.splitlines()]
    if evidence.attempts:
        lines.append("     other answers to the same request in that crawl's archive:")
        lines += [f"       {a['received_at']}  HTTP {a['status']}  "
                  f"{a['warc_file']}@{a['warc_offset']}" for a in evidence.attempts]
    return lines


def _short(text: str | None, limit: int = 120) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 1] + "…"
