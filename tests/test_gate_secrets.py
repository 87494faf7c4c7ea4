"""A researcher's cookie is never written anywhere: not in a log, the corpus, a WARC record, an
export or a release. A secret SUB value is planted (a cookies.txt file, or an environment
variable), the simulated platform only answers requests that carry it, and every file the
pipeline writes — the data directory (WARC files decompressed), a release, Datasette's prepared
corpus, exports — and every line it prints are searched for it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from memoryhole.corpus.clock import iso
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers.plan import CookieSource
from memoryhole.crawlers.sessions import (
    parse_cookie_line,
    parse_cookies_txt,
    read_cookies,
    redact_headers,
)

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SECRET = "_2A25SECRETxq81vNoTeVeRlOgGeD9Zk"
ACCOUNTS = ["1001", "1002", "1003"]


def run(*args: str, now: datetime | None = None, env: dict | None = None) -> str:
    environment = {**os.environ, **(env or {})}
    if now is not None:
        environment["MEMORYHOLE_NOW"] = iso(now)
    done = subprocess.run([sys.executable, *args], env=environment, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def cli(*args: str, **kw) -> str:
    return run("-m", "memoryhole.cli", *args, **kw)


def every_byte(root: Path) -> dict[str, bytes]:
    """Each file under root as stored, and a .gz file also decompressed (WARC records)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        found[str(path)] = data
        if path.name.endswith(".gz"):
            found[f"{path} (decompressed)"] = gzip.decompress(data)
    return found


@pytest.fixture
def gated():
    scenario = load_scenario({
        "seed": 4, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 3, "first_uid": 1001, "pinned_share": 0, "initial_posts": 15,
                     "posts_per_hour": 0},
        "author_delete": {"share": 0}, "censor": {"share": 0}, "restrict": {"share": 0},
        "restore": {"share": 0}, "suspend": {"accounts": 0}, "unknown": {"share": 0},
        # Only the secret login cookie is answered; anything else gets 432.
        "gate": {"without_cookie": "http_432", "login_cookies": [SECRET]},
    })
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


@pytest.mark.parametrize("source", ["file", pytest.param("env", marks=pytest.mark.long)])
def test_a_planted_cookie_is_never_written_anywhere(gated, tmp_path, source):
    data, out, home = tmp_path / "data", tmp_path / "release", tmp_path / "researcher"
    home.mkdir()
    env = {}
    if source == "file":   # a Netscape cookies.txt as a browser exports it
        (home / "cookies.txt").write_text(
            "# Netscape HTTP Cookie File\n"
            f"#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tSUB\t{SECRET}\n"
            f"127.0.0.1\tFALSE\t/\tFALSE\t0\tSUBP\t{SECRET}P\n"
            f".weibo.com\tTRUE\t/\tFALSE\t0\tSUB\tnot-for-this-host\n", encoding="utf-8")
        cookies = {"file": "cookies.txt"}
    else:
        env["WEIBO_COOKIE"] = f"Cookie: SUB={SECRET}; SUBP={SECRET}P"
        cookies = {"env": "WEIBO_COOKIE"}
    plan = home / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "platform": "weibo", "base_url": gated.url,
        "watchlists": [{"name": "test", "accounts": ACCOUNTS, "every": "10s", "pages": 2}],
        "politeness": {"delay": 0, "concurrency": 4, "timeout": "5s", "retries": 2},
        "access": {"cookies": cookies, "visitor": False, "pace": {"min": "0s", "max": "0s"}},
    }), encoding="utf-8")
    newest = max((p for p in gated.world.truth(T0)["posts"] if p["account_id"] == "1001"),
                 key=lambda p: int(p["post_id"]))["post_id"]

    printed = []
    gated.clock.set(T0 + timedelta(minutes=1))
    printed.append(cli("crawl", str(plan), "--data", str(data), "--once", "--log-level",
                       "DEBUG", now=T0 + timedelta(minutes=1), env=env))
    gated.world.schedule(T0 + timedelta(minutes=2), "author_delete", post_id=newest)
    gated.clock.set(T0 + timedelta(minutes=3))
    printed.append(cli("crawl", str(plan), "--data", str(data), "--once", "--log-level",
                       "DEBUG", now=T0 + timedelta(minutes=3), env=env))
    printed.append(cli("analyze", "--data", str(data)))
    printed.append(cli("export", "removals", "--data", str(data)))
    printed.append(cli("evidence", newest, "--data", str(data)))
    printed.append(run("-c", "import sys; from memoryhole.analysis.publish import prepare; "
                       "prepare(sys.argv[1])", str(data)))
    (home / "release.key").write_bytes(b"k" * 32 + b"\n")
    printed.append(cli("release", "--data", str(data), "--version", "1.0.0", "--out", str(out),
                       "--key", str(home / "release.key"), "--author", "Doe, Jane"))

    # The test could fail: the secret went to the platform, which answered with posts ...
    assert gated.gate.stats["login_requests"] > 0
    corpus = Corpus(data, create=False)
    try:
        assert corpus.db.execute(
            "SELECT COUNT(*) FROM pages WHERE outcome = 'posts'").fetchone()[0] > 0
        assert [r[0] for r in corpus.db.execute("SELECT post_id FROM removals")] == [newest]
        recorded = json.loads(corpus.db.execute("SELECT plan_json FROM crawls").fetchone()[0])
    finally:
        corpus.close()
    # ... the crawl recorded where the cookies came from, by name ...
    assert recorded["access"]["cookies"] == (
        {"file": str(home / "cookies.txt"), "env": None} if source == "file"
        else {"file": None, "env": "WEIBO_COOKIE"})
    # ... and a WARC request record says the Cookie header was there, redacted.
    warc = b"".join(v for k, v in every_byte(data).items() if k.endswith("(decompressed)"))
    assert b"Cookie: SUB=<redacted by memoryhole>; SUBP=<redacted by memoryhole>" in warc
    assert b"memoryhole-redacted-headers" in warc

    secret = SECRET.encode()
    written = {**every_byte(data), **every_byte(out)}
    assert len(written) > 10 and any(".warc.gz" in name for name in written)
    leaks = [name for name, content in written.items() if secret in content]
    assert leaks == []
    assert not any(SECRET in text for text in printed)


def test_cookie_files_and_lines_are_read_as_browsers_export_them(tmp_path, monkeypatch):
    exported = parse_cookies_txt(
        "# Netscape HTTP Cookie File\n"
        "#HttpOnly_.weibo.cn\tTRUE\t/\tFALSE\t1767225600\tSUB\t_2A25abc\n"
        ".weibo.cn\tTRUE\t/\tFALSE\t1767225600\tSUBP\t0033Wr\n"
        ".weibo.com\tTRUE\t/\tFALSE\t1767225600\tSUB\tdesktop\n")
    assert [(c.name, c.value, c.domain) for c in exported] == [
        ("SUB", "_2A25abc", ".weibo.cn"), ("SUBP", "0033Wr", ".weibo.cn"),
        ("SUB", "desktop", ".weibo.com")]
    assert [(c.name, c.value) for c in parse_cookie_line("Cookie: SUB=x; SUBP=y=z")] == [
        ("SUB", "x"), ("SUBP", "y=z")]
    (tmp_path / "c.txt").write_text("SUB=only\n")
    assert [c.value for c in read_cookies(CookieSource(file=str(tmp_path / "c.txt")))] == [
        "only"]
    monkeypatch.delenv("NO_SUCH_COOKIE", raising=False)
    with pytest.raises(ValueError, match="NO_SUCH_COOKIE is not set"):
        read_cookies(CookieSource(env="NO_SUCH_COOKIE"))
    with pytest.raises(ValueError, match="does not exist"):
        read_cookies(CookieSource(file=str(tmp_path / "missing.txt")))


def test_secret_headers_are_redacted_names_kept():
    assert redact_headers([
        ("Cookie", "SUB=s3cret; SUBP=p"), ("Set-Cookie", "SUB=s3cret; Max-Age=600; Path=/"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"), ("Accept", "application/json"),
    ]) == [
        ("Cookie", "SUB=<redacted by memoryhole>; SUBP=<redacted by memoryhole>"),
        ("Set-Cookie", "SUB=<redacted by memoryhole>; Max-Age=600; Path=/"),
        ("Proxy-Authorization", "<redacted by memoryhole>"), ("Accept", "application/json"),
    ]


def test_a_crawl_with_cookies_it_cannot_read_stops_at_once_naming_them(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "platform": "weibo", "base_url": "http://127.0.0.1:9",
        "watchlists": [{"name": "w", "accounts": [1001]}],
        "access": {"cookies": {"file": "cookies.txt"}}}), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "memoryhole.cli", "crawl", str(plan), "--data",
                           str(tmp_path / "data"), "--once"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "cookies.txt does not exist" in done.stderr and "Traceback" not in done.stderr
    # Cookies for another site only (a weibo.com export): said so, before any request.
    (tmp_path / "cookies.txt").write_text(
        f".weibo.com\tTRUE\t/\tFALSE\t0\tSUB\t{SECRET}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "memoryhole.cli", "crawl", str(plan), "--data",
                           str(tmp_path / "data"), "--once"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "no cookie for 127.0.0.1" in done.stderr
    assert SECRET not in done.stderr + done.stdout
