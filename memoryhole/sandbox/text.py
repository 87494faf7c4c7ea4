"""Plausible Chinese post texts, built from jieba's shipped dictionary (read directly, no jieba init).

A post is a tuple of segments: ("text", str), ("emoticon", alt, url) or ("topic", name). The
segments render to the HTML m.weibo.cn sends, to the plain text a reader sees, and to the
truncated list form of long posts (`...<a href="/status/<id>">全文</a>`). Reposts carry a short
text (`转发微博` or a one-sentence comment); an edit appends one sentence to the old text.
"""

from __future__ import annotations

import functools
import os
import random
from dataclasses import dataclass

import jieba

Segment = tuple[str, ...]

LIST_TEXT_LIMIT = 140  # characters shown in lists before `全文`

EMOTICONS: tuple[tuple[str, str], ...] = (
    ("[哈哈]", "https://h5.sinaimg.cn/m/emoticon/icon/default/d_haha.png"),
    ("[doge]", "https://h5.sinaimg.cn/m/emoticon/icon/others/d_doge.png"),
    ("[允悲]", "https://h5.sinaimg.cn/m/emoticon/icon/default/d_yunbei.png"),
    ("[泪]", "https://h5.sinaimg.cn/m/emoticon/icon/default/d_lei.png"),
    ("[微笑]", "https://h5.sinaimg.cn/m/emoticon/icon/default/d_hehe.png"),
    ("[思考]", "https://h5.sinaimg.cn/m/emoticon/icon/default/d_sikao.png"),
    ("[二哈]", "https://h5.sinaimg.cn/m/emoticon/icon/others/d_erha.png"),
)

SOURCES: tuple[str, ...] = (
    "iPhone客户端",
    "Android",
    "微博 weibo.com",
    "HUAWEI Mate 40 Pro",
    "iPhone 13 Pro Max",
    "小米11 Ultra",
    "OPPO Reno8",
    "vivo X80",
    "微博网页版",
    "荣耀70",
)

PUNCTUATION = ("。", "。", "。", "！", "？", "…")
NAME_SUFFIXES = ("的日常", "小号", "君", "酱", "同学", "呀", "的树洞", "不睡觉", "")


@dataclass(frozen=True)
class Vocabulary:
    """Common words by part of speech (jieba tags), in dictionary order."""

    nouns: tuple[str, ...]
    verbs: tuple[str, ...]
    adjectives: tuple[str, ...]
    adverbs: tuple[str, ...]
    pronouns: tuple[str, ...]
    times: tuple[str, ...]


def _is_cjk(word: str) -> bool:
    return all("\u4e00" <= ch <= "\u9fff" for ch in word)


@functools.cache
def vocabulary(min_freq: int = 800) -> Vocabulary:
    """Read jieba/dict.txt ("word freq tag" per line) once and keep common 2–4 character words."""
    path = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    buckets: dict[str, list[str]] = {k: [] for k in ("n", "v", "a", "d", "r", "t")}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) < min_freq:
                continue
            word, tag = parts[0], parts[2]
            if not 2 <= len(word) <= 4 or not _is_cjk(word):
                continue
            key = {"vn": "n", "ns": "n", "nz": "n"}.get(tag, tag)
            if key in buckets:
                buckets[key].append(word)
    return Vocabulary(*(tuple(buckets[k]) for k in ("n", "v", "a", "d", "r", "t")))


def _clause(rng: random.Random, vocab: Vocabulary) -> str:
    v = vocab
    shape = rng.randrange(5)
    if shape == 0:
        words = [rng.choice(v.pronouns), rng.choice(v.adverbs), rng.choice(v.verbs), rng.choice(v.nouns)]
    elif shape == 1:
        words = [rng.choice(v.nouns), rng.choice(v.adverbs), rng.choice(v.adjectives)]
    elif shape == 2:
        words = [rng.choice(v.times), rng.choice(v.pronouns), rng.choice(v.verbs), rng.choice(v.nouns)]
    elif shape == 3:
        words = [rng.choice(v.adjectives), "的", rng.choice(v.nouns), rng.choice(v.verbs)]
    else:
        words = [rng.choice(v.verbs), rng.choice(v.nouns), "和", rng.choice(v.nouns)]
    return "".join(words)


def _sentence(rng: random.Random, vocab: Vocabulary, term: str | None = None) -> str:
    clauses = [_clause(rng, vocab) for _ in range(rng.randint(1, 3))]
    if term:
        frame = rng.choice(("关于{}", "{}的事", "又看到{}", "说说{}", "{}怎么了"))
        clauses.insert(rng.randrange(len(clauses) + 1), frame.format(term))
    return "，".join(clauses) + rng.choice(PUNCTUATION)


def make_post_segments(rng: random.Random, *, long: bool, term: str | None) -> tuple[Segment, ...]:
    """Segments for one post: sentences, maybe a topic, maybe an emoticon, maybe a sensitive term."""
    vocab = vocabulary()
    target = rng.randint(170, 420) if long else rng.randint(10, 110)
    segments: list[Segment] = []
    if rng.random() < 0.15:
        segments.append(("topic", rng.choice(vocab.nouns) + rng.choice(vocab.nouns)))
    body = ""
    term_at = rng.randrange(3) if term else -1
    i = 0
    while len(body) < target or i <= term_at:
        body += _sentence(rng, vocab, term if i == term_at else None)
        i += 1
    if not long and len(body) > 130:
        body = body[:128] + "。"
    segments.append(("text", body))
    if rng.random() < 0.2:
        alt, url = rng.choice(EMOTICONS)
        segments.append(("emoticon", alt, url))
    return tuple(segments)


def _segment_plain(seg: Segment) -> str:
    if seg[0] == "text":
        return seg[1]
    if seg[0] == "emoticon":
        return seg[1]
    return f"#{seg[1]}#"


def _segment_html(seg: Segment) -> str:
    if seg[0] == "text":
        return seg[1].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if seg[0] == "emoticon":
        return (
            f'<span class="url-icon"><img alt={seg[1]} src="{seg[2]}" '
            f'style="width:1em; height:1em;" /></span>'
        )
    topic = f"#{seg[1]}#"
    query = f"%23{seg[1]}%23"
    return (
        f'<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D{query}" '
        f'data-hide=""><span class="surl-text">{topic}</span></a>'
    )


def plain_text(segments: tuple[Segment, ...]) -> str:
    """What a reader sees: emoticons as their [alt], topics as #topic#."""
    return "".join(_segment_plain(s) for s in segments)


def text_length(plain: str) -> int:
    """Weibo's `textLength`: two units per non-ASCII character, one per ASCII character."""
    return sum(1 if ord(ch) < 128 else 2 for ch in plain)


def full_html(segments: tuple[Segment, ...]) -> str:
    """The HTML `text` of a post shown in full."""
    return "".join(_segment_html(s) for s in segments)


def list_html(segments: tuple[Segment, ...], mid: int) -> tuple[str, bool]:
    """The HTML `text` as lists show it, and whether it was cut (`isLongText`)."""
    if len(plain_text(segments)) <= LIST_TEXT_LIMIT:
        return full_html(segments), False
    out, used = [], 0
    for seg in segments:
        plain = _segment_plain(seg)
        if used + len(plain) <= LIST_TEXT_LIMIT:
            out.append(_segment_html(seg))
            used += len(plain)
            continue
        if seg[0] == "text":
            out.append(_segment_html(("text", plain[: LIST_TEXT_LIMIT - used])))
        break
    return "".join(out) + f'...<a href="/status/{mid}">全文</a>', True


REPOST_DEFAULT = "转发微博"  # what the platform shows for a repost without a comment
EDIT_LEADS = ("补充：", "更新：", "修改一下，", "补充一句，", "")


def plain_segments(text: str) -> tuple[Segment, ...]:
    """Segments for a plain text given by a scenario (escaped when rendered)."""
    return (("text", text),)


def repost_segments(rng: random.Random, comment_share: float) -> tuple[Segment, ...]:
    """A repost's own text: `转发微博`, or a one-sentence comment (maybe with an emoticon)."""
    if rng.random() >= comment_share:
        return plain_segments(REPOST_DEFAULT)
    segments: list[Segment] = [("text", _sentence(rng, vocabulary()))]
    if rng.random() < 0.3:
        alt, url = rng.choice(EMOTICONS)
        segments.append(("emoticon", alt, url))
    return tuple(segments)


def edited_segments(rng: random.Random, segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """The text after an author's edit: the old text with one sentence added."""
    return (*segments, ("text", rng.choice(EDIT_LEADS) + _sentence(rng, vocabulary())))


def screen_name(rng: random.Random) -> str:
    """A plausible nickname."""
    vocab = vocabulary()
    name = rng.choice(vocab.nouns) + rng.choice(NAME_SUFFIXES)
    if rng.random() < 0.4:
        name += rng.choice(("_", "-", "")) + str(rng.randint(1, 2024))
    return name


def description(rng: random.Random) -> str:
    """A short profile line."""
    return _sentence(rng, vocabulary())
