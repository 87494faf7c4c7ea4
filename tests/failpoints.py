"""The memoryhole CLI with a failpoint: the process kills itself (SIGKILL, as kill -9 does) at a
chosen moment that a kill from outside would hit only by luck. For tests/test_reliability.py:

    MEMORYHOLE_FAILPOINT=flush python tests/failpoints.py crawl PLAN --data DIR --once

- `flush`: inside the transaction of the first full batch (FLUSH_EVERY = 500 observations),
  after its pages and probes are written, before it commits;
- `warc:N`: in the middle of the N-th WARC record, half of it written;
- `diff`: inside the differ's transaction after a timeline crawl, before it commits;
- `resolve`: after a probe crawl ended, before its answers are resolved.
"""

from __future__ import annotations

import os
import signal
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def kill() -> None:
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str) -> None:
    if point == "flush":
        from memoryhole.corpus.store import Corpus
        from memoryhole.crawlers.pipelines import FLUSH_EVERY

        record_batch = Corpus.record_batch

        def flush(self: Corpus, crawl_id: int, failures=(), pages=(), probes=(),
                  long_texts=()) -> None:
            failures, pages, probes, long_texts = map(list, (failures, pages, probes,
                                                             long_texts))
            if len(failures) + len(pages) + len(probes) + len(long_texts) >= FLUSH_EVERY:
                self.record_long_texts = lambda *_: kill()   # the batch's last step
            record_batch(self, crawl_id, failures, pages, probes, long_texts)
        Corpus.record_batch = flush
    elif point.startswith("warc:"):
        from warcio.warcwriter import WARCWriter

        target, calls = int(point.split(":")[1]), [0]
        write_record = WARCWriter.write_record

        def half_written(self: WARCWriter, record: Any, params: Any = None) -> None:
            calls[0] += 1
            if calls[0] != target:
                return write_record(self, record, params)
            out, self.out = self.out, BytesIO()
            write_record(self, record, params)
            data = self.out.getvalue()
            out.write(data[:len(data) // 2])
            out.flush()
            kill()
        WARCWriter.write_record = half_written
    elif point == "diff":
        from memoryhole.crawlers import scheduler

        diff_timeline = scheduler.diff_timeline

        def diff(db: Any, crawl_id: int) -> Any:
            diff_timeline(db, crawl_id)
            kill()
        scheduler.diff_timeline = diff
    elif point == "resolve":
        from memoryhole.crawlers import scheduler

        scheduler._resolve = lambda corpus, crawl_id: kill()
    elif point:
        raise SystemExit(f"unknown failpoint {point!r}")


if __name__ == "__main__":
    install(os.environ.get("MEMORYHOLE_FAILPOINT", ""))
    from memoryhole.cli import cli

    cli()
