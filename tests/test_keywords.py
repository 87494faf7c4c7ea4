"""Segmentation (once per post version, user dictionary) and per-term statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from memoryhole.analysis import keywords, segmentation
from memoryhole.analysis.pipeline import AnalysisConfig
from memoryhole.analysis.tables import analyze
from test_analysis_rates import Builder


@pytest.fixture
def builder(tmp_path):
    b = Builder(tmp_path)
    yield b
    b.corpus.close()


def test_user_dictionary_keeps_terms_whole(tmp_path):
    plain = segmentation.Segmenter(terms=())
    assert "四通桥" not in plain.tokens("今天又看到四通桥的新闻，真的很难过。")
    terms = tmp_path / "terms.txt"
    terms.write_text("# a comment\n四通桥\n新冠疫苗 5000\n", encoding="utf-8")
    segmenter = segmentation.Segmenter.from_files([terms])
    assert segmenter.terms == (("四通桥", None), ("新冠疫苗", 5000))
    tokens = segmenter.tokens("今天又看到四通桥的新闻，关于新冠疫苗，真的很难过。")
    assert "四通桥" in tokens and "新冠疫苗" in tokens
    assert "，" not in tokens and "。" not in tokens               # punctuation dropped
    assert segmenter.identity != plain.identity


# Texts at the edges of jieba's runs of word characters: other scripts, full-width forms,
# ideographs outside its range, symbols inside runs, whitespace runs, text starting or ending
# either way.
EDGE_TEXTS = [
    "", "   ", "，。！", "\r\n\t 今天", "今天iPhone15发布了！！价格3.5%涨…", "C++ 和 C# 的 a-b_c",
    "#话题# [哭] http://t.cn/A6abc?x=1&y=2 ...", "ＡＢＣ１２３ 全角", "㐀㐁 鿪鿫 𠀀𠀁", "😀表情😀",
    "かなカナ 한국어 Кириллица café e\u0301", "①②③ x² ½", "---+++%%%", "四通桥上的横幅，李文亮。",
    "高校食堂\u3000涨价\xa0了", "abc", "结尾是字母abc", "abc开头",
]


@pytest.mark.parametrize("hmm", [True, False])
def test_tokens_are_jiebas_words_that_carry_a_letter_digit_or_ideograph(hmm):
    """Segmenter.tokens() takes the letters and digits between jieba's runs itself (one pass):
    the result must be jieba's lcut() with the symbol-only tokens dropped, nothing else."""
    texts = EDGE_TEXTS + [t for t in (segmentation.DEFAULT_TERMS_PATH.read_text("utf-8")
                                      .splitlines()) if t]
    for segmenter in (segmentation.Segmenter.from_files(hmm=hmm),
                      segmentation.Segmenter(terms=(), hmm=hmm)):
        tokenizer = segmentation._tokenizer(segmenter.terms)
        for text in texts:
            expected = [t for t in tokenizer.lcut(text, HMM=hmm)
                        if any(ch.isalnum() for ch in t)]
            assert segmenter.tokens(text) == expected, text
    assert segmenter.tokens(None) == []


def test_shipped_example_dictionary_is_read():
    segmenter = segmentation.Segmenter.from_files()
    assert {"李文亮", "四通桥", "白纸"} <= segmenter.term_set
    assert not any(term.startswith("#") for term in segmenter.term_set)


def test_posts_are_segmented_once_per_version(builder):
    builder.post("p1", text="说说四通桥的事")
    builder.post("p2", text="今天天气很好")
    segmenter = segmentation.Segmenter.from_files()
    db = builder.db
    assert segmentation.segment_posts(db, segmenter) == 2
    assert segmentation.segment_posts(db, segmenter) == 0           # nothing new
    stored = db["post_tokens"].get(["weibo", "p1"])["tokens"].split()
    assert stored == segmenter.tokens("说说四通桥的事") and "四通桥" in stored
    db.execute("UPDATE posts SET text = '说说四通桥的事。补充：李文亮' WHERE post_id = 'p1'")
    db.conn.commit()
    assert segmentation.segment_posts(db, segmenter) == 1           # only the edited post
    row = db["post_tokens"].get(["weibo", "p1"])
    assert row["text_hash"] == segmentation.text_hash("说说四通桥的事。补充：李文亮")
    assert "李文亮" in row["tokens"].split()
    other = segmentation.Segmenter(terms=(("四通桥", None),))
    assert segmentation.segment_posts(db, other) == 2               # a new dictionary: all
    assert {r["segmenter"] for r in db["post_tokens"].rows} == {other.identity}


def test_term_filter():
    f = keywords.TermFilter(frozenset({"习"}), keywords.read_stopwords())
    assert f("习") and f("四通桥") and f("iPhone")
    assert not f("的") and not f("关于") and not f("2024") and not f("我")


def test_weighted_log_odds_by_hand():
    # Monroe et al. (2008), eq. 16 and 18, for one term: y_r=30 of n_r=100, y_s=10 of n_s=200,
    # prior a_w=2 of a_0=10.
    delta, se = keywords.weighted_log_odds(np.array([30]), np.array([10]), np.array([2.0]),
                                           100.0, 200.0, 10.0)
    expected = math.log(32 / (110 - 32)) - math.log(12 / (210 - 12))
    assert delta[0] == pytest.approx(expected)
    assert se[0] == pytest.approx(math.sqrt(1 / 32 + 1 / 12))


def test_term_stats_rank_the_removed_term_first(builder):
    for k in range(40):
        sensitive = k % 4 == 0
        text = f"关于白纸的事。今天天气很好，第{k}次" if sensitive else f"今天天气很好，吃了{k}碗饭"
        removed = ("platform_removed", 1.0, 11.0) if sensitive and k % 8 == 0 else None
        builder.post(f"p{k}", account=f"A{k % 7}", text=text, removed=removed,
                     seen=((1, 1.0),) if removed else ((1, 1.0), (2, 40.0)))
    builder.post("author", text="白纸", removed=("author_deleted", 1.0, 11.0))  # in neither
    analyze(builder.db, config=AnalysisConfig(window=1800.0, figures=False))
    stats = {r["term"]: r for r in builder.db["term_stats"].rows}
    top = next(r for r in stats.values() if r["rank"] == 1)
    assert top["term"] == "白纸" and top["in_dictionary"] == 1
    assert (top["posts"], top["copies"], top["accounts"]) == (10, 10, 7)
    assert (top["platform_removed"], top["surviving"]) == (5, 5)
    assert top["removal_rate"] == 0.5 and top["ci_low"] < 0.5 < top["ci_high"]
    assert top["rate_without"] == 0 and top["rate_difference"] == 0.5
    assert len(stats) > 1 and all(r["z"] < top["z"] for t, r in stats.items() if t != "白纸")
    assert "关于" not in stats and "的" not in stats                  # stopwords
    assert all(r["posts"] >= keywords.KeywordOptions().min_support for r in stats.values())


def test_copies_count_once_and_reposts_and_repost_only_originals_are_left_out(builder):
    # 30 copies of one text by 10 accounts, all removed; 5 distinct survivors; a repost of a
    # survivor; an original seen only inside that repost (never on a timeline).
    for k in range(30):
        builder.post(f"copy{k}", account=f"A{k % 10}", text="转发：四通桥的照片",
                     removed=("platform_removed", 1.0, 11.0), seen=((1, 1.0),))
    for k in range(5):
        builder.post(f"own{k}", account=f"A{k}", text=f"今天吃了{k}碗饭",
                     seen=((1, 1.0), (2, 40.0)))
    builder.post("repost", account="A1", text="转发微博", seen=((1, 1.0), (2, 40.0)))
    builder.post("inside", account="X", text="外面的原文", seen=((1, 1.0), (2, 40.0)))
    builder.db.execute("UPDATE posts SET repost_of = 'own0' WHERE post_id = 'repost'")
    builder.db.execute("UPDATE sightings SET via_post_id = 'repost' WHERE post_id = 'inside'")
    builder.db.conn.commit()
    builder.outcomes_with(window_s=1800.0)
    segmentation.segment_posts(builder.db, segmentation.Segmenter.from_files())
    units = list(keywords.iter_units(builder.db, "day"))
    assert len(units) == 6
    copies = [u for u in units if "四通桥" in u[4].split()]
    assert len(copies) == 1 and copies[0][2:4] == (1.0, 30)
    assert not any("外面" in u[4] or u[4] == "转发 微博" for u in units)
