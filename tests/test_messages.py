"""The platforms' messages files read alike by libyaml's loader (what a crawl uses, when PyYAML
has it) and PyYAML's own safe loader."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml
from memoryhole.crawlers.platforms import base

FILES = sorted(p.name for p in resources.files("memoryhole.crawlers.platforms").iterdir()
               if p.name.endswith("_messages.yaml"))


def test_there_are_messages_files():
    assert "weibo_messages.yaml" in FILES and len(FILES) >= 5


@pytest.mark.parametrize("name", FILES)
def test_a_messages_file_reads_the_same_with_either_loader(name):
    text = resources.files("memoryhole.crawlers.platforms").joinpath(name).read_text("utf-8")
    assert yaml.load(text, Loader=base.MESSAGES_LOADER) == yaml.load(text, Loader=yaml.SafeLoader)
