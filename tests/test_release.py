"""`memoryhole release` on a corpus made by the real pipeline: reproducible to the byte,
de-identified (checked independently of the release's own leak scan), valid (Frictionless
offline, the CFF schema), and failing loudly on a planted leak or a bad key."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from e2e import memoryhole
from memoryhole.corpus.deid import Pseudonymiser
from memoryhole.release import validate_citation
from pipeline_corpus import ACCOUNTS, PUBLIC_FIGURE, build

from memoryhole.sandbox.ids import mid_to_bid

KEY = b"0123456789abcdef0123456789abcdef-test-key"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("release-corpus")
    built = build(root)
    (root / "release.key").write_bytes(KEY + b"\n")
    (built.data / "release.yaml").write_text(yaml.safe_dump({
        "title": "Removals of public Weibo posts (test)",
        "authors": [{"family-names": "Doe", "given-names": "Jane",
                     "orcid": "https://orcid.org/0000-0002-1825-0097",
                     "affiliation": "Example University"}],
        "keywords": ["censorship", "Weibo"],
    }, allow_unicode=True), encoding="utf-8")
    built.key = root / "release.key"
    return built


def release(corpus, out: Path, *extra: str, version: str = "1.0.0", check: bool = True):
    return memoryhole("release", "--data", str(corpus.data), "--version", version,
                      "--out", str(out), *extra, check=check)


@pytest.fixture(scope="module")
def released(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("releases") / "v1"
    result = release(corpus, out, "--key", str(corpus.key))
    return out, result


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout(released):
    out, result = released
    names = set(files(out))
    tables = {"crawls", "accounts", "posts", "sightings", "pages", "windows", "candidates",
              "probes", "fetch_failures", "removals", "post_events", "post_versions",
              "account_events"}
    assert {"corpus.db", "datapackage.json", "CITATION.cff", ".zenodo.json", "DATASHEET.md",
            "SHA256SUMS"} <= names
    assert {f"data/{t}.csv" for t in tables} <= names
    assert not any("fts" in n for n in names if n.startswith("data/"))
    assert "release 1.0.0:" in result.stderr


def test_two_releases_are_byte_identical(corpus, released, tmp_path):
    first, _ = released
    second = tmp_path / "again"
    release(corpus, second, "--key", str(corpus.key))
    a, b = files(first), files(second)
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert different == [], different
    assert a["corpus.db"][:16] == b"SQLite format 3\0"


def test_pseudonyms_are_stable_across_versions_and_change_with_the_key(corpus, released, tmp_path):
    first, _ = released
    later = tmp_path / "v1.1"
    release(corpus, later, "--key", str(corpus.key), version="1.1.0")
    other_key = tmp_path / "other.key"
    other_key.write_bytes(b"another key entirely, 32+ bytes long!!")
    other = tmp_path / "other"
    release(corpus, other, "--key", str(other_key))

    def account_ids(root):
        with open(root / "data" / "accounts.csv", encoding="utf-8", newline="") as f:
            return [row["account_id"] for row in csv.DictReader(f)]

    assert account_ids(first) == account_ids(later)
    assert account_ids(first) != account_ids(other)
    expected = sorted([Pseudonymiser(KEY).account("weibo", a) for a in ACCOUNTS
                       if a != PUBLIC_FIGURE] + [PUBLIC_FIGURE])
    assert sorted(account_ids(first)) == expected


def test_no_raw_identity_of_an_ordinary_user_anywhere(corpus, released):
    """Checked here byte by byte, independently of the release's own scan."""
    out, result = released
    blobs = files(out)
    for account in corpus.private_accounts:
        needles = [account, corpus.screen_names[account]]
        for needle in needles:
            for name, data in blobs.items():
                assert needle.encode("utf-8") not in data, (needle, name)
    # Nor a raw post id of theirs, although one was written into a post's text three ways.
    assert corpus.posts["canteen"] in corpus.texts["post_ids"]
    for label in ("canteen", "post_ids", "named"):
        for name, data in blobs.items():
            assert corpus.posts[label].encode() not in data, (label, name)
            assert mid_to_bid(corpus.posts[label]).encode() not in data, (label, name)
    # The key is in no file, nor in what the command printed.
    for name, data in blobs.items():
        assert KEY not in data, name
    assert KEY.decode() not in result.stdout + result.stderr
    for path in corpus.data.rglob("*"):
        if path.is_file() and path.name != "corpus.db-wal":
            assert KEY not in path.read_bytes(), path


def test_public_figure_text_mentions_and_urls(corpus, released):
    out, _ = released
    conn = sqlite3.connect(out / "corpus.db")
    try:
        accounts = dict(conn.execute("SELECT account_id, screen_name FROM accounts"))
        assert accounts[PUBLIC_FIGURE] == corpus.screen_names[PUBLIC_FIGURE]
        figure_post = conn.execute("SELECT text FROM posts WHERE post_id = ?",
                                   [corpus.posts["figure"]]).fetchone()
        assert figure_post == (corpus.texts["figure"],)
        alias = Pseudonymiser(KEY).account("weibo", ACCOUNTS[1])
        canteen = conn.execute("SELECT text FROM posts WHERE post_id = ?", [
            Pseudonymiser(KEY).post("weibo", corpus.posts["canteen"])]).fetchone()[0]
        assert canteen == corpus.texts["canteen"].replace(
            "@" + corpus.screen_names[ACCOUNTS[1]], "@" + alias)
        named = conn.execute("SELECT text FROM posts WHERE post_id = ?", [
            Pseudonymiser(KEY).post("weibo", corpus.posts["named"])]).fetchone()[0]
        assert alias in named and Pseudonymiser(KEY).account("weibo", ACCOUNTS[2]) in named
        only = conn.execute("SELECT text FROM posts WHERE post_id = ?", [
            Pseudonymiser(KEY).post("weibo", corpus.posts["canteen_only"])]).fetchone()[0]
        assert "<url>" in only and "t.cn" not in only
        # Raw evidence and crawler bookkeeping never enter a release.
        columns = {(t, c[1]) for (t,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")
            for c in conn.execute(f'PRAGMA table_info("{t}")')}
        for forbidden in ("response_body", "response_headers", "url", "warc_file", "cursor",
                          "order_key", "plan_path", "bid"):
            assert not [tc for tc in columns if tc[1] == forbidden], forbidden
        reasons = {r[0] for r in conn.execute("SELECT reason FROM removals")}
        assert reasons == {"platform_removed", "author_deleted", "unknown"}
    finally:
        conn.close()


def test_frictionless_validates_offline(released):
    out, _ = released
    offline = dict(os.environ, HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                   http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    frictionless = Path(sys.executable).with_name("frictionless")
    result = subprocess.run([str(frictionless), "validate", "--json", "datapackage.json"],
                            cwd=out, env=offline, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report, ensure_ascii=False)[:3000]
    assert result.returncode == 0
    assert len(report["tasks"]) >= 13
    package = json.loads((out / "datapackage.json").read_text("utf-8"))
    posts = next(r for r in package["resources"] if r["path"] == "data/posts.csv")
    assert posts["schema"]["primaryKey"] == ["platform", "post_id"]
    assert posts["hash"] == "sha256:" + hashlib.sha256(
        (out / "data/posts.csv").read_bytes()).hexdigest()
    fields = {f["name"]: f for f in posts["schema"]["fields"]}
    assert fields["last_seen_at"]["type"] == "datetime"
    assert fields["text"]["description"]


def test_citation_zenodo_and_checksums(corpus, released):
    out, _ = released
    cff_text = (out / "CITATION.cff").read_text("utf-8")
    assert validate_citation(cff_text) == []
    cff = yaml.safe_load(cff_text)
    assert cff["type"] == "dataset" and cff["version"] == "1.0.0"
    conn = sqlite3.connect(corpus.data / "corpus.db")
    last_end = conn.execute("SELECT MAX(ended_at) FROM crawls").fetchone()[0]
    conn.close()
    assert str(cff["date-released"]) == last_end[:10]
    assert cff["authors"][0]["family-names"] == "Doe"
    broken = cff_text.replace("type: dataset", "type: novel")
    assert validate_citation(broken)           # the validation can fail
    zenodo = json.loads((out / ".zenodo.json").read_text("utf-8"))
    assert zenodo["upload_type"] == "dataset" and zenodo["version"] == "1.0.0"
    assert zenodo["creators"][0] == {"name": "Doe, Jane", "affiliation": "Example University",
                                     "orcid": "0000-0002-1825-0097"}
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = {line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines()}
    assert listed == set(files(out)) - {"SHA256SUMS"}


def test_datasheet(corpus, released):
    out, _ = released
    sheet = (out / "DATASHEET.md").read_text("utf-8")
    for heading in ("## Motivation", "## Composition", "## Collection process",
                    "## The reason vocabulary", "## De-identification",
                    "## Known biases and how to read the data"):
        assert heading in sheet
    for phrase in ("Pre-publication filtering is invisible", "Right-censoring",
                   "HMAC-SHA256", "every 1 min, 2 timeline page(s)", "1 public figure(s)",
                   "| `platform_removed` | 2 |", "| `unknown` | 1 |", "| `posts` | "):
        assert phrase in sheet, phrase
    assert "memoryhole 0.1.0" in sheet     # software version, from the crawls table
    # Every other vocabulary, from memoryhole.corpus.vocabulary, with its meaning and the corpus's counts.
    from memoryhole.corpus.vocabulary import VOCABULARIES

    assert "## The other vocabularies" in sheet
    for vocab in VOCABULARIES:
        for value in vocab.values:
            assert f"| `{value}` | " in sheet and vocab.describe(value) in sheet, value
    assert "| `unconfirmed_empty_timeline` | 0 |" in sheet and "| `account_gone` | 0 |" in sheet


def test_no_text(corpus, tmp_path):
    out = tmp_path / "no-text"
    release(corpus, out, "--key", str(corpus.key), "--no-text")
    for name, data in files(out).items():
        for label in ("canteen", "campus", "figure"):
            assert corpus.texts[label].encode("utf-8") not in data, (label, name)
        assert "高校".encode() not in data or name == "DATASHEET.md", name
    conn = sqlite3.connect(out / "corpus.db")
    assert conn.execute("SELECT COUNT(*) FROM posts WHERE text IS NOT NULL").fetchone() == (0,)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'posts_fts'").fetchone() is None
    conn.close()
    assert "not included (`--no-text`)" in (out / "DATASHEET.md").read_text("utf-8")


def test_a_planted_leak_fails_the_release(corpus, tmp_path):
    """The researcher writes an ordinary user's screen name and id into release.yaml."""
    config = corpus.data / "release.yaml"
    original = config.read_text("utf-8")
    name = corpus.screen_names[ACCOUNTS[1]]
    planted = yaml.safe_load(original)
    planted["description"] = f"Includes the posts of {name} (uid {ACCOUNTS[2]})."
    config.write_text(yaml.safe_dump(planted, allow_unicode=True), encoding="utf-8")
    try:
        out = tmp_path / "leaky"
        result = release(corpus, out, "--key", str(corpus.key), check=False)
    finally:
        config.write_text(original, encoding="utf-8")
    assert result.returncode == 1
    assert "leak scan failed" in result.stderr
    assert "CITATION.cff: line" in result.stderr and repr(name) in result.stderr
    assert "datapackage.json: description" in result.stderr
    assert ".zenodo.json: description" in result.stderr
    assert repr(ACCOUNTS[2]) in result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".leaky.partial-*"))


@pytest.mark.parametrize("args, message", [
    ([], "--key FILE is required"),
    (["--key", "{missing}"], "no such key file"),
    (["--key", "{short}"], "the key is too short (5 bytes"),
    (["--key", "{data}"], "is a directory"),
    (["--key", "{key}", "--no-pseudonyms"], "contradict each other"),
])
def test_bad_key_is_one_clear_line(corpus, tmp_path, args, message):
    (tmp_path / "short.key").write_bytes(b"short")
    values = {"missing": tmp_path / "missing.key", "short": tmp_path / "short.key",
              "key": corpus.key, "data": corpus.data}
    out = tmp_path / "out"
    result = release(corpus, out, *(a.format(**values) for a in args), check=False)
    assert result.returncode in (1, 2)       # 2: click's own usage errors
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_bad_version_or_output_is_one_clear_line(corpus, tmp_path):
    result = release(corpus, tmp_path / "out", "--key", str(corpus.key), version="1 0",
                     check=False)
    assert result.returncode == 1 and "--version '1 0'" in result.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    result = release(corpus, tmp_path / "full", "--key", str(corpus.key), check=False)
    assert result.returncode == 1 and "is not an empty directory" in result.stderr
    assert (tmp_path / "full" / "x").read_text() == "x"


def test_authors_are_required(corpus, tmp_path):
    config = corpus.data / "release.yaml"
    original = config.read_text("utf-8")
    config.unlink()
    try:
        result = release(corpus, tmp_path / "out", "--key", str(corpus.key), check=False)
        assert result.returncode == 1 and "no authors" in result.stderr
        result = release(corpus, tmp_path / "out", "--key", str(corpus.key),
                         "--author", "Doe, Jane", "--author", "Example Lab")
        cff = yaml.safe_load((tmp_path / "out" / "CITATION.cff").read_text("utf-8"))
        assert cff["authors"] == [{"family-names": "Doe", "given-names": "Jane"},
                                  {"name": "Example Lab"}]
    finally:
        config.write_text(original, encoding="utf-8")


def test_the_release_serves_in_datasette(corpus, released):
    from memoryhole.analysis.publish import is_release, make_datasette, serve_argv

    out, _ = released
    before = files(out)
    assert is_release(out)
    argv = serve_argv(out, port=8999)
    assert argv[4:6] == ["-i", str(out / "corpus.db")]
    ds = make_datasette(out)
    canteen = Pseudonymiser(KEY).post("weibo", corpus.posts["canteen"])

    async def fetch(path):
        return await ds.client.get(path)

    page = asyncio.run(fetch(f"/corpus/posts/weibo,{canteen}"))
    assert page.status_code == 200
    assert "今天高校里的食堂又涨价了" in page.text and "platform_removed" in page.text
    hits = asyncio.run(fetch("/corpus/search_posts.json?q=高校食堂&_shape=array")).json()
    assert [h["post_id"] for h in hits] == [canteen]
    metadata = asyncio.run(fetch("/-/metadata.json")).json()
    assert metadata["title"].endswith("version 1.0.0")
    assert "evidence" not in metadata["databases"]["corpus"]["queries"]
    probe_id = asyncio.run(fetch(f"/corpus/removals.json?post_id={canteen}&_shape=array")
                           ).json()[0]["probe_id"]
    evidence = asyncio.run(fetch(f"/-/evidence/corpus/{probe_id}"))
    assert evidence.status_code == 200
    assert "releases never include raw responses" in evidence.text
    assert files(out) == before          # serving wrote nothing into the release
