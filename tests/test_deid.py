"""memoryhole.corpus.deid: keys, pseudonyms, redaction of free text, and the leak scan on planted leaks."""

import json
import sqlite3

import pytest
from memoryhole.corpus.deid import (
    MIN_KEY_BYTES,
    DeidError,
    Identity,
    LeakScanner,
    Pseudonymiser,
    Redactor,
    load_key,
)

KEY = b"k" * 32
UID, NAME = "1642634101", "技巧酱_1481"
OTHER_UID, OTHER_NAME = "1642634102", "Alice"
FIGURE_UID, FIGURE_NAME = "1642634103", "人民日报"


def redactor(key=KEY):
    return Redactor(Pseudonymiser(key), [
        Identity("weibo", UID, (NAME,), False),
        Identity("weibo", OTHER_UID, (OTHER_NAME,), False),
        Identity("weibo", FIGURE_UID, (FIGURE_NAME,), True),
    ])


def test_key_file_errors_name_the_file_not_the_key(tmp_path):
    with pytest.raises(DeidError, match=r"no such key file.*urandom"):
        load_key(tmp_path / "missing.key")
    with pytest.raises(DeidError, match="is a directory"):
        load_key(tmp_path)
    short = tmp_path / "short.key"
    short.write_bytes(b"secret-but-short\n")
    with pytest.raises(DeidError) as info:
        load_key(short)
    assert "too short (16 bytes" in str(info.value) and "secret-but-short" not in str(info.value)
    unreadable = tmp_path / "unreadable.key"
    unreadable.write_bytes(b"x" * 40)
    unreadable.chmod(0)
    try:
        if not unreadable.stat().st_mode & 0o444 and __import__("os").geteuid() != 0:
            with pytest.raises(DeidError, match="cannot read the key file"):
                load_key(unreadable)
    finally:
        unreadable.chmod(0o600)
    good = tmp_path / "good.key"
    good.write_bytes(b"\n" + b"z" * MIN_KEY_BYTES + b"\n")
    assert load_key(good) == b"z" * MIN_KEY_BYTES


def test_pseudonyms_are_keyed_stable_and_domain_separated():
    a, b = Pseudonymiser(KEY), Pseudonymiser(KEY)
    assert a.account("weibo", UID) == b.account("weibo", UID)
    assert a.account("weibo", UID).startswith("u_") and len(a.account("weibo", UID)) == 18
    assert Pseudonymiser(b"q" * 32).account("weibo", UID) != a.account("weibo", UID)
    assert a.post("weibo", UID)[2:] != a.account("weibo", UID)[2:]
    assert a.account("other", UID) != a.account("weibo", UID)
    # Not a plain hash of the id: without the key it cannot be recomputed.
    import hashlib
    assert hashlib.sha256(UID.encode()).hexdigest()[:16] not in a.account("weibo", UID)


def test_redactor_replaces_mentions_names_ids_and_urls_but_keeps_public_figures():
    r = redactor()
    alias = Pseudonymiser(KEY).account("weibo", UID)
    text = (f"@{NAME} 说：转发{NAME}的话，{UID} 和 @陌生人 也在，{FIGURE_NAME}发了 "
            f"https://t.cn/A6abc ；Alicent 不是 {OTHER_NAME}; 1642634101234 是别的数")
    out = r.text(text)
    assert NAME not in out and f" {UID} " not in out and "陌生人" not in out
    assert f"@{alias}" in out and f"转发{alias}的话" in out
    assert "@" + Pseudonymiser(KEY).mention("weibo", "陌生人") in out
    assert FIGURE_NAME in out and "<url>" in out and "t.cn" not in out
    assert "Alicent" in out                     # ASCII names only match as whole words
    assert OTHER_NAME not in out.replace("Alicent", "")
    assert "1642634101234" in out               # a longer number is not the id
    assert r.account("weibo", FIGURE_UID) == FIGURE_UID
    assert r.post("weibo", "5079548536700000", FIGURE_UID) == "5079548536700000"
    assert r.post("weibo", "5079548536700000", UID).startswith("p_")
    assert list(r.matcher.leaks(out)) == []


def planted_release(root):
    """A release-shaped directory with one planted leak per kind of file."""
    (root / "data").mkdir(parents=True)
    (root / "data" / "posts.csv").write_text(
        "post_id,text,n\np_1,hello,1642634101\np_2,转发技巧酱_1481的话,3\n", encoding="utf-8")
    conn = sqlite3.connect(root / "corpus.db")
    conn.execute("CREATE TABLE accounts (account_id TEXT, n INTEGER, note TEXT)")
    conn.execute("INSERT INTO accounts VALUES ('u_x', 1642634102, 'fine'), "
                 "('u_y', 2, 'was 1642634101')")
    conn.commit()
    conn.close()
    (root / "datapackage.json").write_text(json.dumps(
        {"bytes": 1642634101, "resources": [{"description": "by Alice"}]}), encoding="utf-8")
    (root / "DATASHEET.md").write_text("# ok\n\nwatchlist of 技巧酱_1481\n", encoding="utf-8")
    (root / "CITATION.cff").write_text("title: clean\n", encoding="utf-8")


def test_leak_scan_names_file_and_column_of_every_planted_leak(tmp_path):
    planted_release(tmp_path)
    leaks = LeakScanner(redactor().matcher).scan(
        tmp_path, numeric_columns={"data/posts.csv": {"n"}})
    found = {(leak.file, leak.where, leak.identifier) for leak in leaks}
    assert ("data/posts.csv", "column text (line 3)", NAME) in found
    assert ("corpus.db", "accounts.note", UID) in found
    assert ("datapackage.json", "resources[0].description", OTHER_NAME) in found
    assert ("DATASHEET.md", "line 3", NAME) in found
    # Numbers in numeric columns are values, not identifiers: the CSV's n, the table's integer,
    # the JSON number. The public figure's name is never a leak.
    assert not any(leak.where.startswith("column n") for leak in leaks)
    assert not any(leak.where == "bytes" for leak in leaks)
    assert ("datapackage.json", "bytes", UID) not in found
    assert all(leak.identifier != FIGURE_NAME for leak in leaks)
    assert "CITATION.cff" not in {leak.file for leak in leaks}
    assert str(leaks[0]).startswith(leaks[0].file + ": ")


def test_leak_scan_finds_the_key_and_a_clean_release_passes(tmp_path):
    (tmp_path / "a.md").write_text("nothing here\n", encoding="utf-8")
    scanner = LeakScanner(redactor().matcher, secret=KEY)
    assert scanner.scan(tmp_path) == []
    (tmp_path / "b.txt").write_bytes(b"oops " + KEY)
    assert [leak.identifier for leak in scanner.scan(tmp_path)] == ["<the pseudonymisation key>"]


MID, FIGURE_MID = "5076757426900000", "5076757457000000"


def redactor_with_posts():
    return Redactor(Pseudonymiser(KEY), [
        Identity("weibo", UID, (NAME,), False),
        Identity("weibo", OTHER_UID, ("a.b*c(d)",), False),
        Identity("weibo", FIGURE_UID, (FIGURE_NAME,), True),
    ], posts=[("weibo", MID, UID, "OcX8p4Mzu"), ("weibo", FIGURE_MID, FIGURE_UID),
              ("weibo", "5076757400000001", None)])


def test_post_ids_are_pseudonymised_wherever_they_appear_in_text():
    r = redactor_with_posts()
    alias = Pseudonymiser(KEY).post("weibo", MID)
    text = f"mid {MID}，post{MID}，（{MID}）还有 5076757400000001 和 {FIGURE_MID}"
    out = r.text(text)
    assert MID not in out and "5076757400000001" not in out
    assert out.startswith(f"mid {alias}，post{alias}，（{alias}）")
    assert Pseudonymiser(KEY).post("weibo", "5076757400000001") in out
    assert FIGURE_MID in out                    # a public figure's post keeps its id
    # Its bid is the same post: whole words only.
    assert r.text("见 OcX8p4Mzu 和 xOcX8p4Mzu") == f"见 {alias} 和 xOcX8p4Mzu"
    assert list(r.matcher.leaks(out)) == []
    assert set(r.matcher.leaks(text)) == {MID, "5076757400000001"}


def test_urls_without_a_scheme_are_urls():
    r = redactor_with_posts()
    out = r.text(f"见weibo.com/u_0123456789abcdef/{MID} 和 m.weibo.cn/status/{MID}?x=1，"
                 f"www.example.org 以及 t.cn/A6abc。e.g. file.txt 3.5 不是网址")
    assert out == "见<url> 和 <url>，<url> 以及 <url>。e.g. file.txt 3.5 不是网址"


def test_a_screen_name_with_regex_metacharacters_is_replaced_whole():
    r = redactor_with_posts()
    alias = Pseudonymiser(KEY).account("weibo", OTHER_UID)
    out = r.text("@a.b*c(d) 说得对，a.b*c(d) 也这么说；@a.b*c(d)x 是别人")
    assert out.startswith(f"@{alias} 说得对，{alias} 也这么说；@")
    assert "a.b*c(d) " not in out and "b*c(d)" not in out.split("；")[0]
    assert list(r.matcher.leaks(out)) == []


def test_ids_are_tokens_of_digits_not_parts_of_numbers():
    m = redactor_with_posts().matcher
    # A real leak: the id after letters or inside a path.
    assert list(m.leaks(f"uid{UID}")) == [UID]
    assert list(m.leaks(f"/u/{UID}/{MID}")) == [UID, MID]
    # Not a leak: numbers that merely contain an id's digits, or pseudonyms.
    assert list(m.leaks(f"rows: 9{UID}, {MID}7, total 1{UID}0")) == []
    assert list(m.leaks(Pseudonymiser(KEY).account("weibo", UID))) == []
