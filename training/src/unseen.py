"""Hashed n-grams that no training text had weigh nothing when the model scores a text.

A ``HashingVectorizer`` keeps no vocabulary, so every n-gram of a new text lands in some
bucket. ``TfidfTransformer`` gives a bucket no training text filled the largest IDF there is
(smoothed: ln(n + 1) + 1), so a text's unseen n-grams (a new number, a typo, another script)
took the largest share of its L2 norm and shrank every feature the SVM had learnt; the SVM's
own weight for those buckets is 0 (no training row had them), so they only diluted. A
vocabulary (``TfidfVectorizer``) drops such n-grams by construction, at the price of storing
it (tens of MB in skops, seconds to load); an IDF of 0 does the same for hashed buckets.
"""

from __future__ import annotations

from typing import Any


def forget_unseen(pipeline: Any, texts: list[str]) -> Any:
    """``pipeline`` (fitted on ``texts``) with IDF 0 for the buckets none of them filled."""
    import numpy as np

    counts = pipeline.named_steps["counts"].transform(texts)
    tfidf = pipeline.named_steps["tfidf"]
    seen = np.bincount(counts.indices, minlength=counts.shape[1]) > 0
    tfidf.idf_ = np.where(seen, tfidf.idf_, 0.0)
    return pipeline
