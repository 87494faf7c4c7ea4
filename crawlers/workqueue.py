"""The Redis side of a distributed campaign: request queues with leases, results, the host budget.

One campaign per Redis database. The campaign process on the corpus machine (memoryhole.crawlers.
ingester) puts a cycle's requests in `<spider>:requests` (scrapy-redis's key, a FIFO list of
requests serialised by scrapy-redis); workers (memoryhole.crawlers.worker) run Scrapy with
scrapy-redis's scheduler over a LeasedQueue:

- a pop moves a request into a lease (`<spider>:leases`, a sorted set of lease ids by deadline,
  `<spider>:leased`, a hash of lease id -> request) in one Lua script, so a request is always in
  the queue, leased, or answered;
- an answer is one MULTI/EXEC: the callback's follow-up requests pushed, one results message
  (the raw exchange, the observations, the worker) RPUSHed on `memoryhole:results`, the lease
  dropped. A worker killed before that transaction leaves its lease, which the campaign puts back
  in the queue when it expires (`requeue_expired`);
- the host budget: `reserve(host)` books the next free slot of a host across all workers
  (requests per second, `memoryhole:config` field `host_rate`).

Deadlines use Redis's clock (TIME), so workers' clocks may disagree. Requests and messages are
pickled (scrapy-redis's default serializer): whoever can write to this Redis runs code on the
workers and the corpus machine. Bind it to a private address with a password (README).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import redis
from scrapy_redis.queue import Base

# scrapy-redis's own default (SCHEDULER_QUEUE_KEY): the queue a worker's scheduler pops.
QUEUE_KEY = "%(spider)s:requests"
RESULTS = "memoryhole:results"          # answers from workers, oldest first
INGESTING = "memoryhole:ingesting"      # taken by the ingester, not yet committed
UNREADABLE = "memoryhole:unreadable"    # answers the ingester could not unpickle, kept
INGESTER = "memoryhole:ingester"        # the one campaign ingesting from this database
CONFIG = "memoryhole:config"            # hash: lease, host_rate, epoch
PLAN = "memoryhole:plan"                # the campaign's plan, pickled
WORKER = "memoryhole:worker:%s"         # a live worker's registration (expires)
RATE = "memoryhole:rate:%s"             # a host's next free request slot (ms, Redis clock)

DEFAULT_LEASE_SECONDS = 120.0
LEASE = "memoryhole_lease"              # request.meta: the lease this attempt holds
CRAWL = "memoryhole_crawl"              # request.meta: the corpus crawl the request belongs to
MAX_ISSUES = 3                          # a request whose lease expired this often is given up

# KEYS: queue, leases, leased, config. ARGV: lease id.
# Returns the request, leased under ARGV[1] until now + config.lease seconds, or nil.
_POP = """
local data = redis.call('RPOP', KEYS[1])
if not data then return nil end
local t = redis.call('TIME')
local lease = tonumber(redis.call('HGET', KEYS[4], 'lease') or '') or DEFAULT_LEASE
redis.call('ZADD', KEYS[2], tonumber(t[1]) + tonumber(t[2]) / 1e6 + lease, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], data)
return data
""".replace("DEFAULT_LEASE", str(DEFAULT_LEASE_SECONDS))

# KEYS: queue, leases, leased, issues. ARGV: max issues. Puts every expired lease's request back
# at the head of the queue; returns {requeued, [requests given up ...]}.
_REQUEUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
local requeued, dropped = 0, {}
for _, id in ipairs(expired) do
  local data = redis.call('HGET', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  if data then
    local n = redis.call('HINCRBY', KEYS[4], data, 1)
    if n >= tonumber(ARGV[1]) then
      redis.call('HDEL', KEYS[4], data)
      table.insert(dropped, data)
    else
      redis.call('RPUSH', KEYS[1], data)
      requeued = requeued + 1
    end
  end
end
return {requeued, dropped}
"""

# KEYS: rate key. ARGV: interval ms. Books the host's next slot; returns ms to wait for it.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(free, now)
redis.call('SET', KEYS[1], slot + tonumber(ARGV[1]), 'PX', tonumber(ARGV[1]) + 60000)
return slot - now
"""


def keys(spider_name: str) -> dict[str, str]:
    """The Redis keys of one spider's work."""
    return {"queue": QUEUE_KEY % {"spider": spider_name}, "leases": f"{spider_name}:leases",
            "leased": f"{spider_name}:leased", "issues": f"{spider_name}:issues"}


def connect(url: str) -> redis.Redis:
    """A client for `redis://[:password@]host:port/db`; ValueError names a malformed URL."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{url!r}: not a Redis URL (redis://[:PASSWORD@]HOST:6379/0)")
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                                health_check_interval=10)


def shown(url: str) -> str:
    """A Redis URL as printed: the password masked."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"


class LeasedQueue(Base):
    """scrapy-redis's queue API (SCHEDULER_QUEUE_CLASS) with a lease per popped request.

    push/pop as scrapy-redis's FifoQueue; a popped request carries its lease id in
    `meta[LEASE]`, which the worker hands back with the answer (see `finish`)."""

    def __len__(self) -> int:
        return self.server.llen(self.key)

    def push(self, request: Any) -> None:
        self.server.lpush(self.key, self.encode(request))

    def encode(self, request: Any) -> bytes:
        """A request as the queue stores it (scrapy-redis's serialisation), without the lease
        its parent held."""
        request.meta.pop(LEASE, None)
        return self._encode_request(request)

    def pop(self, timeout: int = 0) -> Any:
        import uuid

        lease = uuid.uuid4().hex
        k = keys(self.spider.name)
        data = self.server.eval(_POP, 4, k["queue"], k["leases"], k["leased"], CONFIG, lease)
        if not data:
            return None
        request = self._decode_request(data)
        request.meta[LEASE] = lease
        return request

    def decode(self, data: bytes) -> Any:
        return self._decode_request(data)


@dataclass
class Message:
    """One answer, as a worker sends it: the exchanges received for the request (none for a
    network error; more than one after a redirect), each with the id its placeholder evidence
    refers to, and the items the callback or errback made."""

    id: str
    worker: str
    address: str | None
    crawl_id: int
    spider: str
    exchanges: list[tuple[str, Any]] = field(default_factory=list)   # (id, warc.Exchange)
    items: list[Any] = field(default_factory=list)
    version: str = ""

    def dumps(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(data: bytes) -> Message:
        return pickle.loads(data)


def finish(server: redis.Redis, spider_name: str, lease: str | None, message: bytes,
           follow_ups: list[bytes]) -> None:
    """An answer, atomically: follow-up requests queued, the message sent, the lease dropped."""
    k = keys(spider_name)
    pipe = server.pipeline(transaction=True)
    for data in follow_ups:
        pipe.lpush(k["queue"], data)
    pipe.rpush(RESULTS, message)
    if lease is not None:
        pipe.zrem(k["leases"], lease)
        pipe.hdel(k["leased"], lease)
    pipe.execute()


def release(server: redis.Redis, spider_name: str, leases: list[str]) -> int:
    """Put leased requests back at the head of the queue now (a worker stopping early)."""
    k = keys(spider_name)
    back = 0
    for lease in leases:
        pipe = server.pipeline(transaction=True)
        pipe.hget(k["leased"], lease)
        pipe.zrem(k["leases"], lease)
        pipe.hdel(k["leased"], lease)
        data, removed, _ = pipe.execute()
        if data and removed:
            server.rpush(k["queue"], data)
            back += 1
    return back


def requeue_expired(server: redis.Redis, spider_name: str) -> tuple[int, list[bytes]]:
    """Expired leases back in the queue; returns (how many, requests given up after
    MAX_ISSUES expiries)."""
    k = keys(spider_name)
    requeued, dropped = server.eval(_REQUEUE, 4, k["queue"], k["leases"], k["leased"],
                                    k["issues"], MAX_ISSUES)
    return int(requeued), list(dropped)


def outstanding(server: redis.Redis, spider_name: str) -> tuple[int, int, int, int]:
    """(queued, leased, results waiting, results being ingested), read in one transaction."""
    k = keys(spider_name)
    pipe = server.pipeline(transaction=True)
    pipe.llen(k["queue"]).zcard(k["leases"]).llen(RESULTS).llen(INGESTING)
    return tuple(int(n) for n in pipe.execute())   # type: ignore[return-value]


def reserve(server: redis.Redis, host: str, rate: float) -> float:
    """Book the next request slot of `host` at `rate` requests per second across all workers;
    returns the seconds to wait for it."""
    interval = max(1, round(1000.0 / rate))
    return int(server.eval(_RESERVE, 1, RATE % host, interval)) / 1000.0
