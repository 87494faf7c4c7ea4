"""Post lifecycles: events, re-probes, accounts, tombstones, versions, empty timelines."""

from datetime import timedelta

from conftest import at, page, post, probe
from memoryhole.corpus.clock import iso
from memoryhole.crawlers.platforms import Tombstone


def keys(hi: int, lo: int, account: str = "1001") -> list:
    return [post(k, account) for k in range(hi, lo - 1, -1)]


def without(posts, *gone):
    return [p for p in posts if p.order_key not in gone]


def remove_15(builder, reason="author_deleted", message="抱歉，此微博已被作者删除。"):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, without(keys(20, 11), 15), at(10))])
    builder.probes([probe("15", at(11), "removed", reason, message)])


def test_every_transition_is_an_event(builder):
    remove_15(builder)
    builder.timeline([page(1, keys(20, 11), at(20))])          # seen again: restored
    builder.timeline([page(1, without(keys(20, 11), 15), at(30))])
    builder.probes([probe("15", at(31), "visible")])             # absent but visible
    assert builder.events("15") == [
        ("first_seen", None), ("missing", None), ("removed", "author_deleted"),
        ("restored", "author_deleted"), ("missing", None), ("visible", None)]


def test_removal_is_confirmed_after_the_delay_then_rechecked(builder):
    remove_15(builder)
    [removal] = builder.removals()
    assert (removal["next_probe_purpose"], removal["next_probe_at"]) == (
        "confirm", iso(at(11) + timedelta(hours=1)))
    assert builder.corpus.due_reprobes("weibo", at(30)) == []
    assert [r["post_id"] for r in builder.corpus.due_reprobes("weibo", at(72))] == ["15"]
    # The confirm probe fails: nothing changes, it stays due.
    builder.probes([probe("15", at(72), "failed", failure="captcha", purpose="confirm")])
    assert builder.removals()[0]["confirmed_at"] is None
    builder.probes([probe("15", at(73), "removed", "author_deleted", "x", purpose="confirm")])
    [removal] = builder.removals()
    assert removal["confirmed_at"] == iso(at(73))
    assert removal["probes"] == 2
    assert (removal["next_probe_purpose"], removal["next_probe_at"]) == (
        "recheck", iso(at(11) + timedelta(hours=24)))
    builder.probes([probe("15", at(11 + 24 * 60), "removed", "author_deleted", "x",
                          purpose="recheck")])
    assert builder.removals()[0]["next_probe_at"] == iso(at(11) + timedelta(days=7))
    builder.probes([probe("15", at(11 + 7 * 24 * 60), "removed", "author_deleted", "x",
                          purpose="recheck")])
    [removal] = builder.removals()
    assert removal["next_probe_at"] is None and removal["probes"] == 4
    assert ("confirmed", "author_deleted") in builder.events("15")


def test_recheck_that_finds_the_post_visible_restores_it(builder):
    remove_15(builder, "restricted", "抱歉，由于作者设置，你暂时没有这条微博的查看权限哦。")
    builder.probes([probe("15", at(75), "visible", purpose="confirm")])
    [removal] = builder.removals()
    assert removal["restored_at"] == iso(at(75)) and removal["next_probe_at"] is None
    assert builder.events("15")[-1] == ("restored", "restricted")


def test_reason_change_is_an_event_not_an_overwrite(builder):
    remove_15(builder, "restricted", "抱歉，由于作者设置，你暂时没有这条微博的查看权限哦。")
    builder.probes([probe("15", at(75), "removed", "author_deleted", "抱歉，此微博已被作者删除。",
                          purpose="confirm")])
    assert builder.removals()[0]["reason"] == "restricted"
    assert builder.events("15")[-1] == ("reason_changed", "author_deleted")


def test_account_gone_makes_every_live_post_a_candidate(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, None, at(10), outcome="end", account_check="failed")])
    # The profile could not tell: only the newest live post is asked.
    assert builder.open_candidates() == {"20"}
    res = builder.probes([probe("20", at(11), "removed", "account_suspended",
                                "该账号因被投诉违反《微博社区公约》的相关规定，现已无法查看。")])
    assert res.opened == 9
    assert builder.open_candidates() == {str(k) for k in range(11, 20)}
    state = builder.corpus.db.execute(
        "SELECT state FROM accounts WHERE account_id = '1001'").fetchone()[0]
    assert state == "suspended"
    events = list(builder.corpus.db.query("SELECT state, message FROM account_events"))
    assert events == [{"state": "suspended",
                       "message": "该账号因被投诉违反《微博社区公约》的相关规定，现已无法查看。"}]
    # The account comes back: its posts on its timeline make it active again.
    builder.timeline([page(1, keys(20, 11), at(30))])
    assert builder.corpus.db.execute(
        "SELECT state FROM accounts WHERE account_id = '1001'").fetchone()[0] == "active"


def test_empty_timeline_of_an_existing_account_is_a_glitch(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    diff = builder.timeline([page(1, None, at(10), outcome="end", account_check="exists")])
    assert (diff.failed, diff.new_candidates) == (1, 0)


def test_empty_timeline_of_a_gone_account(builder):
    builder.timeline([page(1, keys(15, 11), at(0))])
    diff = builder.timeline([page(1, None, at(10), outcome="end", account_check="gone",
                                  account_state="closed", account_message="该账号已关闭，现无法查看。")])
    assert diff.empty == 1 and builder.open_candidates() == {"11", "12", "13", "14", "15"}
    assert builder.corpus.db.execute("SELECT state FROM accounts").fetchone()[0] == "closed"


def test_tombstone_in_a_repost_makes_the_original_a_candidate(builder):
    original = post(500, account="9001", text="原微博")
    repost = post(21, repost_of=original, text="转发微博")
    builder.timeline([page(1, [repost, *keys(20, 12)], at(0))])
    # The original was seen intact inside the repost: a sighting of it.
    assert builder.corpus.db.execute(
        "SELECT via_post_id FROM sightings WHERE post_id = '500'").fetchone()[0] == "21"
    stone = Tombstone("500", "platform_removed", "该微博因违反《微博社区公约》的相关规定，已被删除")
    repost_now = post(21, original_tombstone=stone, text="转发微博")
    builder.timeline([page(1, [repost_now, *keys(20, 12)], at(10))])
    assert builder.open_candidates() == {"500"}
    builder.probes([probe("500", at(11), "removed", "platform_removed", stone.message,
                          account="9001")])
    [removal] = builder.removals()
    assert (removal["account_id"], removal["last_seen_at"]) == ("9001", iso(at(0)))
    assert ("tombstone" not in [e for e, _ in builder.events("500")])   # tombstone is a cause
    cause = builder.corpus.db.execute("SELECT cause FROM candidates").fetchone()[0]
    assert cause == "tombstone"


def test_original_never_seen_intact_has_no_lower_bound(builder):
    stone = Tombstone("777", "author_deleted", "抱歉，此微博已被作者删除。")
    builder.timeline([page(1, [post(21, original_tombstone=stone), *keys(20, 12)], at(0))])
    builder.probes([probe("777", at(1), "removed", "author_deleted", stone.message, account="")])
    [removal] = builder.removals()
    assert removal["last_seen_at"] is None and removal["first_missing_at"] == iso(at(1))


def test_edits_are_versions_with_changed_fields_only(builder):
    builder.timeline([page(1, [post(15, text="原文")], at(0))])
    builder.timeline([page(1, [post(15, text="原文")], at(5))])                  # unchanged
    builder.timeline([page(1, [post(15, text="改过的文字", edit_count=1)], at(10))])
    rows = list(builder.corpus.db.query(
        "SELECT version, changed, seen_at FROM post_versions ORDER BY version"))
    assert [r["version"] for r in rows] == [1, 2]
    assert rows[1]["changed"] == '{"edit_count": 1, "text": "改过的文字"}'
    assert rows[1]["seen_at"] == iso(at(10))
    latest = builder.corpus.db.execute("SELECT text, version FROM posts").fetchone()
    assert tuple(latest) == ("改过的文字", 2)


def test_long_text_completes_the_current_version_or_records_the_truncation(builder):
    from memoryhole.corpus.store import LongTextObservation

    long_post = post(15, text="很长的微博……全文", text_truncated=True)
    builder.timeline([page(1, [long_post, post(16)], at(0))])
    assert [r["post_id"] for r in builder.corpus.long_texts_needed("weibo")] == ["15"]
    crawl = builder.corpus.start_crawl("probe", "weibo", builder.plan)

    def fetch(outcome, text=None):
        builder.corpus.record_long_texts(crawl, [LongTextObservation(
            platform="weibo", post_id="15", url="http://x/extend?id=15", fetched_at=at(1),
            http_status=200 if text else 503, outcome=outcome,
            failure=None if text else "server_error", text=text)])

    fetch("failed")
    row = builder.corpus.db.execute("SELECT text_complete, full_text FROM posts "
                                    "WHERE post_id = '15'").fetchone()
    assert tuple(row) == (0, None)          # the truncation is recorded
    fetch("ok", "很长的微博，完整的文字")
    row = builder.corpus.db.execute("SELECT text_complete, full_text FROM posts "
                                    "WHERE post_id = '15'").fetchone()
    assert tuple(row) == (1, "很长的微博，完整的文字")
    assert builder.corpus.long_texts_needed("weibo") == []
    # Unchanged on the next crawl: the whole text stays; an edit makes it needed again.
    builder.timeline([page(1, [long_post, post(16)], at(5))])
    assert builder.corpus.long_texts_needed("weibo") == []
    edited = post(15, text="改过的长微博……全文", text_truncated=True, edit_count=1)
    builder.timeline([page(1, [edited, post(16)], at(10))])
    row = builder.corpus.db.execute("SELECT text_complete, full_text FROM posts "
                                    "WHERE post_id = '15'").fetchone()
    assert tuple(row) == (None, None)
