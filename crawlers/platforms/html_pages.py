"""Reading a platform's HTML answers with parsel (the selector library Scrapy is built on).

Shared by the adapters of platforms that answer in HTML pages (WeChat articles, Telegram's
previews): a page is an observation only when it arrived whole, and its words are read from its
visible text, never from scripts.
"""

from __future__ import annotations

import re

from lxml import etree
from parsel import Selector

from .. import failures

# Whitespace (and zero-width characters) collapsed inside one line of text.
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000\u200b\u200c\u200d\ufeff]+")
_BLOCKS = frozenset({"p", "div", "section", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4",
                     "h5", "h6", "blockquote", "pre", "table", "tr", "figure", "figcaption",
                     "header", "footer", "article", "hr"})
_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "title"})
# Parse errors lxml or parsel can raise on bytes that are not HTML at all.
MALFORMED_HTML = (ValueError, TypeError, etree.LxmlError, RecursionError, AttributeError)


class PageProblem(Exception):
    """The answer is not a whole HTML page: `failure` names it (never an observation)."""

    def __init__(self, failure: str, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


def read_page(status: int, body: bytes) -> Selector:
    """A 200 answer that is a whole HTML document, as a Selector; PageProblem otherwise.

    Whole means it ends with `</html>` (the platforms' pages do): a page cut short could drop the
    very words that say why an item is gone, or keep half an article's text as a new version.
    """
    failure = failures.failure_for_status(status)
    if failure:
        raise PageProblem(failure, f"HTTP {status}")
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        raise PageProblem(failures.UNPARSEABLE_BODY, "empty body")
    if not text.rstrip().lower().endswith("</html>"):
        kind = failures.TRUNCATED_BODY if "<html" in text[:2000].lower() else \
            failures.UNPARSEABLE_BODY
        raise PageProblem(kind, f"no closing </html> in {len(body)} bytes")
    try:
        page = Selector(text=text.replace("\x00", ""), type="html")
        page.root.tag  # noqa: B018 - a document lxml could not build has no root element
    except MALFORMED_HTML as exc:
        raise PageProblem(failures.UNPARSEABLE_BODY, f"not HTML: {exc!r}"[:200]) from None
    return page


def block_text(node: Selector | None) -> str:
    """The visible text under `node`, one line per block element, spaces collapsed."""
    if node is None or not isinstance(node.root, etree._Element):
        return ""
    parts: list[str] = []

    def walk(element: etree._Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.lower() in _INVISIBLE:
            if element.tail:
                parts.append(element.tail)
            return
        block = tag.lower() in _BLOCKS
        if block:
            parts.append("\n")
        if element.text and isinstance(element.tag, str):
            parts.append(element.text)
        for child in element:
            walk(child)
        if block:
            parts.append("\n")
        if element.tail:
            parts.append(element.tail)

    root = node.root
    walk(root)
    if root.tail:   # the node's own tail is not its text
        parts.pop()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def visible_text(page: Selector) -> str:
    """The page's visible words (its <body>, or the whole document without one), on one line."""
    body = page.css("body")
    text = block_text(body[0] if body else page)
    return " ".join(text.split("\n"))


def first(page: Selector, *queries: str) -> Selector | None:
    """The first element any of the CSS `queries` finds, in the order given."""
    for query in queries:
        found = page.css(query)
        if found:
            return found[0]
    return None
