"""Each account carries the watchlist the plan watched it under, through a real sandbox crawl,
so removal rates and account rankings compare watchlists (issue 8, item 9)."""

from __future__ import annotations

from datetime import timedelta

import yaml
from e2e import crawl_once
from memoryhole.analysis.accounts import build_account_rankings, build_account_sanctions
from memoryhole.analysis.outcomes import build_post_outcomes
from memoryhole.analysis.rates import build_removal_rates
from memoryhole.corpus.store import Corpus
from sandbox_worlds import QUIET, START, merged

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario


def test_accounts_store_the_plans_watchlist_and_rates_compare_watchlists(tmp_path):
    scenario = load_scenario(merged(QUIET, {"accounts": {"count": 4},
                                            "reposts": {"share": 0.5}}))
    clock = ManualClock(START)
    with SandboxServer(scenario, clock=clock) as server:
        truth = server.world.truth(START)
        watched = sorted(a["account_id"] for a in truth["accounts"])
        lists = {"news": watched[:2], "activists": watched[2:]}
        plan = tmp_path / "plan.yaml"
        plan.write_text(yaml.safe_dump({
            "platform": "weibo", "base_url": server.url,
            "watchlists": [{"name": name, "accounts": accounts, "every": "10s", "pages": 2}
                           for name, accounts in lists.items()]
                          # Membership is many-to-many: the first account is on a second list.
                          + [{"name": "flagged", "accounts": watched[:1], "every": "10s",
                              "pages": 2}],
            "politeness": {"delay": 0, "concurrency": 4, "timeout": "5s", "retries": 3}}))
        data = tmp_path / "data"
        clock.set(START + timedelta(minutes=1))
        crawl_once(plan, data, START + timedelta(minutes=1))
        for account in (watched[0], watched[2]):
            newest = server.world.account_posts(account, START)[0]
            server.world.schedule(START + timedelta(minutes=2), "censor_rules", post_id=newest)
        clock.set(START + timedelta(minutes=5))
        crawl_once(plan, data, START + timedelta(minutes=5))

    corpus = Corpus(data, create=False)
    db = corpus.db
    stored = {r["account_id"]: r["watchlist"] for r in db.query(
        "SELECT account_id, watchlist FROM accounts")}
    expected = {a: name for name, accounts in lists.items() for a in accounts}
    assert {a: stored[a] for a in expected} == expected
    # Authors of reposted originals were never watched: no watchlist.
    outside = set(stored) - set(expected)
    assert outside and all(stored[a] is None for a in outside)

    build_post_outcomes(db)
    build_removal_rates(db)
    build_account_sanctions(db)
    build_account_rankings(db)
    rates = {r["key"]: r for r in db.query(
        "SELECT * FROM removal_rates WHERE grouping = 'watchlist' AND reason = 'any'")}
    assert {"news", "activists"} <= set(rates)
    for name, accounts in lists.items():
        at_risk, eligible, removed = db.execute(
            f"SELECT SUM(at_risk), SUM(eligible), SUM(removed_within) FROM post_outcomes "
            f"WHERE account_id IN ({','.join('?' * len(accounts))})", accounts).fetchone()
        assert rates[name]["posts_at_risk"] == at_risk > 0
        assert (rates[name]["posts_eligible"], rates[name]["removed"]) == (eligible, removed or 0)
        assert db.execute(
            f"SELECT COUNT(*) FROM post_outcomes WHERE reason IS NOT NULL AND account_id IN "
            f"({','.join('?' * len(accounts))})", accounts).fetchone()[0] == 1
    # A post counts in every watchlist its account is on.
    at_risk, eligible, removed = db.execute(
        "SELECT SUM(at_risk), SUM(eligible), SUM(removed_within) FROM post_outcomes "
        "WHERE account_id = ?", [watched[0]]).fetchone()
    assert rates["flagged"]["posts_at_risk"] == at_risk > 0
    assert (rates["flagged"]["posts_eligible"], rates["flagged"]["removed"]) == (eligible,
                                                                                  removed or 0)
    assert rates["news"]["posts_at_risk"] > at_risk    # news still counts both its accounts
    ranked = {r["account_id"]: r["watchlist"] for r in db.query(
        "SELECT account_id, watchlist FROM account_rankings")}
    assert {a: ranked[a] for a in expected} == expected
    corpus.close()
