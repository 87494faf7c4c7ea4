"""What spiders yield: observations, in the shapes the corpus stores (see corpus.store)."""

from corpus.store import FetchFailure, PageObservation, ProbeObservation

__all__ = ["FetchFailure", "PageObservation", "ProbeObservation"]
