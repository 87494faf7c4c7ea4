"""Chinese word segmentation with jieba, once per post version, stored in `post_tokens`.

`segment_posts(db, segmenter)` segments every post whose text it has not segmented before, and
only those: `post_tokens` keeps, per post, a hash of the text it segmented and the identity of
the segmenter (jieba version, HMM flag, hash of the user dictionary). A post is segmented again
only when its text changed (an edit, or the long text fetched in full) or the segmenter changed
(a new user dictionary re-segments everything once).

Tokens are stored as one space-separated string per post, in text order, keeping every token
with a letter, digit or CJK character (whitespace and punctuation are dropped). Which tokens
count as *terms* is decided later, by memoryhole.analysis.keywords.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jieba
import sqlite_utils

DEFAULT_TERMS_PATH = Path(__file__).with_name("sensitive_terms.txt")
DATA_TERMS_FILE = "sensitive_terms.txt"   # a data directory's own user dictionary
TABLE = "post_tokens"
BATCH = 5_000
#: jieba's runs of word characters, the blocks cut() segments (jieba.re_han_default).
_WORD_RUN = jieba.re_han_default

CREATE_SQL = f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        platform TEXT NOT NULL,
        post_id TEXT NOT NULL,
        text_hash TEXT NOT NULL,         -- of the text segmented (blake2b-64 of its UTF-8)
        segmenter TEXT NOT NULL,         -- jieba version, HMM flag, user dictionary hash
        tokens TEXT NOT NULL,            -- space-separated, in text order
        PRIMARY KEY (platform, post_id)
    )"""


def text_hash(text: str | None) -> str:
    """The hash `post_tokens` keys a post version by."""
    return hashlib.blake2b((text or "").encode("utf-8"), digest_size=8).hexdigest()


def read_terms(paths: Iterable[str | Path]) -> tuple[tuple[str, int | None], ...]:
    """Terms from user-dictionary files: `term` or `term freq` per line, # comments."""
    terms: dict[str, int | None] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            word, _, freq = line.partition(" ")
            terms[word] = int(freq) if freq.strip().isdigit() else None
    return tuple(sorted(terms.items()))


def _keep(token: str) -> bool:
    return token.isalnum() or any(ch.isalnum() for ch in token)


@dataclass(frozen=True)
class Segmenter:
    """jieba with a user dictionary; `identity` names everything that changes its output."""

    terms: tuple[tuple[str, int | None], ...]
    hmm: bool = True

    @classmethod
    def from_files(cls, paths: Sequence[str | Path] = (DEFAULT_TERMS_PATH,),
                   hmm: bool = True) -> Segmenter:
        return cls(read_terms(paths), hmm)

    @property
    def term_set(self) -> frozenset[str]:
        return frozenset(term for term, _ in self.terms)

    @functools.cached_property
    def identity(self) -> str:
        digest = hashlib.blake2b(repr(self.terms).encode("utf-8"), digest_size=6).hexdigest()
        return f"jieba {jieba.__version__} hmm={int(self.hmm)} dict={digest}"

    def tokens(self, text: str | None) -> list[str]:
        """The kept tokens of one text: exactly `tokenizer.lcut(text, HMM=hmm)` without the
        tokens that carry no letter, digit or ideograph, made in one pass.

        jieba's cut() splits the text into runs of its word characters (ideographs, ASCII
        letters and digits, `+#&._%-`), which it segments, and the rest, which it yields a
        character at a time (whitespace as runs). Of the rest only letters and digits are
        kept, so they are taken directly instead of being yielded and dropped; a run of only
        letters, digits and ideographs has only such tokens (they are pieces of it). The filter
        and the generator around jieba's segmentation of each run cost 5% of jieba.
        """
        if not text:
            return []
        tokenizer = _tokenizer(self.terms)
        # The run segmenter lcut() uses (cut(cut_all=False)); name-mangled in jieba.Tokenizer.
        cut_run = (tokenizer._Tokenizer__cut_DAG if self.hmm
                   else tokenizer._Tokenizer__cut_DAG_NO_HMM)
        # split() with a group alternates: other characters, a word run, other characters ...
        parts = _WORD_RUN.split(text)
        kept = list(filter(str.isalnum, parts[0]))
        for i in range(1, len(parts), 2):
            run = parts[i]
            if run.isalnum():      # most runs: every token of it is a word, nothing to check
                kept += cut_run(run)
            else:                  # with `+#&._%-`: isalnum() first, cheaper than _keep()
                kept += [t for t in cut_run(run) if t.isalnum() or _keep(t)]
            kept += filter(str.isalnum, parts[i + 1])
        return kept


@functools.lru_cache(maxsize=4)
def _tokenizer(terms: tuple[tuple[str, int | None], ...]) -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for term, freq in terms:
        tokenizer.add_word(term, freq)
    return tokenizer


def default_term_files(data_dir: str | Path | None) -> list[Path]:
    """The user dictionary an analysis of DATA uses when told none: DATA/sensitive_terms.txt
    when the data directory has one, else the shipped list. The full-text index uses the same
    (memoryhole.analysis.fts), so the two share one segmentation per post."""
    if data_dir is not None and (Path(data_dir) / DATA_TERMS_FILE).is_file():
        return [Path(data_dir) / DATA_TERMS_FILE]
    return [DEFAULT_TERMS_PATH]


def post_text_sql(db: sqlite_utils.Database, alias: str = "p") -> str:
    """SQL for a post's text: the whole text of a long post when the corpus has it."""
    if "full_text" in db["posts"].columns_dict:
        return f"COALESCE({alias}.full_text, {alias}.text)"
    return f"{alias}.text"


def segment_posts(db: sqlite_utils.Database, segmenter: Segmenter) -> int:
    """Segment the posts whose current text (or segmenter) is new; return how many were."""
    db.execute(CREATE_SQL)
    db.conn.create_function("memoryhole_text_hash", 1, text_hash, deterministic=True)
    text = post_text_sql(db)
    identity = segmenter.identity
    done, last_rowid = 0, -1
    while True:
        rows = db.execute(f"""
            SELECT p.rowid, p.platform, p.post_id, {text}
            FROM posts AS p
            LEFT JOIN {TABLE} AS t ON t.platform = p.platform AND t.post_id = p.post_id
            WHERE p.rowid > ? AND (t.post_id IS NULL OR t.segmenter <> ?
                                   OR t.text_hash <> memoryhole_text_hash({text}))
            ORDER BY p.rowid LIMIT ?""", [last_rowid, identity, BATCH]).fetchall()
        if not rows:
            return done
        last_rowid = rows[-1][0]
        batch = [(platform, post_id, text_hash(body), identity,
                  " ".join(segmenter.tokens(body)))
                 for _, platform, post_id, body in rows]
        with db.conn:
            db.conn.executemany(
                f"INSERT OR REPLACE INTO {TABLE} (platform, post_id, text_hash, segmenter, tokens)"
                " VALUES (?, ?, ?, ?, ?)", batch)
        done += len(batch)
