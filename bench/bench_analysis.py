"""Analysis speed and memory (issue 4): segmentation throughput, and the whole analysis at size.

1. Segmentation: `memoryhole.analysis.segmentation.segment_posts` (read posts, hash, jieba with the user
   dictionary, filter, write post_tokens) against raw `jieba.lcut` on the same texts, in chars/s,
   interleaved, median of BENCH_REPEATS. Target: >= 0.9x raw.
2. The whole analysis (`memoryhole.analysis.tables.analyze`, first run: every post segmented) on synthetic
   corpora of BENCH_ANALYSIS_POSTS posts (default 100k; the issue's sizes: 1M,3M), each run in a
   fresh subprocess that reports its wall time and peak RSS. Target: 1M posts < 5 min, < 2 GB.
   Baseline, measured in the same run: raw jieba.lcut at the chars/s of part 1 over the corpus's
   characters, the floor of any analysis that segments every post once. The time of each step
   (rates, survival, segmentation, keywords with their clustered tests, bursts and volume
   bursts, the removal model, figures) is reported from the pipeline's log.

Corpora are built straight into the schema Corpus creates (executemany, one transaction): 1,000
accounts, posts over 30 days with texts from the simulated platform's generator (a fifth with
a planted term), a first and a last sighting each by different crawls, 6% removed (half by the
platform) with probes and candidates, and a last window per account covering its timeline.
Cached in bench/.cache/ by size.
Environment: BENCH_ANALYSIS_POSTS, BENCH_SEGMENT_POSTS (20k), BENCH_REPEATS (3), BENCH_QUICK=1
(tiny sizes: 500 texts, one repeat, a 2,000-post corpus).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import CACHE_DIR, Figure, env_int, env_ints, human, median, quick, table

GENERATOR_VERSION = 2   # 2: a covering window per account (fixed follow-up needs windows)
START = datetime(2025, 1, 1, tzinfo=UTC)
TERMS = ("李文亮", "新冠疫苗", "白纸", "封控", "维权", "躺平", "彭帅", "四通桥")
REASONS = (("platform_removed", 0.5), ("author_deleted", 0.3), ("removed_unattributed", 0.1),
           ("account_suspended", 0.05), ("restricted", 0.05))


def texts(n: int, seed: int = 1) -> list[str]:
    from memoryhole.sandbox import text as textgen

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        term = rng.choice(TERMS) if rng.random() < 0.2 else None
        segments = textgen.make_post_segments(rng, long=rng.random() < 0.05, term=term)
        out.append(textgen.plain_text(segments))
    return out


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_corpus(path: Path, n_posts: int, pool: list[str]) -> None:
    """A synthetic corpus of n_posts posts (see the module docstring)."""
    from memoryhole.corpus.store import Corpus
    from memoryhole.crawlers.platforms import ADAPTERS

    path.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(path)
    corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
    db, rng = corpus.db, random.Random(n_posts)
    conn = db.conn
    crawls = 2000
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO crawls (id, kind, platform, plan_json, software_version, started_at, status)"
        " VALUES (?, 'timeline', 'weibo', '{}', 'bench', ?, 'finished')",
        [(c, iso(START)) for c in range(1, crawls + 2)])
    conn.executemany("INSERT INTO accounts (platform, account_id, screen_name, watchlist) "
                     "VALUES ('weibo', ?, ?, 'bench')",
                     [(str(1000 + a), f"用户{a}") for a in range(1000)])
    span = 30 * 86400
    removal_id = 0
    for start in range(0, n_posts, 100_000):
        posts, sightings, probes, removals, candidates = [], [], [], [], []
        for k in range(start, min(n_posts, start + 100_000)):
            account = str(1000 + rng.randrange(1000))
            created = START + timedelta(seconds=rng.uniform(0, span))
            first = created + timedelta(seconds=rng.uniform(0, 600))
            last = first + timedelta(seconds=rng.uniform(0, 2 * 86400))
            c1 = rng.randrange(1, crawls // 2)
            c2 = rng.randrange(crawls // 2, crawls)
            post_id = str(4_900_000_000_000_000 + k)
            posts.append(("weibo", post_id, account, k, iso(created), pool[k % len(pool)],
                          iso(first), iso(last), c2))
            sightings.append((c1, "weibo", post_id, account, 1, 0, 0, iso(first)))
            sightings.append((c2, "weibo", post_id, account, 1, 0, 0, iso(last)))
            if rng.random() < 0.06:
                removal_id += 1
                reason = rng.choices([r for r, _ in REASONS], [w for _, w in REASONS])[0]
                missing = iso(last + timedelta(seconds=rng.uniform(600, 3600)))
                probes.append((removal_id, crawls + 1, "weibo", post_id, account, "u", missing,
                               missing, "removed", reason))
                removals.append((removal_id, "weibo", post_id, account, reason, iso(last),
                                 missing, crawls + 1, removal_id))
                candidates.append(("weibo", post_id, account, c2, iso(last), missing, "removed"))
        conn.executemany(
            "INSERT INTO posts (platform, post_id, account_id, order_key, created_at, text, "
            "first_seen_at, last_seen_at, last_seen_crawl_id) VALUES (?,?,?,?,?,?,?,?,?)", posts)
        conn.executemany(
            "INSERT INTO sightings (crawl_id, platform, post_id, account_id, page, position, "
            "pinned, seen_at) VALUES (?,?,?,?,?,?,?,?)", sightings)
        conn.executemany(
            "INSERT INTO probes (id, crawl_id, platform, post_id, account_id, url, requested_at, "
            "probed_at, outcome, reason) VALUES (?,?,?,?,?,?,?,?,?,?)", probes)
        conn.executemany(
            "INSERT INTO removals (id, platform, post_id, account_id, reason, last_seen_at, "
            "first_missing_at, detected_crawl_id, probe_id) VALUES (?,?,?,?,?,?,?,?,?)", removals)
        conn.executemany(
            "INSERT INTO candidates (platform, post_id, account_id, opened_crawl_id, "
            "last_seen_at, first_absent_at, status) VALUES (?,?,?,?,?,?,?)", candidates)
    # The last crawl's window covers each account's whole timeline: every post is followed
    # until then (memoryhole.analysis.outcomes reads follow-up from windows).
    last = START + timedelta(days=33)
    conn.executemany(
        "INSERT INTO windows (crawl_id, platform, account_id, status, pages_planned, pages_ok, "
        "reached_end, oldest_key, requested_at) VALUES (?, 'weibo', ?, 'covered', 1, 1, 1, 0, ?)",
        [(crawls, str(1000 + a), iso(last)) for a in range(1000)])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    corpus.close()


def cached_corpus(n_posts: int, pool: list[str]) -> Path:
    from memoryhole.corpus.schema import SCHEMA_VERSION

    # BENCH_QUICK corpora are made of fewer texts: kept apart from the full runs' corpora.
    path = CACHE_DIR / (f"analysis-{n_posts}-v{SCHEMA_VERSION}-g{GENERATOR_VERSION}"
                        + ("-quick" if quick() else ""))
    if not (path / ".complete").exists():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        began = time.perf_counter()
        build_corpus(path, n_posts, pool)
        (path / ".complete").write_text(f"{time.perf_counter() - began:.0f} s\n")
    return path


def segmentation(pool: list[str], repeats: int) -> tuple[list[list[object]], float]:
    import tempfile

    import jieba
    from memoryhole.analysis import segmentation as seg
    from memoryhole.corpus.store import Corpus

    jieba.initialize()
    segmenter = seg.Segmenter.from_files()
    segmenter.tokens("预热")  # build the tokenizer (dictionary load) outside the timing
    chars = sum(len(t) for t in pool)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus(Path(tmp))
        db = corpus.db
        db.conn.executemany(
            "INSERT INTO posts (platform, post_id, account_id, order_key, text, first_seen_at, "
            "last_seen_at) VALUES ('weibo', ?, 'a', ?, ?, 'x', 'x')",
            [(str(k), k, text) for k, text in enumerate(pool)])
        db.conn.commit()
        raw, ours = [], []
        for _ in range(repeats):
            began = time.perf_counter()
            for text in pool:
                jieba.lcut(text)
            raw.append(chars / (time.perf_counter() - began))
            db.execute("DROP TABLE IF EXISTS post_tokens")
            began = time.perf_counter()
            seg.segment_posts(db, segmenter)
            ours.append(chars / (time.perf_counter() - began))
        corpus.close()
    raw_rate, our_rate = median(raw), median(ours)
    rows = [["raw jieba.lcut", len(pool), chars, round(raw_rate), 1.0, ""],
            ["segment_posts", len(pool), chars, round(our_rate), round(our_rate / raw_rate, 2),
             "ok" if our_rate / raw_rate >= 0.9 else "BELOW 0.9x"]]
    return rows, raw_rate


CHILD = """
import json, resource, sys, time, logging
from memoryhole.corpus.store import Corpus
from memoryhole.analysis.tables import analyze
steps = {}
class Steps(logging.Handler):
    def emit(self, record):
        what, _, seconds = record.getMessage().rpartition(": ")
        if seconds.endswith(" s"):
            steps[what] = float(seconds[:-2])
logging.getLogger("memoryhole.analysis.pipeline").addHandler(Steps())
logging.getLogger("memoryhole.analysis.pipeline").setLevel(logging.INFO)
path = sys.argv[1]
corpus = Corpus(path)
corpus.db.execute("DROP TABLE IF EXISTS post_tokens")
config = None
if len(sys.argv) > 2 and sys.argv[2] == "quick":   # BENCH_QUICK: few bootstrap samples, no figures
    from memoryhole.analysis.pipeline import AnalysisConfig
    from memoryhole.analysis.survival import SurvivalOptions
    config = AnalysisConfig(survival=SurvivalOptions(bootstrap_samples=4), figures=False)
began = time.perf_counter()
counts = analyze(corpus.db, path, config)
seconds = time.perf_counter() - began
corpus.close()
print(json.dumps({"seconds": seconds, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "counts": counts, "steps": steps}))
"""


def analysis_at(size: int, pool: list[str], raw_rate: float) -> list[object]:
    path = cached_corpus(size, pool)
    chars = sum(len(pool[k % len(pool)]) for k in range(min(size, len(pool)))) * (
        size / min(size, len(pool)))
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)]
                            + (["quick"] if quick() else []), capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parent.parent)
    if result.returncode:
        raise RuntimeError(f"analysis of {human(size)} posts failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    floor = chars / raw_rate
    rss_gb = report["rss_kb"] / 1024 / 1024
    verdict = "" if size != 1_000_000 else (
        "ok" if report["seconds"] < 300 and rss_gb < 2 else "MISSED (<300 s, <2 GB)")
    steps = "; ".join(f"{what} {seconds:.1f}" for what, seconds in report["steps"].items())
    return [human(size), round(floor), round(report["seconds"]), round(report["seconds"] / floor, 2),
            round(rss_gb, 2), report["counts"]["term_stats"], verdict, steps]


def text_pool() -> list[str]:
    """The texts corpora are made of (cached corpora are keyed by size: keep this stable)."""
    return texts(500 if quick() else env_int("BENCH_SEGMENT_POSTS", 20_000))


def quick_sizes() -> list[int]:
    return [2_000]


def main() -> list[Figure]:
    repeats = 1 if quick() else env_int("BENCH_REPEATS", 3)
    pool = text_pool()
    rows, raw_rate = segmentation(pool, repeats)
    print(table("Segmentation (chars/s; target >= 0.9x raw jieba.lcut)",
                ["subject", "posts", "chars", "chars/s", "x raw", ""], rows))
    sizes = quick_sizes() if quick() else env_ints("BENCH_ANALYSIS_POSTS", [100_000])
    out = [analysis_at(size, pool, raw_rate) for size in sizes]
    print(table("Whole analysis, first run (target at 1M posts: < 300 s, peak RSS < 2 GB)",
                ["posts", "raw jieba s", "analysis s", "x raw", "peak RSS GB", "terms", "",
                 "steps (s)"], out))
    figures = [Figure(f"segmentation, {human(len(pool))} posts", rows[1][3], "chars/s",
                      rows[0][3], "raw jieba.lcut", ">= 0.9x")]
    for size, row in zip(sizes, out, strict=True):
        figures.append(Figure(f"analysis, first run, {human(size)} posts", row[2], "s", row[1],
                              "raw jieba over the corpus", "< 300 s at 1M"))
        figures.append(Figure(f"analysis, first run, {human(size)} posts, peak RSS",
                              row[4] * 1024, "MB", None, "", "< 2 GB at 1M"))
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.chdir(Path(__file__).resolve().parent.parent)
    main()
