"""The software version every crawl records: the same whether its `git describe` was started
ahead (`start_lookup`, as `memoryhole crawl` does while it imports) or run when first asked."""

from __future__ import annotations

import subprocess
import sys

import pytest
from memoryhole.corpus import provenance

ASK = "from memoryhole.corpus import provenance as p\n{start}print(p.software_version())"


def version_in_a_process(start: bool) -> str:
    code = ASK.format(start="p.start_lookup()\n" if start else "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


@pytest.mark.skipif(not (provenance.ROOT / ".git").exists(), reason="not run from a checkout")
def test_a_version_looked_up_ahead_is_the_one_looked_up_when_asked():
    ahead, asked = version_in_a_process(True), version_in_a_process(False)
    assert ahead == asked
    assert ahead.startswith("memoryhole ") and "+g" in ahead


def test_a_failed_lookup_records_the_version_without_a_commit(monkeypatch):
    monkeypatch.setattr(provenance, "_DESCRIBE", ["git", "-C", "/nonexistent-dir", "describe"])
    provenance.software_version.cache_clear()
    try:
        provenance.start_lookup()
        assert "+g" not in provenance.software_version()
        assert provenance._pending is None   # the child was waited for
    finally:
        provenance.software_version.cache_clear()
