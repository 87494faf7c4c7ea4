"""memoryhole's Datasette plugin (loaded with --plugins-dir by memoryhole.analysis.publish).

- SQL function `jieba_query(q)`: an FTS5 MATCH expression for what a person typed, Chinese
  segmented with the segmenter the database's index was built with (memoryhole.analysis.fts). It
  also replaces Datasette's own `escape_fts()` for input containing Chinese, so the posts table's
  search box and datasette-search-all find 高校食堂 in posts that contain 高校 and 食堂. Its
  dictionary is loaded at start-up (`startup`), not by the first search.
- A post's page (`/corpus/posts/<platform>,<post_id>`, template row-corpus-posts.html): the text
  as last seen, its versions, sightings, probes, events and removal with reason and interval.
  An original never seen intact (known only from a repost's tombstone) has no posts row; the
  same URL then shows what is known (template post-unsighted.html): the tombstones and the
  reposts that showed them, the candidates, probes with their evidence, the removal, events.
- `/-/evidence/<database>/<probe_id>`: what the platform answered to a probe, decoded.
- Links: post ids go to the post's page, removals' probe ids to their evidence.
"""

from __future__ import annotations

import json

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup, escape
from memoryhole.analysis.fts import PLAIN_JIEBA, query_function, stored_segmenter

_query_functions: dict = {}


def _jieba_query(conn):
    """The database's query segmentation (one memoised function per segmenter)."""
    try:
        segmenter = stored_segmenter(conn) or PLAIN_JIEBA
    except Exception:   # an unreadable index configuration: plain jieba, as indexes once were
        segmenter = PLAIN_JIEBA
    if segmenter not in _query_functions:
        _query_functions[segmenter] = query_function(segmenter)
    return _query_functions[segmenter]


# Pages of the corpus read through a memory map rather than copied into each connection's
# cache: Datasette's database page counts every table, and a count of a big FTS5 shadow table
# is one step SQLite cannot interrupt (1M posts: that page 200-240 -> 100-120 ms). Read-only
# here; the OS page cache is shared with the crawler writing the corpus.
MMAP_BYTES = 0x7FFF0000   # SQLITE_MAX_MMAP_SIZE, its default upper bound (a larger value is cut to it)


@hookimpl
def prepare_connection(conn):
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    conn.create_function("jieba_query", 1, _jieba_query(conn), deterministic=True)


@hookimpl(specname="prepare_connection", trylast=True)
def segmenting_escape_fts(conn):
    # trylast: runs after Datasette's own prepare_connection registered escape_fts.
    conn.create_function("escape_fts", 1, _jieba_query(conn), deterministic=True)


def _warm(conn) -> None:
    try:
        segmenter = stored_segmenter(conn) or PLAIN_JIEBA
    except Exception:
        segmenter = PLAIN_JIEBA
    segmenter.tokens("预热搜索")


@hookimpl
def startup(datasette):
    """Load jieba's dictionary before the first request (1.4 s otherwise spent by the first
    search), once per database's segmenter."""
    async def inner():
        for db in datasette.databases.values():
            if db.is_memory:
                continue
            await db.execute_fn(_warm)

    return inner


def post_path(datasette, database: str, platform: str, post_id: str) -> str:
    return datasette.urls.row(database, "posts",
                              f"{tilde_encode(str(platform))},{tilde_encode(str(post_id))}")


def evidence_path(datasette, database: str, probe_id) -> str:
    return datasette.urls.path(f"/-/evidence/{tilde_encode(database)}/{int(probe_id)}")


def _get(row, key):
    try:
        return row[key]
    except (IndexError, KeyError):
        return None


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if value is None or value == "":
        return None
    if column == "post_id" and table != "posts":
        platform = _get(row, "platform")
        if platform:
            href = post_path(datasette, database, platform, value)
            return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')
    if column == "probe_id" and table == "removals" and isinstance(value, int):
        href = evidence_path(datasette, database, value)
        return Markup(f'{value} <a href="{escape(href)}">evidence</a>')
    return None


async def _columns(db, table: str) -> set[str]:
    if table not in await db.table_names():
        return set()
    return set(await db.table_columns(table))


async def _rows(db, sql: str, params) -> list[dict]:
    return [dict(r) for r in (await db.execute(sql, params)).rows]


def _select(columns: set[str], wanted: list[str]) -> str:
    return ", ".join(c for c in wanted if c in columns) or "rowid"


async def post_context(db, pks: list[str]) -> dict | None:
    """Everything the post page shows, or None when there is no such post."""
    post_cols = await _columns(db, "posts")
    if len(pks) == 2:
        rows = await _rows(db, "select rowid as _rowid, * from posts where platform = ? and "
                           "post_id = ?", pks)
    else:
        rows = await _rows(db, "select rowid as _rowid, * from posts where rowid = ?", pks[:1])
    if not rows:
        return None
    post = rows[0]
    key = [post["platform"], post["post_id"]]
    text = post.get("full_text") or post.get("text") if "full_text" in post_cols else post.get("text")
    context = {"post": post, "text": text, "versions": [], "events": [], "probes": [],
               "removals": [], "sightings": [], "sightings_count": 0}

    cols = await _columns(db, "post_versions")
    if cols:
        for v in await _rows(db, f"select {_select(cols, ['version', 'seen_at', 'changed', 'crawl_id'])} "
                             "from post_versions where platform = ? and post_id = ? "
                             "order by version", key):
            try:
                changed = json.loads(v.get("changed") or "{}")
            except ValueError:
                changed = {}
            v["changed_fields"] = changed if isinstance(changed, dict) else {}
            context["versions"].append(v)

    cols = await _columns(db, "sightings")
    if cols:
        context["sightings_count"] = (await db.execute(
            "select count(*) from sightings where platform = ? and post_id = ?", key)).rows[0][0]
        wanted = ["crawl_id", "page", "position", "pinned", "seen_at", "via_post_id"]
        context["sightings"] = await _rows(
            db, f"select {_select(cols, wanted)} from sightings where platform = ? and "
            "post_id = ? order by seen_at desc limit 50", key)

    cols = await _columns(db, "probes")
    if cols:
        wanted = ["id", "purpose", "requested_at", "probed_at", "http_status", "outcome", "reason",
                  "message", "failure"]
        has_body = "response_body" in cols
        extra = ", response_body is not null as has_body" if has_body else ", 0 as has_body"
        context["probes"] = await _rows(
            db, f"select {_select(cols, wanted)}{extra} from probes where platform = ? and "
            "post_id = ? order by id", key)

    cols = await _columns(db, "removals")
    if cols:
        removals = await _rows(
            db, "select *, round((julianday(first_missing_at) - julianday(last_seen_at)) * 24, 3) "
            "as interval_hours from removals where platform = ? and post_id = ? order by id", key)
        context["removals"] = removals

    cols = await _columns(db, "post_events")
    if cols:
        context["events"] = await _rows(
            db, f"select {_select(cols, ['at', 'event', 'reason', 'crawl_id', 'probe_id', 'detail'])} "
            "from post_events where platform = ? and post_id = ? order by at, id", key)
    return context


async def unsighted_post_context(db, platform: str, post_id: str) -> dict | None:
    """What is known of a post that has no posts row (an original known only from a repost's
    tombstone), or None when nothing is."""
    key = [platform, post_id]
    context: dict = {"platform": platform, "post_id": post_id}
    queries = {
        "tombstones": "select t.crawl_id, t.via_post_id, t.reason, t.message, t.seen_at, "
                      "r.account_id as via_account_id, r.text as via_text from tombstones t "
                      "left join posts r on r.platform = t.platform and r.post_id = t.via_post_id "
                      "where t.platform = ? and t.post_id = ? order by t.id",
        "candidates": "select * from candidates where platform = ? and post_id = ? order by id",
        "probes": "select id, purpose, requested_at, probed_at, http_status, outcome, reason, "
                  "message, failure from probes where platform = ? and post_id = ? order by id",
        "removals": "select * from removals where platform = ? and post_id = ? order by id",
        "events": "select at, event, reason, crawl_id, probe_id, detail from post_events "
                  "where platform = ? and post_id = ? order by at, id",
    }
    tables = set(await db.table_names())
    for name, sql in queries.items():
        source = "post_events" if name == "events" else name
        context[name] = await _rows(db, sql, key) if source in tables else []
    if not any(context[name] for name in ("tombstones", "candidates", "probes", "removals")):
        return None
    return context


@hookimpl(tryfirst=True)
def handle_exception(datasette, request, exception):
    """A post page (HTML) for a post without a posts row that the corpus knows otherwise."""
    url_vars = request.url_vars if request is not None else {}
    if (not isinstance(exception, NotFound) or url_vars.get("table") != "posts"
            or url_vars.get("format") or not url_vars.get("pks")):
        return None

    async def inner():
        database = url_vars["database"]
        try:
            db = datasette.get_database(database)
        except KeyError:
            return None
        pks = urlsafe_components(url_vars["pks"])
        if len(pks) != 2:
            return None
        context = await unsighted_post_context(db, pks[0], pks[1])
        if context is None:
            return None
        await datasette.ensure_permissions(request.actor, [
            ("view-table", (database, "posts")), ("view-database", database), "view-instance"])
        for tombstone in context["tombstones"]:
            tombstone["repost_url"] = post_path(datasette, database, pks[0],
                                                tombstone["via_post_id"])
        for probe in context["probes"]:
            probe["evidence_url"] = evidence_path(datasette, database, probe["id"])
        for removal in context["removals"]:
            removal["evidence_url"] = evidence_path(datasette, database, removal["probe_id"])
        return Response.html(await datasette.render_template(
            "post-unsighted.html", {"database": database, "mh": context}, request=request))

    return inner


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    if view_name != "row" or table != "posts" or request is None:
        return {}

    async def inner():
        db = datasette.get_database(database)
        pks = urlsafe_components(request.url_vars["pks"])
        context = await post_context(db, pks)
        if context is None:
            return {"memoryhole_post": None}
        post = context["post"]
        context["account_url"] = datasette.urls.row(
            database, "accounts",
            f"{tilde_encode(str(post['platform']))},{tilde_encode(str(post['account_id']))}")
        context["history_url"] = (datasette.urls.database(database) + "/account_history?"
                                  + "account_id=" + tilde_encode(str(post["account_id"])))
        for probe in context["probes"]:
            probe["evidence_url"] = evidence_path(datasette, database, probe["id"])
        for removal in context["removals"]:
            removal["evidence_url"] = evidence_path(datasette, database, removal["probe_id"])
        return {"memoryhole_post": context}

    return inner


def _decode(body) -> tuple[str | None, bool]:
    """The response body as text (pretty JSON when it is JSON); whether it was JSON."""
    if body is None:
        return None, False
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2), True
    except ValueError:
        return text, False


async def evidence(request, datasette):
    database = request.url_vars["database"]
    probe_id = int(request.url_vars["probe_id"])
    try:
        db = datasette.get_database(database)
    except KeyError:
        raise NotFound(f"no database {database}") from None
    await datasette.ensure_permissions(request.actor, [
        ("view-table", (database, "probes")), ("view-database", database), "view-instance"])
    cols = await _columns(db, "probes")
    if not cols:
        raise NotFound("this database has no probes")
    rows = await _rows(db, "select * from probes where id = ?", [probe_id])
    if not rows:
        raise NotFound(f"no probe {probe_id}")
    probe = rows[0]
    body, is_json = _decode(probe.pop("response_body", None))
    headers = probe.pop("response_headers", None)
    try:
        headers = json.dumps(json.loads(headers), ensure_ascii=False, indent=2) if headers else None
    except ValueError:
        pass
    removals = []
    if await _columns(db, "removals"):
        removals = await _rows(db, "select id, reason, last_seen_at, first_missing_at, restored_at "
                               "from removals where probe_id = ? order by id", [probe_id])
    return Response.html(await datasette.render_template("evidence.html", {
        "database": database, "probe": probe, "body": body, "is_json": is_json,
        "headers": headers, "has_body_column": "response_body" in cols, "removals": removals,
        "post_url": post_path(datasette, database, probe["platform"], probe["post_id"]),
        "probe_url": datasette.urls.row(database, "probes", str(probe_id)),
    }, request=request))


_CSS = ("td.col-text,td.col-full_text,td.col-message,td.col-detail{min-width:22em}"
        "td.col-text,td.col-full_text{font-family:'Noto Sans CJK SC',sans-serif}")


@hookimpl
def extra_css_urls():
    # Chinese text columns wide enough to read (one character per line otherwise).
    from urllib.parse import quote

    return [{"url": "data:text/css," + quote(_CSS)}]


@hookimpl
def register_routes():
    return [(r"^/-/evidence/(?P<database>[^/]+)/(?P<probe_id>[0-9]+)$", evidence)]
