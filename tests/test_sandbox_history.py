"""The sandbox's truth lists every removal episode of a post, not only the latest."""

from datetime import UTC, datetime, timedelta

from memoryhole.sandbox import World, load_scenario

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_history_lists_every_episode_in_order():
    world = World(load_scenario({"seed": 1, "duration": 0, "accounts": {"count": 1},
                                 "faults": {"rate": 0}, "suspend": {"accounts": 0}}), T0)
    post = world.account_posts("5864320101", T0)[0]
    world.schedule(T0 + timedelta(minutes=1), "restrict", post_id=post)
    world.schedule(T0 + timedelta(minutes=2), "restore", post_id=post)
    world.schedule(T0 + timedelta(minutes=3), "author_delete", post_id=post)
    [truth] = [p for p in world.truth(T0 + timedelta(minutes=4))["posts"] if p["post_id"] == post]
    assert [(e["cause"], e["removed_at"][11:19], (e["restored_at"] or "")[11:19])
            for e in truth["history"]] == [("restricted", "00:01:00", "00:02:00"),
                                           ("author_deleted", "00:03:00", "")]
    assert (truth["cause"], truth["restored_at"]) == ("author_deleted", None)
    # Only the past: at 00:01:30 the post is restricted and not yet restored.
    [earlier] = [p for p in world.truth(T0 + timedelta(seconds=90))["posts"]
                 if p["post_id"] == post]
    assert [(e["cause"], e["restored_at"]) for e in earlier["history"]] == [("restricted", None)]
