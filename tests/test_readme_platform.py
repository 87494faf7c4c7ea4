"""The README's "Adding a platform" example, run as written: its adapter and messages file, put in
a package of their own, make a working item-watch platform without touching corpus/ or
analysis/."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from memoryhole.crawlers.plan import plan_from_dict
from memoryhole.crawlers.platforms import ADAPTERS
from memoryhole.crawlers.spiders import probe_spider

README = Path(__file__).resolve().parent.parent / "README.md"
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def example_block(title: str, language: str) -> str:
    """The first ```language block after the README line that names `title`."""
    text = README.read_text("utf-8")
    section = text[text.index("## Adding a platform"):]
    after = section[section.index(title):]
    return re.search(rf"```{language}\n(.*?)```", after, re.S)[1]


@pytest.fixture
def zhihu(tmp_path, monkeypatch):
    package = tmp_path / "readme_example"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "zhihu.py").write_text(example_block("crawlers/platforms/zhihu.py", "python"),
                                      encoding="utf-8")
    (package / "zhihu_messages.yaml").write_text(
        example_block("crawlers/platforms/zhihu_messages.yaml", "yaml"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from readme_example.zhihu import ZhihuAdapter

    monkeypatch.setitem(ADAPTERS, "zhihu", ZhihuAdapter)
    yield ZhihuAdapter()
    sys.modules.pop("readme_example.zhihu", None)
    sys.modules.pop("readme_example", None)


def test_the_readme_adapter_reads_visible_removed_and_failed_answers(zhihu):
    visible = zhihu.parse_probe(200, (
        '{"id": 2001, "created_time": 1764000000, "content": "<p>回答</p>", '
        '"author": {"id": "u9"}, "question": {"title": "问题"}}').encode(), NOW)
    assert visible.outcome == "visible" and visible.post.text == "回答"
    assert visible.post.extra == {"title": "问题"} and visible.post.account_id == "u9"
    gone = zhihu.parse_probe(404, '{"error": {"code": 4041, "name": "NotFoundError", '
                                  '"message": "资源不存在"}}'.encode(), NOW)
    assert (gone.outcome, gone.reason, gone.message) == ("removed", "removed_unattributed",
                                                         "资源不存在")
    unknown = zhihu.parse_probe(403, '{"error": {"message": "新的说法"}}'.encode(), NOW)
    assert (unknown.outcome, unknown.reason) == ("removed", "unknown")
    limited = zhihu.parse_probe(200, '{"error": {"message": "请求过于频繁"}}'.encode(), NOW)
    assert (limited.outcome, limited.failure) == ("failed", "rate_limited")
    # A server in trouble is no observation, whatever its body says.
    assert zhihu.parse_probe(503, '{"error": {"message": "资源不存在"}}'.encode(), NOW
                             ).failure == "server_error"
    assert zhihu.parse_probe(200, b"<html>", NOW).failure == "unparseable_body"


def test_the_readme_plan_and_spider_follow_from_the_registry(zhihu):
    import yaml

    plan = plan_from_dict(yaml.safe_load(example_block("**4. Watch it**", "yaml")))
    assert plan.watchlists[0].items == ("2001",)
    assert probe_spider("zhihu").name == "zhihu_probe"
    assert zhihu.declaration()["extra_columns"][0]["name"] == "title"
