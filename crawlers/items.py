"""What spiders yield: observations, in the shapes the corpus stores (see memoryhole.corpus.store)."""

from memoryhole.corpus.store import FetchFailure, PageObservation, ProbeObservation

__all__ = ["FetchFailure", "PageObservation", "ProbeObservation"]
