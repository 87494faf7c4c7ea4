"""Crawl plans: every field type-checked; a bad one is a PlanError naming file, field and fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from memoryhole.crawlers.plan import PlanError, load_plan, plan_from_dict

from memoryhole.cli import cli
from memoryhole.demo import demo_watchlists

ROOT = Path(__file__).resolve().parent.parent
GOOD_WATCHLIST = {"name": "w", "accounts": [1001], "every": "10s", "pages": 1}


def plan_with(**changes) -> dict:
    """A valid plan with `changes` applied; keys like 'watchlists.0.accounts' reach inside."""
    plan = {"platform": "weibo", "watchlists": [dict(GOOD_WATCHLIST)]}
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = plan
        for key in path:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[last] = value
    return plan


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(PlanError) as caught:
        load_plan(write_yaml(tmp_path / "plan.yaml", text))
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "plan.yaml") in message
    return message


# base_url: a closed local port, so that a plan wrongly accepted never reaches the internet.
WATCHLIST_YAML = "platform: weibo\nbase_url: http://127.0.0.1:9\nwatchlists:\n  - name: w\n    pages: 1\n"


@pytest.mark.parametrize("line, field", [
    ("accounts: 1001", "watchlists[0].accounts"),
    ("accounts: '1001'", "watchlists[0].accounts"),
    ("accounts: [null]", "watchlists[0].accounts[0]"),
    ("accounts: [true]", "watchlists[0].accounts[0]"),
    ("accounts: [1.5]", "watchlists[0].accounts[0]"),
    ("accounts: [{id: 1}]", "watchlists[0].accounts[0]"),
    ("accounts: [1001]\n    public_figures: 1001", "watchlists[0].public_figures"),
    ("accounts: [1001]\n    every: .inf", "watchlists[0].every"),
    ("accounts: [1001]\n    every: .nan", "watchlists[0].every"),
    ("accounts: [1001]\n    every: -5", "watchlists[0].every"),
    ("accounts: [1001]\n    every: true", "watchlists[0].every"),
    ("accounts: [1001]\n    every: 99999999999999999999999999999999999999d", "watchlists[0].every"),
    ("accounts: [1001]\n    pages: '2'", "watchlists[0].pages"),
    ("accounts: [1001]\n    pages: 2.0", "watchlists[0].pages"),
    ("accounts: [1001]\n    name: [w]", "watchlists[0].name"),
    ("accounts: [1001]\n    acounts: [1002]", "watchlists[0].acounts"),
    ("accounts: [1001]\n    accounts_file: 7", "watchlists[0].accounts_file"),
])
def test_bad_watchlist_field(tmp_path, line, field):
    message = error_of(tmp_path, WATCHLIST_YAML + f"    {line}\n")
    assert field in message, message


@pytest.mark.parametrize("section, field, value", [
    ("politeness", "delay", ".nan"), ("politeness", "delay", ".inf"),
    ("politeness", "delay", "-1"), ("politeness", "timeout", ".nan"),
    ("politeness", "timeout", ".inf"), ("politeness", "timeout", "0"),
    ("politeness", "retries", "null"), ("politeness", "retries", "'2'"),
    ("politeness", "retries", "1.5"), ("politeness", "concurrency", "[1]"),
    ("politeness", "concurrency", "0"), ("politeness", "concurrency", "true"),
    ("politeness", "obey_robots_txt", "'false'"), ("politeness", "obey_robots_txt", "0"),
    ("politeness", "user_agent", "42"), ("politeness", "dealy", "1s"),
    ("reprobe", "confirm_after", ".nan"), ("reprobe", "confirm_after", ".inf"),
    ("reprobe", "recheck_after", "[.inf]"), ("reprobe", "recheck_after", "[24h, .nan]"),
    ("reprobe", "confirm_afer", "1h"),
])
def test_bad_section_field(tmp_path, section, field, value):
    text = f"platform: weibo\nwatchlists: [{{name: w, accounts: [1001]}}]\n{section}:\n  {field}: {value}\n"
    message = error_of(tmp_path, text)
    assert f"{section}.{field}" in message, message


@pytest.mark.parametrize("line, field", [
    ("long_texts: 'no'", "long_texts"), ("long_texts: 'false'", "long_texts"),
    ("long_texts: 1", "long_texts"), ("pagination: [page]", "pagination"),
    ("base_url: 42", "base_url"), ("base_url: ftp://x", "base_url"), ("name: [a]", "name"),
    ("politeness: [1]", "politeness"), ("reprobe: 1h", "reprobe"), ("watchlists: 3", "watchlists"),
    ("platfrom: weibo", "platfrom"),
])
def test_bad_top_level_field(tmp_path, line, field):
    text = "platform: weibo\nwatchlists: [{name: w, accounts: [1001]}]\n" + line + "\n"
    if line.startswith(("watchlists", "platfrom")):
        text = ("platform: weibo\n" if "platfrom" not in line else "") + line + "\n" + (
            "watchlists: [{name: w, accounts: [1001]}]\n" if "platfrom" in line else "")
    message = error_of(tmp_path, text)
    assert field in message, message


def test_messages_say_what_to_write(tmp_path):
    message = error_of(tmp_path, WATCHLIST_YAML + "    accounts: '1001'\n")
    assert "'1001'" in message and "accounts: [" in message
    message = error_of(tmp_path, "platform: weibo\nwatchlists: [{name: w, accounts: [1]}]\n"
                                 "politeness: {obey_robots_txt: 'false'}\n")
    assert "true or false" in message
    message = error_of(tmp_path, WATCHLIST_YAML + "    accounts: [1001]\n    every: .inf\n")
    assert re.search(r"\b(10m|1h|30s)\b", message)


def test_unknown_key_names_the_known_ones(tmp_path):
    message = error_of(tmp_path, WATCHLIST_YAML + "    accounts: [1001]\n    evry: 10m\n")
    assert "evry" in message and "every" in message


@pytest.mark.parametrize("schedule, expected", [
    # an unknown key inside a step was a KeyError (pydantic names the union's member in the
    # location: 'list[_ScheduleSpec]', and that was looked up as a section)
    ("[{every: 1h, evry: 2h}]", "watchlists[0].schedule[0].evry: unknown key; the keys here "
                                "are every, until"),
    ("[{every: 1x}]", "watchlists[0].schedule[0].every: got '1x' (text); use a duration"),
    ("fresh2", "watchlists[0].schedule: got 'fresh2' (text); use fresh, or a list of steps"),
])
def test_schedule_errors_name_the_plans_own_keys(tmp_path, schedule, expected):
    for key in ("schedule", "probe_schedule"):
        message = error_of(tmp_path, WATCHLIST_YAML + f"    accounts: [1001]\n    {key}: "
                                                      f"{schedule}\n")
        assert expected.replace("schedule", key, 1) in message, message
        assert "[_" not in message and "literal" not in message and " | " not in message


def test_unreadable_accounts_file_is_a_plan_error(tmp_path):
    (tmp_path / "ids.txt").write_bytes(b"\xff\xfe1001\n")
    message = error_of(tmp_path, WATCHLIST_YAML + "    accounts_file: ids.txt\n")
    assert "accounts_file" in message


def test_plan_values_keep_their_types(tmp_path):
    plan = load_plan(write_yaml(tmp_path / "plan.yaml", """
platform: weibo
watchlists:
  - {name: a, accounts: [1001, '1002', u_3], every: 90, pages: 3, public_figures: [1001]}
  - {name: b, accounts: [1001], every: 2.5m}
politeness: {delay: 0, concurrency: 4, timeout: 5s, retries: 0, obey_robots_txt: false}
reprobe: {confirm_after: 30m, recheck_after: 2h}
long_texts: no
pagination: cursor
"""))
    a, b = plan.watchlists
    assert a.accounts == ("1001", "1002", "u_3") and a.public_figures == ("1001",)
    assert (a.every, a.pages, b.every, b.pages) == (90.0, 3, 150.0, 1)
    p = plan.politeness
    assert (p.delay, p.concurrency, p.timeout, p.retries, p.obey_robots_txt) == (0, 4, 5, 0, False)
    assert plan.reprobe.confirm_after == 1800 and plan.reprobe.recheck_after == (7200,)
    assert plan.long_texts is False and plan.pagination == "cursor"


def readme_plan() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("### A crawl plan", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    return block


def test_readme_and_docstring_plans_load(tmp_path):
    (tmp_path / "more-accounts.txt").write_text("# more\n1002\n1003  # a comment\n")
    plan = load_plan(write_yaml(tmp_path / "readme.yaml", readme_plan()))
    assert plan.watchlists[0].accounts == ("1642634100", "1784473157", "1002", "1003")
    import memoryhole.crawlers.plan as module
    docstring = module.__doc__.split("\n\n", 1)[1].split("\n\n", 1)[0]
    assert load_plan(write_yaml(tmp_path / "doc.yaml", docstring)).watchlists[0].pages == 2


def test_plans_the_project_writes_load(tmp_path):
    from tests.e2e import write_plan
    from tests.pipeline_corpus import write_plan as write_publishing_plan
    assert load_plan(write_plan(tmp_path / "e2e.yaml", "http://127.0.0.1:1", ["1001"],
                                pagination="cursor"))
    assert load_plan(write_publishing_plan(tmp_path / "pub.yaml", "http://127.0.0.1:1"))
    demo = {"name": "demo", "platform": "weibo", "base_url": "http://127.0.0.1:1",
            "watchlists": demo_watchlists(["1001", "1002", "1003"]),
            "reprobe": {"confirm_after": "1h", "recheck_after": ["24h", "7d"]}}
    assert [w.name for w in plan_from_dict(yaml.safe_load(yaml.safe_dump(demo)), "demo")
            .watchlists] == ["journalists", "activists"]
    validation = {"name": "validation", "platform": "weibo", "base_url": "http://127.0.0.1:1",
                  "watchlists": [{"name": "v", "accounts": ["1001"], "every": 300.0, "pages": 3}],
                  "politeness": {"delay": 0, "concurrency": 16, "timeout": "10s", "retries": 3},
                  "reprobe": {"confirm_after": "1h", "recheck_after": ["6h", "24h"]}}
    assert plan_from_dict(yaml.safe_load(yaml.safe_dump(validation)), "v").every == 300


def test_a_recorded_plan_loads_again(tmp_path):
    """Reparse rebuilds each crawl's plan from the JSON recorded on it."""
    (tmp_path / "more-accounts.txt").write_text("1002\n")
    plan = load_plan(write_yaml(tmp_path / "readme.yaml", readme_plan()))
    again = plan_from_dict(json.loads(json.dumps(plan.as_record())), "crawl 1's plan")
    assert again.as_record() == plan.as_record()


@pytest.mark.parametrize("line", ["accounts: 1001", "accounts: '1001'", "accounts: [null]",
                                  "accounts: [1]\n    every: .inf"])
def test_cli_gives_one_line(tmp_path, line):
    plan = write_yaml(tmp_path / "p.yaml", WATCHLIST_YAML + f"    {line}\n")
    result = CliRunner().invoke(cli, ["crawl", str(plan), "--data", str(tmp_path / "d"),
                                      "--cycles", "2"])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "p.yaml" in lines[0] and "watchlists[0]" in lines[0], result.output
