"""Sentiment of free-text comments (tickets, chats, survey answers) by VADER: a rule-based
analyser made for short social text that handles negation ("not happy"), intensity ("very",
capitals), punctuation ("Terrible!!!") and emoticons, with its lexicon shipped in the package.
A plain lexicon average, which cxml used before, read "not happy" as positive; the comparison on
labelled customer comments is in benchmarks/bench_text.py."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@cache
def _analyser() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # reads its lexicon once


def sentiment(texts: np.ndarray) -> np.ndarray:
    """VADER's compound score of each text, from -1 (negative) to 1 (positive); NaN for a
    missing or blank text. Each distinct text is scored once: comments repeat."""
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    analyse = _analyser().polarity_scores
    scores = np.array(
        [analyse(str(t))["compound"] if str(t).strip() else np.nan for t in uniques], dtype=float
    )
    if not len(scores):  # no text at all
        return np.full(len(codes), np.nan)
    return np.where(codes >= 0, scores[np.maximum(codes, 0)], np.nan)
