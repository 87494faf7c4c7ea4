"""The CLI contract: every command documented; bad input is one line naming the fix, exit ≠ 0."""

import click
import pytest
from click.testing import CliRunner

from memoryhole.cli import cli


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help_text():
    for path, command in all_commands(cli):
        assert command.help, f"memoryhole {' '.join(path)} has no help text"


def test_contract_commands_exist():
    names = {" ".join(path) for path, _ in all_commands(cli)}
    assert {"crawl", "export", "export removals", "sandbox", "sandbox serve", "serve", "analyze",
            "demo"} <= names


def run(*args):
    return CliRunner().invoke(cli, list(args))


def one_line_error(result) -> str:
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_plan(tmp_path):
    line = one_line_error(run("crawl", str(tmp_path / "nope.yaml"), "--data", str(tmp_path)))
    assert "nope.yaml" in line and "no such plan file" in line


def test_malformed_yaml(tmp_path):
    plan = write(tmp_path / "p.yaml", "platform: weibo\nwatchlists: [\n  - name: x\n")
    line = one_line_error(run("crawl", str(plan), "--data", str(tmp_path / "d")))
    assert "p.yaml" in line and "not valid YAML" in line


def test_unknown_platform(tmp_path):
    plan = write(tmp_path / "p.yaml", "platform: myspace\nwatchlists: [{name: a, accounts: [1]}]\n")
    line = one_line_error(run("crawl", str(plan), "--data", str(tmp_path / "d")))
    assert "platform" in line and "'myspace'" in line and "weibo" in line


@pytest.mark.parametrize("watchlist, field", [
    ("{name: a, accounts: []}", "accounts"),
    ("{name: a, accounts: [1], every: soon}", "every"),
    ("{name: a, accounts: [1], pages: 0}", "pages"),
    ("{accounts: [1]}", "name"),
    ("{name: a, accounts: [1], colour: red}", "colour"),
])
def test_bad_watchlist_names_the_field(tmp_path, watchlist, field):
    plan = write(tmp_path / "p.yaml", f"platform: weibo\nwatchlists: [{watchlist}]\n")
    line = one_line_error(run("crawl", str(plan), "--data", str(tmp_path / "d")))
    assert "watchlists[0]" in line and field in line


def test_unwritable_data_dir(tmp_path):
    plan = write(tmp_path / "p.yaml", "platform: weibo\nwatchlists: [{name: a, accounts: [1]}]\n")
    blocker = write(tmp_path / "file", "not a directory")
    line = one_line_error(run("crawl", str(plan), "--data", str(blocker / "sub")))
    assert "sub" in line and "--data" in line


def test_export_without_a_corpus(tmp_path):
    line = one_line_error(run("export", "removals", "--data", str(tmp_path / "empty")))
    assert "no corpus here" in line


def test_demo_refuses_a_foreign_data_dir(tmp_path):
    write(tmp_path / "precious.csv", "research data")
    line = one_line_error(run("demo", "--data", str(tmp_path), "--no-serve"))
    assert "not empty" in line
    assert (tmp_path / "precious.csv").read_text() == "research data"


@pytest.mark.parametrize("option", ["--days", "--every"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_demo_refuses_nan_and_inf(tmp_path, option, value):
    result = run("demo", "--data", str(tmp_path / "demo"), option, value, "--no-serve")
    assert result.exit_code == 2 and f"Invalid value for '{option}': a finite number" in result.output
    assert not (tmp_path / "demo").exists()
