"""Search-blocking campaigns: a plan's keyword list tested on its schedule, and minimizations.

Searches are sequential and slow on purpose (≈15 s apart, a long rest after a captcha), and a
minimization chooses each search from the last answer, so this runs as a plain loop rather than
a Scrapy crawl: one GET at a time (redirects not followed: a redirect to a login page is a login
wall), every answer archived as it arrived in `DATA/warc/search-<run>-<n>.warc.gz` (WARC/1.1,
the same records as crawls), parsed by crawlers/platforms/weibo_search.py and stored with its
evidence reference in one transaction (memoryhole.corpus.search_blocking). A failed search is
kept as a test and never moves a term's history; it is retried after `delay` (after
`captcha_backoff` for a captcha or login wall), up to `retries` more times.

`now` and `sleep` are parameters so tests drive a simulated clock instead of waiting.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from memoryhole.corpus import clock, warc
from memoryhole.corpus import search_blocking as store
from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.store import Corpus, WarcRef

from . import failures
from .minimize import minimal_blocked_substrings
from .plan import CrawlPlan, Politeness, SearchPlan
from .platforms.weibo_search import DEFAULT_BASE_URLS, SearchResult, parse_search, search_url

PLATFORM = "weibo"
BACKOFF_FAILURES = frozenset({failures.CAPTCHA, failures.LOGIN_WALL})
# Cycles start `every` apart and test every term not answered in the last half of that: a list
# stays together (back-offs do not drift terms apart into cycles of their own), a term that got
# no answer is asked again next cycle, and `--once` from cron a day apart finds them all due.
SLACK = 0.5


class SearchCampaignError(Exception):
    """A search campaign or minimization that cannot run (no search list, bad input)."""


@dataclass(frozen=True)
class Fetched:
    """One HTTP answer as received (body not decoded), or the failure that kept it away."""

    status: int | None
    headers: list[tuple[str, str]]
    body: bytes
    failure: str | None = None
    detail: str | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None   # the 3xx itself is the answer


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_get(url: str, headers: dict[str, str], timeout: float) -> Fetched:
    """GET `url` once; network errors become failure names (memoryhole.crawlers.failures)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Fetched(response.status, list(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:   # a non-2xx answer is still an answer
        try:
            body = error.read()
        except (OSError, http.client.HTTPException):
            body = b""
        return Fetched(error.code, list(error.headers.items()) if error.headers else [], body)
    except TimeoutError as exc:
        return Fetched(None, [], b"", failures.TIMEOUT, repr(exc)[:300])
    except urllib.error.URLError as exc:
        kind = failures.TIMEOUT if isinstance(exc.reason, TimeoutError) else \
            failures.CONNECTION_ERROR
        return Fetched(None, [], b"", kind, repr(exc.reason)[:300])
    except (OSError, http.client.HTTPException) as exc:
        return Fetched(None, [], b"", failures.CONNECTION_ERROR, repr(exc)[:300])


class SearchArchive(warc.CrawlArchive):
    """A search run's WARC files: `search-<run id>-<n>.warc.gz` beside the crawls'."""

    def file_name(self, sequence: int) -> str:
        return f"search-{self.crawl_id:06d}-{sequence:05d}.warc.gz"


@dataclass
class Pacing:
    """How the session waits: `now` reads the clock, `sleep` waits (tests drive both)."""

    now: Callable[[], datetime] = clock.now
    sleep: Callable[[float], None] = time.sleep
    fetch: Callable[[str, dict[str, str], float], Fetched] = http_get
    last_request: float | None = None   # clock seconds of the last search sent, in any run


@dataclass
class SessionStats:
    searches: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    slept: float = 0.0

    def record(self) -> dict[str, Any]:
        return {"searches": self.searches, "outcomes": dict(self.outcomes),
                "failures": dict(self.failures), "slept_seconds": round(self.slept, 3)}


class SearchSession:
    """One run of searches: paced, archived, parsed and stored one at a time."""

    def __init__(self, corpus: Corpus, search: SearchPlan, kind: str,
                 politeness: Politeness | None = None, pacing: Pacing | None = None,
                 plan_record: dict[str, Any] | None = None) -> None:
        self.corpus = corpus
        self.search = search
        self.politeness = politeness or Politeness()
        self.pacing = pacing or Pacing()
        self.base_url = search.base_url or DEFAULT_BASE_URLS[search.endpoint]
        self.stats = SessionStats()
        self.run_id = store.start_run(corpus, kind, PLATFORM, search.endpoint, self.base_url,
                                      plan_record or asdict(search))
        self._check_robots_txt()
        self.archive = SearchArchive(corpus.data_dir, self.run_id, {
            "software": software_version(), "format": "WARC File Format 1.1",
            "isPartOf": f"search-{self.run_id:06d}", "memoryhole-search-run-id": self.run_id,
            "memoryhole-search-kind": kind,
            "http-header-user-agent": self.politeness.user_agent})

    def _check_robots_txt(self) -> None:
        """With `obey_robots_txt` (the default), refuse a search host whose robots.txt disallows
        the search path for our user agent. A robots.txt that cannot be had allows (as Scrapy)."""
        if not self.politeness.obey_robots_txt:
            return
        got = self.pacing.fetch(f"{self.base_url}/robots.txt",
                                {"User-Agent": self.politeness.user_agent}, self.search.timeout)
        if got.status != 200:
            return
        rules = urllib.robotparser.RobotFileParser()
        rules.parse(got.body.decode("utf-8", errors="replace").splitlines())
        url = search_url(self.base_url, "test", self.search.endpoint)   # type: ignore[arg-type]
        if not rules.can_fetch(self.politeness.user_agent, url):
            store.finish_run(self.corpus, self.run_id, "failed", {"robots_txt": "disallowed"})
            raise SearchCampaignError(
                f"{self.base_url}/robots.txt disallows {urlsplit(url).path} for this user agent; "
                "set politeness: {obey_robots_txt: false} in the plan only if your research "
                "ethics review allows it")

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.slept += seconds
            self.pacing.sleep(seconds)

    def _pace(self) -> None:
        if self.pacing.last_request is not None:
            since = self.pacing.now().timestamp() - self.pacing.last_request
            self._wait(self.search.delay - since)

    def ask(self, term: str, purpose: str = "watch",
            minimization_id: int | None = None) -> store.SearchTest:
        """Search `term` until an answer that is an observation, or `retries` more failed
        attempts; every attempt is stored. Returns the last test."""
        test = self._once(term, purpose, minimization_id)
        for _ in range(self.search.retries):
            if test.outcome != store.SearchOutcome.FAILED:
                break
            if test.failure in BACKOFF_FAILURES:
                self._wait(self.search.captcha_backoff)
            test = self._once(term, purpose, minimization_id)
        return test

    def _once(self, term: str, purpose: str, minimization_id: int | None) -> store.SearchTest:
        self._pace()
        url = search_url(self.base_url, term, self.search.endpoint)   # type: ignore[arg-type]
        headers = {"User-Agent": self.politeness.user_agent, "Accept-Encoding": "identity"}
        requested_at = self.pacing.now()
        self.pacing.last_request = requested_at.timestamp()
        got = self.pacing.fetch(url, headers, self.search.timeout)
        tested_at = self.pacing.now()
        evidence = None
        if got.status is None:
            result = SearchResult("failed", failure=got.failure, detail=got.detail)
        else:
            location = next((v for k, v in got.headers if k.lower() == "location"), None)
            result = parse_search(got.status, got.body, self.search.endpoint,   # type: ignore
                                  location)
            evidence = self.archive.append(warc.Exchange(
                url=url, method="GET", request_headers=[("Host", _host(url)), *headers.items()],
                request_body=b"", status=got.status, response_headers=got.headers,
                body=got.body, received_at=tested_at, requested_at=requested_at,
                extra={warc.CRAWL_ID: str(self.run_id), warc.CRAWL_KIND: f"search_{purpose}",
                       warc.REQUESTED_AT: clock.iso(requested_at)}))
        test = store.SearchTest(
            platform=PLATFORM, term=term, purpose=purpose, endpoint=self.search.endpoint,
            url=url, requested_at=requested_at, tested_at=tested_at, outcome=result.outcome,
            http_status=got.status, result_count=result.result_count,
            results_shown=result.results_shown, message=result.message,
            failure=result.failure, detail=result.detail, evidence=evidence,
            minimization_id=minimization_id)
        store.record_test(self.corpus, self.run_id, test)
        self.stats.searches += 1
        self.stats.outcomes[result.outcome] += 1
        if result.failure:
            self.stats.failures[result.failure] += 1
        return test

    def close(self, status: str, extra: dict[str, Any] | None = None) -> None:
        self.archive.close()
        store.finish_run(self.corpus, self.run_id, status, {**self.stats.record(),
                                                            **(extra or {})})


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


# --- campaigns ---------------------------------------------------------------------------------


@dataclass
class CampaignCycle:
    number: int
    run_id: int
    base_url: str
    tested: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)   # each term's last answer
    failures: Counter[str] = field(default_factory=Counter)   # of terms that got none
    blocked_now: int = 0

    def summary(self) -> str:
        said = ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes.items())) or "nothing due"
        return (f"search cycle {self.number} (run {self.run_id}): {self.tested} terms tested: "
                f"{said}; {self.blocked_now} blocked now")


def search_plan(plan: CrawlPlan) -> SearchPlan:
    if plan.search is None:
        raise SearchCampaignError(f"{plan.path or 'the plan'}: no search section; add "
                                  "search: {terms: [...]} (see README, Search blocking)")
    return plan.search


def run_campaign(plan: CrawlPlan, data_dir: str | Path, cycles: int | None = 1,
                 pacing: Pacing | None = None,
                 on_cycle: Callable[[CampaignCycle], None] | None = None,
                 on_test: Callable[[store.SearchTest], None] | None = None
                 ) -> list[CampaignCycle]:
    """Test the plan's terms that are due, one cycle (a search run) every `every`, `cycles`
    times (None: until interrupted)."""
    search = search_plan(plan)
    pacing = pacing or Pacing()
    done: list[CampaignCycle] = []
    number = 0
    while cycles is None or number < cycles:
        number += 1
        began = pacing.now()
        corpus = Corpus(data_dir)
        try:
            store.add_terms(corpus, PLATFORM, search.terms)
            due = store.due_terms(corpus, PLATFORM, search.terms, search.every, began,
                                  slack=search.every * SLACK)
            session = SearchSession(corpus, search, "campaign", plan.politeness, pacing,
                                    plan.as_record())
            cycle = CampaignCycle(number, session.run_id, session.base_url)
            status = "interrupted"
            try:
                for term in due:
                    test = session.ask(term)
                    cycle.tested += 1
                    cycle.outcomes[test.outcome] += 1
                    if test.failure:
                        cycle.failures[test.failure] += 1
                    if on_test:
                        on_test(test)
                status = "finished"
            finally:
                session.close(status, {"due": len(due)})
            cycle.blocked_now = corpus.db.execute(
                "SELECT COUNT(*) FROM search_terms WHERE platform = ? AND state = 'blocked'",
                [PLATFORM]).fetchone()[0]
        finally:
            corpus.close()
        done.append(cycle)
        if on_cycle:
            on_cycle(cycle)
        if cycles is not None and number >= cycles:
            break
        pacing.sleep(max(search.delay, search.every - (pacing.now() - began).total_seconds()))
    return done


# --- minimization ------------------------------------------------------------------------------


@dataclass
class Minimization:
    """What minimizing one phrase found, and what it cost."""

    minimization_id: int
    term: str
    status: str                     # minimal | not_blocked | incomplete
    substrings: list[str]
    probes: int                     # searches that answered (observations)
    failed_probes: int              # searches that did not
    unanswered: str | None = None   # the string that could not be tested (incomplete)

    def summary(self) -> str:
        if self.status == "minimal":
            found = "、".join(self.substrings)
            return (f"{self.term}: minimal blocked substrings {found} "
                    f"({self.probes} probes, {self.failed_probes} failed)")
        if self.status == "not_blocked":
            return f"{self.term}: not blocked ({self.probes} probe)"
        return (f"{self.term}: incomplete: {self.unanswered!r} got no answer after retries "
                f"({self.probes} probes, {self.failed_probes} failed)")


def minimize(term: str, data_dir: str | Path, search: SearchPlan,
             politeness: Politeness | None = None, pacing: Pacing | None = None,
             on_probe: Callable[[store.SearchTest], None] | None = None) -> Minimization:
    """Reduce `term` to its minimal blocked substrings by searching the platform; every search
    is a test (purpose minimize) with its evidence, the result kept with the phrase."""
    term = term.strip()
    if not term:
        raise SearchCampaignError("TERM: give a non-empty phrase to minimize")
    corpus = Corpus(data_dir)
    try:
        session = SearchSession(corpus, search, "minimize", politeness, pacing,
                                {**asdict(search), "terms": [term]})
        minimization_id = store.start_minimization(corpus, session.run_id, PLATFORM, term)
        steps = minimal_blocked_substrings(term)
        probes = 0
        status, found, unanswered = "incomplete", [], None
        try:
            text = next(steps)
            while True:
                test = session.ask(text, "minimize", minimization_id)
                if on_probe:
                    on_probe(test)
                if test.outcome not in store.OBSERVATIONS:
                    unanswered = text   # never guess: a failure is not "not blocked"
                    break
                probes += 1
                text = steps.send(test.outcome == store.SearchOutcome.BLOCKED)
        except StopIteration as finished:
            found = finished.value
            status = "minimal" if found else "not_blocked"
        finally:   # an interrupted minimization is kept too, as incomplete
            failed = session.stats.searches - probes
            store.finish_minimization(corpus, minimization_id, status, probes, failed, found)
            session.close("finished" if status != "incomplete" else "interrupted",
                          {"term": term, "status": status, "probes": probes})
        return Minimization(minimization_id, term, status, found, probes, failed, unanswered)
    finally:
        corpus.close()


# --- reparse -----------------------------------------------------------------------------------


def reparse_search(source: Any, target: Corpus, data_dir: str | Path) -> int:
    """Rebuild the search tables of `target` from `source`'s (a corpus database being reparsed,
    memoryhole.crawlers.reparse): runs and minimizations copied, each test re-read from its
    archived answer with today's parser and stored again in order, so terms and blocks follow
    today's reading. A test without an answer (a network error), or whose record cannot be read,
    is stored as it was. Returns the tests re-read from the archive."""
    runs = list(source.query("SELECT * FROM search_runs ORDER BY id"))
    if not runs:
        return 0
    minimizations = list(source.query("SELECT * FROM search_minimizations ORDER BY id"))
    substrings = list(source.query("SELECT * FROM search_minimal_substrings ORDER BY rowid"))
    terms = source.execute("SELECT platform, term FROM search_terms ORDER BY rowid").fetchall()

    def copy() -> None:
        target.db.conn.executemany("INSERT OR IGNORE INTO search_terms (platform, term) "
                                   "VALUES (?, ?)", terms)
        target.db["search_runs"].insert_all(runs)
        target.db["search_minimizations"].insert_all(minimizations)
        target.db["search_minimal_substrings"].insert_all(substrings)
    target.write(copy)
    reread = 0
    for row in source.query("SELECT * FROM search_tests ORDER BY id"):
        ref = WarcRef(row["warc_file"], row["warc_offset"], row["warc_record_id"]) \
            if row["warc_file"] else None
        result = SearchResult(row["outcome"], row["result_count"], row["results_shown"],
                              row["message"], row["failure"], row["detail"])
        if ref is not None:
            try:
                archived = warc.read_response(data_dir, ref)
            except warc.EvidenceError:
                pass   # kept as stored
            else:
                result = parse_search(archived.status, archived.body, row["endpoint"],
                                      archived.header("Location"))
                reread += 1
        store.record_test(target, row["run_id"], store.SearchTest(
            platform=row["platform"], term=row["term"], purpose=row["purpose"],
            endpoint=row["endpoint"], url=row["url"],
            requested_at=clock.parse_iso(row["requested_at"]),
            tested_at=clock.parse_iso(row["tested_at"]), outcome=result.outcome,
            http_status=row["http_status"], result_count=result.result_count,
            results_shown=result.results_shown, message=result.message,
            failure=result.failure, detail=result.detail, evidence=ref,
            minimization_id=row["minimization_id"]))
    return reread
