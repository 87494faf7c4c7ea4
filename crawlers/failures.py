"""Stable names for fetches that are not observations.

A failed fetch is never a removal (rule 1): these names are recorded in `fetch_failures`, on pages
and on probes, and the post stays a candidate until a fetch succeeds. A failure nobody has named
yet stays visible as `unknown_failure` rather than being folded into another name.

These are the names every platform shares. A platform's own (Weibo's HTTP 418 and 432) are
declared by its adapter (`status_failures`, `failure_descriptions`); `names()` lists them all.
"""

SERVER_ERROR = "server_error"            # HTTP 5xx
IP_LIMITED = "ip_limited"                # HTTP 403
RATE_LIMITED = "rate_limited"            # HTTP 429
UNEXPECTED_STATUS = "unexpected_status"  # any other non-200
CAPTCHA = "captcha"                      # {"ok": -100, ... captcha url}
LOGIN_WALL = "login_wall"                # 前方有点拥堵，请登录后使用
TRUNCATED_BODY = "truncated_body"        # JSON that stops early
UNPARSEABLE_BODY = "unparseable_body"    # not JSON at all, or JSON of the wrong shape
UNEXPECTED_ANSWER = "unexpected_answer"  # valid JSON the parser has no rule for (no message)
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
REDIRECT_LOOP = "redirect_loop"
COOLING_DOWN = "cooling_down"            # not sent: its host cools down longer than a crawl holds
UNKNOWN_FAILURE = "unknown_failure"

FAILURES: tuple[str, ...] = (
    SERVER_ERROR, IP_LIMITED, RATE_LIMITED, UNEXPECTED_STATUS,
    CAPTCHA, LOGIN_WALL, TRUNCATED_BODY, UNPARSEABLE_BODY, UNEXPECTED_ANSWER, TIMEOUT,
    CONNECTION_ERROR, REDIRECT_LOOP, COOLING_DOWN, UNKNOWN_FAILURE,
)


# The platform blocking this client, not a fault of one answer: the host (and session) cools down
# (crawlers/cooldown.py). Adapters add their own (`gate_failures`: Weibo's 418 and 432).
GATE: frozenset[str] = frozenset({IP_LIMITED, RATE_LIMITED, CAPTCHA, LOGIN_WALL})


def failure_for_status(status: int) -> str | None:
    """The failure an HTTP status means on any platform, or None for 200 (an adapter's
    `failure_for_status` adds the platform's own statuses)."""
    if status == 200:
        return None
    if 500 <= status < 600:
        return SERVER_ERROR
    return {403: IP_LIMITED, 429: RATE_LIMITED}.get(
        status, UNEXPECTED_STATUS
    )


def failure_for_exception(exc: BaseException) -> str:
    """Name a download exception (Twisted/Scrapy) by its class, without importing them all."""
    name = type(exc).__name__
    if "Timeout" in name:
        return TIMEOUT
    if name in {"ConnectionRefusedError", "ConnectError", "ConnectionLost", "DNSLookupError",
                "ResponseNeverReceived", "ConnectionDone", "TCPTimedOutError",
                # Scrapy 2.19 (pinned) wraps Twisted's errors in its own (scrapy.exceptions)
                "DownloadConnectionRefusedError", "CannotResolveHostError",
                "DownloadFailedError", "ResponseDataLossError"}:
        return CONNECTION_ERROR
    if name == "IgnoreRequest" and "redirect" in str(exc).lower():
        return REDIRECT_LOOP
    if name == "IgnoreRequest" and "cooling down" in str(exc).lower():
        return COOLING_DOWN
    return UNKNOWN_FAILURE


def names() -> tuple[str, ...]:
    """Every failure name a corpus may hold: the shared ones and every registered platform's."""
    from .platforms import ADAPTERS

    own = [name for adapter in ADAPTERS.values() for name in adapter.failure_descriptions]
    return (*FAILURES, *dict.fromkeys(n for n in own if n not in FAILURES))
