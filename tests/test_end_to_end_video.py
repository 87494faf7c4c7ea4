"""End to end on the simulated video platforms: Bilibili uploaders (a listing watch) and named
Bilibili videos (items of the same platform), Youku videos (an item watch), through the real CLI
and Scrapy with driven clocks. Removals and reasons equal the truth, true times inside the
intervals, refusals (-412, -352, -799, a login wall, 5xx, cut answers) are never removals."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from e2e import (
    QUIET_WEIBO,
    assert_removals_equal_truth,
    by_post,
    corpus_rows,
    crawl_once,
    exported_removals,
    memoryhole,
    scorecard,
)
from memoryhole.corpus.clock import parse_iso
from test_end_to_end_platforms import POLITE, T0, minutes

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario


@pytest.fixture
def videos():
    scenario = load_scenario({
        "seed": 14, "start": T0.isoformat(), "duration": 0, "faults": {"rate": 0},
        **QUIET_WEIBO,
        "bilibili": {"uploaders": 2, "videos": 7}, "youku": {"videos": 6},
    })
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


def item_plan(path: Path, platform: str, base_url: str, items: list[str]) -> Path:
    path.write_text(yaml.safe_dump({
        "platform": platform, "base_url": base_url,
        "watchlists": [{"name": "videos", "items": items, "schedule": [{"every": "1m"}]}],
        "reprobe": {"confirm_after": "1m", "recheck_after": ["1h"]},
        "politeness": POLITE}, allow_unicode=True), encoding="utf-8")
    return path


def expected_removals(truth: dict) -> dict[str, dict]:
    return {p["post_id"]: p for p in truth["posts"] if p["removed_at"]}


def test_bilibili_videos_removals_equal_ground_truth_across_refusals(videos, tmp_path):
    world = videos.bilibili
    data = tmp_path / "data"
    plan = item_plan(tmp_path / "plan.yaml", "bilibili", f"{videos.url}/bilibili",
                     [f"https://www.bilibili.com/video/{v.video_id}/" for v in world.videos])

    videos.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert exported_removals(data) == []
    assert len(corpus_rows(data, "SELECT post_id FROM posts")) == len(world.videos)

    actions = ("returned", "police", "duplicate", "admin", "delete", "odd_state", "gone",
               "hidden", "review", "uploader_only", "odd_code", "login")
    for video, action in zip(world.videos, actions, strict=False):
        world.schedule(minutes(2), action, video.video_id)
    world.schedule(minutes(6), "restore", world.videos[8].video_id)     # review ends
    # Refusals on first attempts: retried, never a removal.
    world.refuse(-412, 1)
    world.refuse(-352, 1)
    world.refuse(-799, 1)
    # Faults on videos asked last (the refusals answer the first requests).
    videos.inject_fault("http_500", world.videos[-1].video_id, 1)
    videos.inject_fault("truncated", world.videos[-2].video_id, 1)

    videos.clock.set(minutes(5))
    crawl_once(plan, data, minutes(5))
    expected = expected_removals(world.truth(minutes(5)))
    assert len(expected) == 11          # every action but the login wall
    got = by_post(exported_removals(data))
    assert_removals_equal_truth(got, expected)
    assert {r["reason"] for r in got.values()} == {
        "platform_removed", "author_deleted", "removed_unattributed", "restricted", "unknown"}
    failures = {r[0] for r in corpus_rows(data, "SELECT failure FROM fetch_failures")}
    assert {"request_blocked", "risk_control", "rate_limited", "server_error", "login_wall",
            "truncated_body"} <= failures
    # The login-walled video is no removal, and stays on the watch.
    login = world.videos[11].video_id
    assert login not in got
    assert corpus_rows(data, "SELECT outcome, failure FROM probes WHERE post_id = "
                             f"'{login}' ORDER BY id DESC LIMIT 1")[0] == ("failed", "login_wall")
    # A removed video's metadata was kept while it was visible, as its first version: title,
    # uploader, duration, description; and its publish time.
    gone = world.videos[2]
    [(changed, created_at)] = corpus_rows(
        data, "SELECT v.changed, p.created_at FROM post_versions v JOIN posts p USING "
              f"(platform, post_id) WHERE post_id = '{gone.video_id}'")
    assert json.loads(changed) == {"title": gone.title, "text": gone.description,
                                   "screen_name": gone.uploader_name, "duration": gone.duration}
    assert parse_iso(created_at) == gone.published_at

    videos.clock.set(minutes(7))
    crawl_once(plan, data, minutes(7))
    got = by_post(exported_removals(data))
    assert got[world.videos[8].video_id]["restored_at"].startswith("2026-11-24T02:07:00")
    card = scorecard(data, videos, "bilibili", minutes(7), item_watch=True)
    assert (card.precision, card.recall, card.reason_accuracy) == (1.0, 1.0, 1.0)
    assert card.observable == 11 and card.restorations_detected == 1


def test_bilibili_uploaders_listing_finds_removed_videos(videos, tmp_path):
    world = videos.bilibili
    data = tmp_path / "data"
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "platform": "bilibili", "base_url": f"{videos.url}/bilibili",
        "watchlists": [{"name": "uploaders", "accounts": [str(m) for m in world.uploaders],
                        "every": "1m", "pages": 2}],
        "reprobe": {"confirm_after": "1m", "recheck_after": ["1h"]},
        "politeness": POLITE}), encoding="utf-8")

    videos.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert len(corpus_rows(data, "SELECT post_id FROM posts")) == len(world.videos)
    first = [v for v in world.videos if v.uploader == world.uploaders[0]]
    for video, action in zip(first, ("police", "delete", "hidden", "review"), strict=False):
        world.schedule(minutes(2), action, video.video_id)
    world.schedule(minutes(2), "login", first[4].video_id)   # leaves the listing: no removal
    world.refuse(-352, 2)      # the listing's first page refused, then retried

    videos.clock.set(minutes(4))
    crawl_once(plan, data, minutes(4))
    expected = expected_removals(world.truth(minutes(4)))
    got = by_post(exported_removals(data))
    assert len(expected) == 4
    assert_removals_equal_truth(got, expected)
    assert first[4].video_id not in got
    card = scorecard(data, videos, "bilibili", minutes(4))
    assert (card.precision, card.recall, card.reason_accuracy) == (1.0, 1.0, 1.0)

    # A release publishes the declared fields by their policy: the title (redacted text) and
    # duration, never the av number (another id of the video) nor the uploader's raw mid.
    key = tmp_path / "release.key"
    key.write_bytes(b"a release key of at least 32 bytes, for tests")
    out = tmp_path / "release"
    memoryhole("release", "--data", str(data), "--version", "1.0.0", "--out", str(out),
               "--key", str(key), "--author", "Tester, A")
    released = sqlite3.connect(out / "corpus.db")
    extras = [json.loads(e) for (e,) in released.execute("SELECT extra FROM posts")]
    assert len(extras) == len(world.videos)
    assert all(set(e) == {"title", "duration"} for e in extras)
    dump = "\n".join(released.iterdump())
    assert not any(str(mid) in dump for mid in world.uploaders)
    assert not any(str(v.aid) in dump for v in world.videos)


def test_youku_removals_equal_ground_truth_and_refusals_remove_nothing(videos, tmp_path):
    world = videos.youku
    data = tmp_path / "data"
    plan = item_plan(tmp_path / "plan.yaml", "youku", f"{videos.url}/youku",
                     [f"https://v.youku.com/v_show/id_{v.video_id}.html" for v in world.videos])
    videos.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert len(corpus_rows(data, "SELECT post_id FROM posts")) == len(world.videos)

    for video, action in zip(world.videos, ("copyright", "private", "password", "delete", "odd"),
                             strict=False):
        world.schedule(minutes(2), action, video.video_id)
    videos.inject_fault("captcha", "/youku/", 1)
    videos.inject_fault("login_wall", "/youku/", 1)
    videos.inject_fault("http_502", "/youku/", 1)

    videos.clock.set(minutes(5))
    crawl_once(plan, data, minutes(5))
    expected = expected_removals(world.truth(minutes(5)))
    got = by_post(exported_removals(data))
    assert len(expected) == 5
    assert_removals_equal_truth(got, expected)
    # The deletion's words are unconfirmed: unknown, the note kept.
    deleted = got[world.videos[3].video_id]
    assert (deleted["reason"], deleted["message"]) == ("unknown", "该视频已被删除")
    failures = {r[0] for r in corpus_rows(data, "SELECT failure FROM fetch_failures")}
    assert {"unparseable_body", "client_refused", "server_error"} <= failures
    card = scorecard(data, videos, "youku", minutes(5), item_watch=True)
    assert (card.precision, card.recall, card.reason_accuracy) == (1.0, 1.0, 1.0)


@pytest.mark.long   # ~25 s: every attempt refused, retries spent (the per-adapter tests run in CI)
def test_a_refusal_every_time_removes_nothing(videos, tmp_path):
    world = videos.bilibili
    video = world.videos[0]
    data = tmp_path / "data"
    plan = item_plan(tmp_path / "plan.yaml", "bilibili", f"{videos.url}/bilibili",
                     [video.video_id])
    videos.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    world.schedule(minutes(2), "police", video.video_id)
    videos.inject_fault("captcha", "/bilibili/", -1)
    videos.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    assert exported_removals(data) == []
    videos.clear_faults()
    videos.clock.set(minutes(4))
    crawl_once(plan, data, minutes(4))
    [removal] = exported_removals(data)
    assert (removal["reason"], removal["message"]) == ("platform_removed", "state=-3")
    assert removal["first_missing_at"].startswith("2026-11-24T02:04:00")


@pytest.mark.parametrize("section, problem", [
    ({"bilibili": {"videos": 0}}, "bilibili.videos"),
    ({"bilibili": {"uploader": 2}}, "uploader"),
    ({"youku": {"uploaders": 1}}, "uploaders"),
    ({"youku": []}, "youku"),
])
def test_a_bad_video_section_names_its_field(section, problem):
    from memoryhole.sandbox import ScenarioError

    with pytest.raises(ScenarioError, match=problem):
        load_scenario({"seed": 1, **section})
