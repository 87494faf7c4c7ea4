"""Crawl speed: the memoryhole timeline crawl against a bare Scrapy spider on the same pages.

A fast static server on 127.0.0.1 (its own process: pre-rendered m.weibo.cn getIndex pages, 10
posts each, ~5% reposts, Chinese text, HTTP/1.1 keep-alive) serves ACCOUNTS timelines of 2 pages.
Each side runs in a fresh process, sides interleaved, medians of BENCH_REPEATS:

- bare Scrapy: a plain `scrapy.Spider` asking the same URLs in the same order (page 2 after page
  1), `json.loads` of each body and one dict item per page; Scrapy's defaults otherwise, the same
  reactor, concurrency and no delay or robots.txt.
- memoryhole: the platform's timeline spider with the project settings (WARC evidence, the corpus
  pipeline, parsing into PageObservations, batches into SQLite), the same concurrency.

Figures: pages/s (spider opened -> closed, in the process); the fixed cost of a tiny cycle (wall
time of `memoryhole crawl PLAN --once` for 1 account x 1 page, a fresh corpus, against a bare
process that crawls the same page); the import time of what a cycle imports against `import
scrapy.crawler` (each a fresh interpreter, minus an empty one). memoryhole's bytecode is compiled
first, as an install does (Scrapy's is compiled by pip).

Environment: BENCH_CRAWL_ACCOUNTS (2000), BENCH_CRAWL_CONCURRENCY (16), BENCH_REPEATS (3);
BENCH_QUICK=1: 100 accounts, one repeat; BENCH_CRAWL_TINY=1: only the tiny cycle and the imports
(no throughput runs), so their spread can be sampled with many repeats in little time;
BENCH_CRAWL_BEFORE=DIR: a directory holding an earlier memoryhole package (an export of an older
commit, its stage directories linked in as memoryhole's subpackages, and scrapy.cfg): its tiny
cycle is run too, from DIR (a checkout's own `memoryhole/` in the working directory would come
first on sys.path) and with DIR on PYTHONPATH, in the same rounds, as a third side.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, env_int, median, table  # noqa: E402

PAGES = 2
PAGE_SIZE = 10
HAN = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下"
       "过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都")


def quick() -> bool:
    return os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")


def account_ids(n: int) -> list[str]:
    return [str(1_000_000_000 + i * 7919) for i in range(n)]


def timeline_path(account: str, page: int) -> str:
    """The path and query the weibo adapter asks for (crawlers/platforms/weibo.py)."""
    query = f"type=uid&value={account}&containerid=107603{account}"
    return f"/api/container/getIndex?{query}" + (f"&page={page}" if page > 1 else "")


def _mblog(rng: random.Random, account: str, mid: int) -> dict:
    text = "".join(rng.choice(HAN) for _ in range(rng.randint(15, 140)))
    return {
        "visible": {"type": 0, "list_id": 0}, "created_at": f"{rng.randint(1, 23)}小时前",
        "id": mid, "idstr": str(mid), "mid": str(mid), "can_edit": False,
        "text": f"{text} <a href='/n/x'>@某人</a> <span class=\"url-icon\"></span>",
        "textLength": len(text) * 2, "source": "iPhone客户端", "favorited": False,
        "pic_ids": [], "user": {"id": int(account), "screen_name": f"用户{account}",
                                "statuses_count": 300, "verified": False, "followers_count": 12,
                                "follow_count": 34, "description": "简介"},
        "reposts_count": rng.randint(0, 9), "comments_count": rng.randint(0, 9),
        "attitudes_count": rng.randint(0, 99), "isLongText": False, "edit_count": 0,
        "bid": f"B{mid:x}",
    }


def render_pages(accounts: list[str], seed: int = 7) -> dict[str, bytes]:
    """path -> body of every timeline page the crawl asks for."""
    rng = random.Random(seed)
    pages, mid = {}, 4_900_000_000_000_000
    for account in accounts:
        for page in range(1, PAGES + 1):
            cards = []
            for _ in range(PAGE_SIZE):
                mid += rng.randint(1, 5000)
                mblog = _mblog(rng, account, mid)
                if rng.random() < 0.05:
                    original = _mblog(rng, str(5_000_000_000 + rng.randint(0, 9999)), mid - 99)
                    mblog = {**mblog, "text": "转发微博", "retweeted_status": original}
                cards.append({"card_type": 9, "itemid": f"107603{account}_-_{mid}",
                              "scheme": f"https://m.weibo.cn/status/{mid}", "mblog": mblog})
            body = {"ok": 1, "data": {"cardlistInfo": {"page": page + 1, "total": 300},
                                      "cards": cards, "scheme": "", "showAppTips": 0}}
            pages[timeline_path(account, page)] = json.dumps(
                body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return pages


# --- the static server (its own process) --------------------------------------------------------

def serve(accounts: int) -> None:
    """Answer GETs from the pre-rendered pages until stdin closes; prints the port when ready."""
    pages = render_pages(account_ids(accounts))
    answers = {path: (b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body)) + body
               for path, body in pages.items()}
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    class Static(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
                path = head.split(b" ", 2)[1].decode("latin-1")
                self.transport.write(answers.get(path, missing))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Static, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)   # until the parent closes stdin
        server.close()

    asyncio.run(run())


# --- the two sides (each in its own process) ----------------------------------------------------

def write_plan(path: Path, port: int, accounts: int, pages: int, concurrency: int) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({
        "platform": "weibo", "base_url": f"http://127.0.0.1:{port}",
        "watchlists": [{"name": "bench", "accounts": account_ids(accounts), "every": "10m",
                        "pages": pages}],
        "politeness": {"delay": 0, "concurrency": concurrency, "timeout": "30s", "retries": 0,
                       "obey_robots_txt": False},
    }), encoding="utf-8")
    return path


def _timed_crawl(process, crawler, **kwargs) -> float:
    from scrapy import signals

    marks: dict[str, float] = {}
    crawler.signals.connect(lambda **_: marks.setdefault("open", time.perf_counter()),
                            signal=signals.spider_opened, weak=False)
    crawler.signals.connect(lambda **_: marks.setdefault("closed", time.perf_counter()),
                            signal=signals.spider_closed, weak=False)
    process.crawl(crawler, **kwargs)
    process.start()
    return marks["closed"] - marks["open"]


def run_bare(port: int, accounts: int, pages: int, concurrency: int) -> dict:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    base = f"http://127.0.0.1:{port}"

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self):
            for account in account_ids(accounts):
                yield scrapy.Request(base + timeline_path(account, 1), dont_filter=True,
                                     meta={"account": account, "page": 1})

        def parse(self, response):
            data = json.loads(response.body)
            yield {"account": response.meta["account"], "page": response.meta["page"],
                   "cards": data["data"]["cards"]}
            if response.meta["page"] < pages:
                page = response.meta["page"] + 1
                yield scrapy.Request(base + timeline_path(response.meta["account"], page),
                                     dont_filter=True,
                                     meta={"account": response.meta["account"], "page": page})

    process = CrawlerProcess({
        "LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency, "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    })
    crawler = process.create_crawler(Bare)
    seconds = _timed_crawl(process, crawler)
    return {"pages": crawler.stats.get_value("response_received_count", 0),
            "items": crawler.stats.get_value("item_scraped_count", 0), "seconds": seconds}


def run_memoryhole(port: int, accounts: int, pages: int, concurrency: int, data: Path) -> dict:
    from memoryhole.crawlers.plan import load_plan
    from memoryhole.crawlers.scheduler import RunOptions, scrapy_settings
    from memoryhole.crawlers.spiders import timeline_spider
    from scrapy.crawler import CrawlerProcess

    plan = load_plan(write_plan(data / "plan.yaml", port, accounts, pages, concurrency))
    process = CrawlerProcess(scrapy_settings(RunOptions(log_level="ERROR")))
    crawler = process.create_crawler(timeline_spider("weibo"))
    seconds = _timed_crawl(process, crawler, plan=plan, data=str(data))
    from memoryhole.corpus.store import Corpus

    corpus = Corpus(data)
    stored = corpus.db.execute("SELECT COUNT(*) FROM pages WHERE outcome = 'posts'").fetchone()[0]
    corpus.close()
    return {"pages": crawler.stats.get_value("response_received_count", 0), "stored": stored,
            "seconds": seconds}


def side(args: list[str]) -> None:
    kind, port, accounts, pages, concurrency = args[0], *map(int, args[1:5])
    if kind == "bare":
        result = run_bare(port, accounts, pages, concurrency)
    else:
        result = run_memoryhole(port, accounts, pages, concurrency, Path(args[5]))
    print("RESULT " + json.dumps(result), flush=True)


# --- the parent -----------------------------------------------------------------------------------

def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _python(*args: str, cwd: Path | None = None, path: str | None = None) -> tuple[float, str]:
    """Run this interpreter with args (`path` first on PYTHONPATH); (wall seconds, stdout).
    Raises on failure."""
    env = dict(os.environ, PYTHONPATH=path) if path else None
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900, env=env)
    seconds = time.perf_counter() - start
    _python.cpu = _children_cpu() - cpu   # type: ignore[attr-defined]   # of this run
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def compile_bytecode() -> None:
    """Write memoryhole's bytecode cache before timing, as an install does (pip compiles Scrapy's
    at install). An editable checkout run with PYTHONDONTWRITEBYTECODE=1 (CI, sandboxes) would
    otherwise compile memoryhole's own modules in every timed process, and bare Scrapy never."""
    import compileall

    import memoryhole
    from memoryhole import corpus, crawlers

    for package in (memoryhole, corpus, crawlers):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def _result(stdout: str) -> dict:
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> list[Figure]:
    small = quick()
    accounts = env_int("BENCH_CRAWL_ACCOUNTS", 100 if small else 2000)
    concurrency = env_int("BENCH_CRAWL_CONCURRENCY", 16)
    repeats = 1 if small else env_int("BENCH_REPEATS", 3)
    tiny_only = os.environ.get("BENCH_CRAWL_TINY", "").strip() not in ("", "0")
    if tiny_only:
        accounts = 1   # the server renders only the tiny cycle's page
    before = os.environ.get("BENCH_CRAWL_BEFORE", "").strip() or None
    me = str(Path(__file__).resolve())
    compile_bytecode()
    server = subprocess.Popen([sys.executable, me, "--serve", str(accounts)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    try:
        port = int(server.stdout.readline())
        rates: dict[str, list[float]] = {"bare": [], "memoryhole": []}
        fixed: dict[str, list[float]] = {"bare": [], "memoryhole": [],
                                         **({"before": []} if before else {})}
        cpu: dict[str, list[float]] = {kind: [] for kind in fixed}   # user + system, s
        imports: dict[str, list[float]] = {"bare": [], "memoryhole": [], "empty": []}
        for r in range(repeats):
            kinds = ["bare", "memoryhole", *(["before"] if before else [])]
            for kind in (kinds if r % 2 == 0 else kinds[::-1]):
                if not tiny_only and kind != "before":
                    data = work / f"{kind}-{r}"
                    data.mkdir()
                    os.sync()   # the last side's files written back before this one is timed
                    _, out = _python(me, "--side", kind, str(port), str(accounts), str(PAGES),
                                     str(concurrency), str(data))
                    got = _result(out)
                    expected = accounts * PAGES
                    if got["pages"] != expected or got.get("stored", expected) != expected:
                        raise RuntimeError(f"{kind}: {got} (expected {expected} pages)")
                    rates[kind].append(got["pages"] / got["seconds"])
                # A tiny cycle: one account, one page, a fresh corpus, the whole process.
                tiny = work / f"tiny-{kind}-{r}"
                tiny.mkdir()
                # Written back first: the corpus and WARC files of a throughput run just ended
                # would otherwise be flushed during (and charged to) this side's fsyncs.
                os.sync()
                if kind == "bare":
                    seconds, _ = _python(me, "--side", "bare", str(port), "1", "1", "1")
                else:
                    plan = write_plan(tiny / "plan.yaml", port, 1, 1, 1)
                    seconds, _ = _python("-m", "memoryhole.cli", "crawl", str(plan), "--data",
                                         str(tiny / "data"), "--once", "--log-level", "ERROR",
                                         path=before if kind == "before" else None,
                                         cwd=Path(before) if kind == "before" else None)
                fixed[kind].append(seconds)
                cpu[kind].append(_python.cpu)   # type: ignore[attr-defined]
            for kind, code in (("empty", "pass"), ("bare", "import scrapy.crawler"),
                               ("memoryhole", "import memoryhole.cli, memoryhole.crawlers."
                                              "scheduler")):
                imports[kind].append(_python("-c", code)[0])
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    cost = {k: median(v) for k, v in fixed.items()}
    empty = median(imports["empty"])
    imported = {k: median(imports[k]) - empty for k in ("bare", "memoryhole")}
    spread = {k: f"{min(v):.3f}-{max(v):.3f}" for k, v in fixed.items()}
    print("tiny cycle, s, each run: " + ", ".join(f"{k} {v}" for k, v in spread.items()))
    # CPU seconds (user + system) of the same processes: less moved by other work on the machine.
    print("tiny cycle, CPU s, medians: " + ", ".join(
        f"{k} {median(v):.3f} ({median(v) / median(cpu['bare']):.2f}x)" for k, v in cpu.items()))
    if before:
        print(f"tiny cycle, before ({before}): {cost['before']:.3f} s = "
              f"{cost['before'] / cost['bare']:.2f}x bare; now {cost['memoryhole']:.3f} s = "
              f"{cost['memoryhole'] / cost['bare']:.2f}x")
    tiny_figures = [
        Figure("fixed cost of a tiny cycle (1 account x 1 page)", cost["memoryhole"], "s",
               cost["bare"], "bare Scrapy process", "<= 1.2x"),
        Figure("imports of a crawl cycle", imported["memoryhole"], "s", imported["bare"],
               "import scrapy.crawler"),
    ]
    if tiny_only:
        print(table(
            f"Tiny crawl cycle (1 account x 1 page, whole process); median of {repeats} "
            "interleaved runs", ["figure", "memoryhole", "bare Scrapy", "ratio", "goal"],
            [[f.figure, f.measured, f.baseline, f"{f.ratio:.2f}x", f.goal]
             for f in tiny_figures]))
        return tiny_figures
    rate = {k: median(v) for k, v in rates.items()}
    print(table(
        f"Timeline crawl: {accounts:,} accounts x {PAGES} pages from a static server on "
        f"127.0.0.1, concurrency {concurrency}; median of {repeats} interleaved runs",
        ["figure", "memoryhole", "bare Scrapy", "ratio", "goal"],
        [["pages/s", rate["memoryhole"], rate["bare"],
          f"{rate['memoryhole'] / rate['bare']:.2f}x", ">= 0.8x"],
         ["tiny cycle, s (1 account x 1 page, whole process)", cost["memoryhole"],
          cost["bare"], f"{cost['memoryhole'] / cost['bare']:.2f}x", "<= 1.2x"],
         ["imports, s (memoryhole.cli + scheduler vs scrapy.crawler)", imported["memoryhole"],
          imported["bare"], f"{imported['memoryhole'] / imported['bare']:.2f}x", ""]]))
    return [
        Figure(f"crawl, {accounts:,} accounts x {PAGES} pages, concurrency {concurrency}",
               rate["memoryhole"], "pages/s", rate["bare"], "bare Scrapy", ">= 0.8x"),
        *tiny_figures,
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--side"]:
        side(sys.argv[2:])
    else:
        main()
