"""The differ's rules: windows, failures, restorations, intervals (DEVELOPERS.md rules 1, 3, 4)."""

from conftest import at, page, post, probe
from memoryhole.corpus.clock import iso


def keys(hi: int, lo: int, account: str = "1001") -> list:
    return [post(k, account) for k in range(hi, lo - 1, -1)]


def test_post_pushed_off_the_last_page_is_not_missing(builder):
    builder.timeline([page(1, keys(20, 11), at(0)), page(2, keys(10, 1), at(0))])
    # Three new posts push 3, 2, 1 off page 2.
    diff = builder.timeline([page(1, keys(23, 14), at(10)), page(2, keys(13, 4), at(10))])
    assert diff.new_candidates == 0
    assert builder.open_candidates() == set()


def test_post_absent_inside_the_window_is_a_candidate(builder):
    builder.timeline([page(1, keys(20, 11), at(0)), page(2, keys(10, 1), at(0))])
    remaining = [p for p in keys(20, 1) if p.order_key != 15]
    diff = builder.timeline([page(1, remaining[:10], at(10)), page(2, remaining[10:], at(10))])
    assert diff.new_candidates == 1
    assert builder.open_candidates() == {"15"}


def test_pinned_post_never_bounds_the_window(builder):
    pinned = post(1, pinned=True)
    builder.timeline([page(1, [pinned, *keys(20, 12)], at(0))])
    # Two new posts push 13 and 12 off page 1; the pinned post (key 1) must not stretch the
    # window down to 1, which would make 13 and 12 look missing.
    diff = builder.timeline([page(1, [pinned, *keys(22, 14)], at(10))])
    assert diff.new_candidates == 0
    window = builder.corpus.db.execute(
        "SELECT oldest_key FROM windows ORDER BY id DESC LIMIT 1").fetchone()
    assert window[0] == 14


def test_deleted_newest_posts_are_candidates(builder):
    # The window is open above: page 1 always starts at the newest visible post.
    builder.timeline([page(1, keys(20, 11), at(0))])
    diff = builder.timeline([page(1, keys(18, 9), at(10))])
    assert diff.new_candidates == 2
    assert builder.open_candidates() == {"20", "19"}


def test_failed_first_page_covers_nothing(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    diff = builder.timeline([page(1, None, at(10), failure="captcha")])
    assert (diff.failed, diff.new_candidates) == (1, 0)


def test_failed_second_page_limits_the_window_to_the_first(builder):
    builder.timeline([page(1, keys(20, 11), at(0)), page(2, keys(10, 1), at(0))])
    diff = builder.timeline([page(1, keys(20, 11), at(10)),
                             page(2, None, at(10), failure="truncated_body")])
    assert diff.new_candidates == 0   # 10..1 are outside what was covered


def test_reaching_the_end_covers_everything_below(builder):
    builder.timeline([page(1, keys(5, 1), at(0)), page(2, None, at(0), outcome="end")])
    diff = builder.timeline([page(1, keys(5, 2), at(10)), page(2, None, at(10), outcome="end")])
    assert builder.open_candidates() == {"1"}
    assert diff.new_candidates == 1


def test_empty_timeline_makes_every_live_post_a_candidate(builder):
    builder.timeline([page(1, keys(5, 1), at(0))])
    diff = builder.timeline([page(1, None, at(10), outcome="end")])
    assert diff.empty == 1
    assert builder.open_candidates() == {"1", "2", "3", "4", "5"}


def test_failed_probe_never_creates_a_removal_and_the_candidate_waits(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, [p for p in keys(20, 11) if p.order_key != 15], at(10))])
    for failure in ("server_error", "anti_crawler", "captcha", "truncated_body"):
        res = builder.probes([probe("15", at(11), "failed", failure=failure)])
        assert (res.removed, res.still_open) == (0, 1)
        assert builder.removals() == []
        assert builder.open_candidates() == {"15"}
    res = builder.probes([probe("15", at(30), "removed", "author_deleted", "抱歉，此微博已被作者删除。")])
    assert res.removed == 1
    [removal] = builder.removals()
    # Removed after the last sighting, before the answer that confirmed it.
    assert removal["last_seen_at"] == iso(at(0))
    assert removal["first_missing_at"] == iso(at(30))
    assert removal["reason"] == "author_deleted"
    assert removal["message"] == "抱歉，此微博已被作者删除。"
    assert builder.corpus.db.execute(
        "SELECT probes FROM candidates WHERE post_id = '15'").fetchone()[0] == 5


def test_visible_probe_closes_the_candidate_without_a_removal(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, [p for p in keys(20, 11) if p.order_key != 15], at(10))])
    res = builder.probes([probe("15", at(11), "visible")])
    assert (res.visible, res.removed) == (1, 0)
    assert builder.open_candidates() == set()
    assert builder.removals() == []


def test_interval_uses_the_last_sighting_not_the_first(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, keys(20, 11), at(5))])
    builder.timeline([page(1, [p for p in keys(20, 11) if p.order_key != 12], at(10))])
    builder.probes([probe("12", at(10.5), "removed", "platform_removed", "x")])
    [removal] = builder.removals()
    assert (removal["last_seen_at"], removal["first_missing_at"]) == (iso(at(5)), iso(at(10.5)))


def test_post_seen_again_restores_its_removal(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, [p for p in keys(20, 11) if p.order_key != 15], at(10))])
    builder.probes([probe("15", at(11), "removed", "restricted", "抱歉，由于作者设置…")])
    diff = builder.timeline([page(1, keys(20, 11), at(20))])
    assert diff.restored == 1
    [removal] = builder.removals()
    assert removal["restored_at"] == iso(at(20))
    # Removed again later: a new removal row, the first one stays as history.
    builder.timeline([page(1, [p for p in keys(20, 11) if p.order_key != 15], at(30))])
    builder.probes([probe("15", at(31), "removed", "platform_removed", "x")])
    assert [r["reason"] for r in builder.removals()] == ["restricted", "platform_removed"]
    assert builder.removals()[1]["last_seen_at"] == iso(at(20))


def test_candidate_seen_again_before_any_probe_is_closed(builder):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, [p for p in keys(20, 11) if p.order_key != 15], at(10))])
    diff = builder.timeline([page(1, keys(20, 11), at(20))])
    assert diff.seen_again == 1
    assert builder.open_candidates() == set()


def test_other_accounts_windows_do_not_leak(builder):
    builder.timeline([page(1, keys(20, 11, "1001"), at(0), "1001"),
                      page(1, keys(40, 31, "1002"), at(0), "1002")])
    # 1002's page fails; 1001 is fine. Nothing of 1002 may become a candidate.
    diff = builder.timeline([page(1, keys(20, 11, "1001"), at(10), "1001"),
                             page(1, None, at(10), "1002", failure="server_error")])
    assert diff.new_candidates == 0
