"""An original known only from a repost's tombstone (never seen intact, no posts row): its post
page and `memoryhole evidence` show what is known (issue 8, item 11)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from e2e import crawl_once, write_plan
from memoryhole.analysis.publish import make_datasette

from memoryhole.cli import cli
from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
DELETED = "抱歉，此微博已被作者删除。"


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


@pytest.fixture(scope="module")
def tombstoned(tmp_path_factory):
    """A watched account reposts an unwatched account's post, which its author deletes before
    any crawl saw the repost: the crawl sees only the tombstone, and the probe removes it.
    Returns (data dir, original id, repost id, watched account)."""
    tmp = tmp_path_factory.mktemp("tombstone-only")
    scenario = load_scenario({
        "seed": 2, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 1, "initial_posts": 5, "posts_per_hour": 0, "pinned_share": 0},
        "reposts": {"outside_accounts": 1},
        "author_delete": {"share": 0}, "censor": {"share": 0}, "restrict": {"share": 0},
        "restore": {"share": 0}, "suspend": {"accounts": 0}, "unknown": {"share": 0},
        "faults": {"rate": 0}, "long_share": 0,
    })
    data = tmp / "data"
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        world = server.world
        watched, outside = scenario.account_ids[0], scenario.outside_account_ids[0]
        original = world.account_posts(outside, T0)[0]
        plan = write_plan(tmp / "plan.yaml", server.url, [watched], pages=1)
        server.clock.set(minutes(1))
        crawl_once(plan, data, minutes(1))
        (repost,) = world.schedule(minutes(1.5), "repost", account_id=watched,
                                   post_id=original, text="转发一下")
        world.schedule(minutes(1.7), "author_delete", post_id=original)
        server.clock.set(minutes(2))
        crawl_once(plan, data, minutes(2))
    return data, original, str(repost), watched


def get(ds, path: str):
    async def fetch():
        return await ds.client.get(path)
    return asyncio.run(fetch())


def test_the_removals_link_opens_a_page_of_what_is_known(tombstoned):
    data, original, repost, watched = tombstoned
    ds = make_datasette(data)
    removals = get(ds, "/corpus/removals").text
    assert f'href="/corpus/posts/weibo,{original}"' in removals
    response = get(ds, f"/corpus/posts/weibo,{original}")
    assert response.status_code == 200, response.text[:300]
    page = response.text
    assert "Never seen intact" in page and 'id="post-unsighted"' in page
    assert f'href="/corpus/posts/weibo,{repost}"' in page and "转发一下" in page   # the repost
    assert "Reason: <code>author_deleted</code>" in page and DELETED in page      # the removal
    assert "never seen intact" in page
    probe_id = get(ds, f"/corpus/removals.json?post_id={original}&_shape=array").json()[0][
        "probe_id"]
    assert f'href="/-/evidence/corpus/{probe_id}"' in page                         # the probe
    assert "tombstone" in page                                                     # its cause
    evidence = get(ds, f"/-/evidence/corpus/{probe_id}")
    assert evidence.status_code == 200 and DELETED in evidence.text
    # An id the corpus does not know is still a 404, and so is the JSON of the missing row.
    assert get(ds, "/corpus/posts/weibo,1234567890123456").status_code == 404
    assert get(ds, f"/corpus/posts/weibo,{original}.json").status_code == 404


def test_evidence_prints_the_tombstone_the_repost_the_probe_and_the_removal(tombstoned):
    data, original, repost, watched = tombstoned
    result = CliRunner().invoke(cli, ["evidence", original, "--data", str(data)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"post {original} (weibo) by account unknown\n")
    assert "never seen intact: known only from a repost's tombstone" in out
    assert f"via {repost}  author_deleted" in out
    assert f"the repost, by account {watched}: 转发一下" in out
    assert "cause tombstone" in out
    assert "removed in [never seen intact, " in out
    assert f'"msg": "{DELETED}"' in out                 # the archived probe answer
    record = json.loads(CliRunner().invoke(
        cli, ["evidence", original, "--data", str(data), "--json"]).output)
    assert record["seen_intact"] is False and record["sightings"]["count"] == 0
    assert record["tombstones"][0]["via_post_id"] == repost
    assert record["removals"][0]["evidence"]["body"].count(DELETED) == 1
    unknown = CliRunner().invoke(cli, ["evidence", "1234567890123456", "--data", str(data)])
    assert unknown.exit_code == 1 and "not in the corpus" in unknown.output
