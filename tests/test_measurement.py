"""Detection and first-sighting delays by watchlist and cadence, and the sensitivity of the
headline numbers to the design (every other crawl dropped; restorations excluded)."""

from __future__ import annotations

import numpy as np
import pytest
from memoryhole.analysis import measurement
from memoryhole.analysis.outcomes import build_post_outcomes
from memoryhole.corpus.store import Corpus
from simulated_campaign import Campaign, write

HOUR = 3600.0
EVERY = 1800.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(4)
    n = 800
    created = rng.uniform(0, 24 * HOUR, n)
    removed = rng.uniform(size=n) < 0.2
    delay = np.where(removed, rng.exponential(4 * HOUR, n), np.inf)
    campaign = Campaign(created, np.array([f"a{k}" for k in rng.integers(0, 20, n)],
                                          dtype=object),
                        created + delay, np.array(["platform_removed"] * n, dtype=object))
    restored = rng.uniform(size=n) < 0.25          # a quarter of removals come back
    c = Corpus(tmp_path_factory.mktemp("measurement"))
    write(c, campaign, every=EVERY, end=72 * HOUR, every_sighting=True, restored=restored)
    c.db["crawls"].update(1, {"plan_json": '{"watchlists": [{"name": "w", "every": 1800.0}]}'})
    build_post_outcomes(c.db, 6 * HOUR)
    yield c
    c.close()


def test_detection_delay_is_the_cadence_and_first_sighting_under_it(corpus):
    db = corpus.db
    assert measurement.build_measurement_delays(db) == 2
    rows = {r["measure"]: r for r in db["measurement_delays"].rows}
    detection, first = rows["detection"], rows["first_sighting"]
    assert detection["cadence_seconds"] == EVERY and detection["watchlist"] == "w"
    assert detection["median_seconds"] == pytest.approx(EVERY) and detection["posts"] > 50
    assert 0.3 * EVERY < first["median_seconds"] < 0.7 * EVERY     # uniform within a cadence
    assert first["max_seconds"] <= EVERY


def test_sensitivity_reports_each_headline_number_per_variant(corpus):
    db = corpus.db
    before = list(db.query("SELECT * FROM temp.post_outcomes ORDER BY post_id"))
    measurement.build_sensitivity(db, 6 * HOUR)
    assert list(db.query("SELECT * FROM temp.post_outcomes ORDER BY post_id")) == before
    rows = {(r["variant"], r["statistic"]): r for r in db["sensitivity"].rows}
    assert {v for v, _ in rows} == {"as_analysed", "alternate_crawls_dropped",
                                    "restorations_excluded"}
    base = rows[("as_analysed", "rate_within_w")]
    assert 0.1 < base["estimate"] < 0.25 and base["change"] == 0.0
    # Restored removals were a quarter of all: excluding them lowers the share by about that.
    restored = rows[("restorations_excluded", "rate_within_w")]
    assert restored["change"] == pytest.approx(-0.25 * base["estimate"], abs=0.03)
    # Half the crawls: the same truth seen through hour-long intervals; a few posts are lost
    # (seen only by dropped crawls), the share barely moves and the median stays near the
    # truth (exponential delays, mean 4 h: median 4 h x ln 2 = 9,981 s).
    halved = rows[("alternate_crawls_dropped", "rate_within_w")]
    assert abs(halved["change"]) < 0.03 and halved["posts"] < base["posts"]
    for variant in ("as_analysed", "alternate_crawls_dropped"):
        median = rows[(variant, "median_removed_seconds")]["estimate"]
        assert median == pytest.approx(4 * HOUR * np.log(2), rel=0.15)
