"""memoryhole.corpus.vocabulary: every value of every vocabulary described once, in its own vocabulary, and
the descriptions that publishing and releases show are generated from it. (The values a real
sandbox corpus holds are checked in test_validation.py.)"""

from memoryhole.analysis.publish import build_metadata
from memoryhole.corpus.vocabulary import (
    VOCABULARIES,
    AccountState,
    CandidateCause,
    CandidateStatus,
    PostEvent,
    WindowStatus,
    vocabulary_of,
)


def test_every_member_of_every_enum_is_described_in_its_own_vocabulary():
    for enum, where in ((WindowStatus, "windows.status"), (CandidateStatus, "candidates.status"),
                        (CandidateCause, "candidates.cause"), (PostEvent, "post_events.event"),
                        (AccountState, "accounts.state")):
        vocab = vocabulary_of(*where.split("."))
        assert vocab is not None and vocab.values == tuple(m.value for m in enum), where
        assert all(vocab.describe(m).strip() for m in enum)
    # The same word in two vocabularies keeps two meanings.
    candidates = vocabulary_of("candidates", "status")
    events = vocabulary_of("post_events", "event")
    assert candidates.describe("visible") != events.describe("visible")
    assert candidates.describe("removed") != events.describe("removed")


def test_the_datasette_metadata_describes_each_column_from_the_vocabulary():
    tables = build_metadata()["databases"]["corpus"]["tables"]
    for vocab in VOCABULARIES:
        for where in vocab.columns:
            table, column = where.split(".")
            assert tables[table]["columns"][column].endswith(vocab.text()), where
    windows = tables["windows"]["columns"]["status"]
    assert "unconfirmed: " in windows and "Only covered windows" not in windows
    causes = tables["candidates"]["columns"]["cause"]
    assert "unconfirmed_empty_timeline: " in causes and "account_gone: " in causes
