"""A WARC reference stored in the corpus never leads outside the data directory: not by an
absolute path, not by `..`, not by a symlink. `memoryhole evidence` and `reparse` refuse it with
one line naming the row, and show nothing of the file it points at."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from e2e import memoryhole
from memoryhole.corpus import warc
from memoryhole.crawlers.reparse import ReparseError, reparse
from test_evidence import crawled, removal_of  # noqa: F401  (the fixture: a crawled corpus)


@pytest.fixture
def copied(crawled, tmp_path):  # noqa: F811
    """A private copy of the crawled corpus (symlinks kept as symlinks) and a deleted post."""
    data, _, deleted = crawled
    copy = tmp_path / "data"
    shutil.copytree(data, copy, symlinks=True)
    return copy, deleted


def set_warc_file(data, table: str, row_id: int, value: str) -> None:
    db = sqlite3.connect(data / "corpus.db")
    with db:
        db.execute(f"UPDATE {table} SET warc_file = ? WHERE id = ?", [value, row_id])
    db.close()


def outside_copy_of(data, tmp_path, file: str):
    """A readable WARC file outside the data directory: reading it would succeed."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    return shutil.copy2(data / file, outside / "x.warc.gz")


def refused(data, post_id: str, probe_id: int) -> str:
    result = memoryhole("evidence", post_id, "--data", str(data), check=False)
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: probe {probe_id}: ") and "outside the data directory" in line
    assert "Traceback" not in result.stderr and "root:" not in result.stdout + result.stderr
    return line


def test_evidence_refuses_an_absolute_path(copied):
    data, deleted = copied
    probe_id = removal_of(data, deleted)["probe_id"]
    set_warc_file(data, "probes", probe_id, "/etc/passwd")
    assert "/etc/passwd" in refused(data, deleted, probe_id)


def test_evidence_refuses_a_path_up_and_out(copied, tmp_path):
    data, deleted = copied
    removal = removal_of(data, deleted)
    outside_copy_of(data, tmp_path, removal["warc_file"])
    set_warc_file(data, "probes", removal["probe_id"], "../outside/x.warc.gz")
    assert "../outside/x.warc.gz" in refused(data, deleted, removal["probe_id"])


def test_evidence_refuses_a_symlink_out(copied, tmp_path):
    data, deleted = copied
    removal = removal_of(data, deleted)
    target = outside_copy_of(data, tmp_path, removal["warc_file"])
    (data / removal["warc_file"]).unlink()
    (data / removal["warc_file"]).symlink_to(target)
    refused(data, deleted, removal["probe_id"])


def test_the_reader_itself_keeps_inside(copied):
    data, deleted = copied
    removal = removal_of(data, deleted)
    ref = warc.WarcRef("/etc/passwd", 0, removal["warc_record_id"])
    with pytest.raises(warc.EvidenceError, match="outside the data directory"):
        warc.read_response(data, ref)
    with pytest.raises(warc.EvidenceError, match="outside the data directory"):
        list(warc.iter_responses(data, data / ".." / "elsewhere.warc.gz"))


def test_reparse_refuses_a_stored_path_out(copied, tmp_path):
    data, deleted = copied
    set_warc_file(data, "probes", removal_of(data, deleted)["probe_id"], "../../etc/passwd")
    with pytest.raises(ReparseError, match=r"probes row \d+: .*outside the data directory"):
        reparse(data, tmp_path / "again")
    line = memoryhole("reparse", "--data", str(data), "--into", str(tmp_path / "again2"),
                      check=False).stderr.strip().splitlines()
    assert len(line) == 1 and "outside the data directory" in line[0]


def test_reparse_refuses_a_symlink_out(copied, tmp_path):
    data, deleted = copied
    removal = removal_of(data, deleted)
    target = outside_copy_of(data, tmp_path, removal["warc_file"])
    (data / removal["warc_file"]).unlink()
    (data / removal["warc_file"]).symlink_to(target)
    with pytest.raises(ReparseError, match="outside the data directory"):
        reparse(data, tmp_path / "again")
