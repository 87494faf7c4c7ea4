"""The scorecard itself must be able to catch a pipeline that is wrong."""

from conftest import at, page, post, probe
from memoryhole.corpus.clock import iso

from memoryhole.scorecard import score


def keys(hi, lo):
    return [post(k) for k in range(hi, lo - 1, -1)]


def truth(*episodes_by_post):
    posts = []
    for post_id, history in episodes_by_post:
        posts.append({"post_id": post_id, "history": [
            {"removed_at": iso(r), "restored_at": iso(s) if s else None, "cause": c,
             "message": "m"} for r, s, c in history]})
    return {"posts": posts}


def setup(builder, reason="author_deleted"):
    builder.timeline([page(1, keys(20, 11), at(0))])
    builder.timeline([page(1, [p for p in keys(20, 11) if p.order_key != 15], at(10))])
    builder.probes([probe("15", at(11), "removed", reason, "m")])


def test_perfect_pipeline_scores_perfect(builder):
    setup(builder)
    card = score(builder.corpus.db, truth(("15", [(at(5), None, "author_deleted")])))
    assert (card.observable, card.precision, card.recall, card.reason_accuracy,
            card.interval_accuracy) == (1, 1.0, 1.0, 1.0, 1.0)


def test_wrong_reason_is_caught(builder):
    setup(builder, reason="platform_removed")
    card = score(builder.corpus.db, truth(("15", [(at(5), None, "author_deleted")])))
    assert card.reason_accuracy == 0.0


def test_removal_outside_its_interval_is_caught(builder):
    setup(builder)
    card = score(builder.corpus.db, truth(("15", [(at(12), None, "author_deleted")])))
    assert (card.precision, card.interval_accuracy) == (0.0, 0.0)


def test_false_removal_and_missed_removal_are_caught(builder):
    setup(builder)
    card = score(builder.corpus.db, truth(("14", [(at(5), None, "author_deleted")])))
    assert card.precision == 0.0 and card.recall == 0.0 and len(card.missed) == 1


def test_reason_change_without_restoration_is_one_episode(builder):
    setup(builder, reason="account_closed")
    card = score(builder.corpus.db, truth(
        ("15", [(at(5), None, "restricted"), (at(8), None, "account_closed")])))
    assert (card.observable, card.recall, card.reason_accuracy) == (1, 1.0, 1.0)
