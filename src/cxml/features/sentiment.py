"""Sentiment of free-text comments, from a small lexicon shipped inside the package."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd


def _lexicon() -> dict[str, float]:
    text = resources.files("cxml.features").joinpath("lexicon.txt").read_text(encoding="utf-8")
    pairs = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {word: float(score) for word, score in pairs}


LEXICON = _lexicon()


def sentiment(texts: np.ndarray) -> np.ndarray:
    """Mean lexicon score of the words in each text; NaN when no word is known."""
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    scores = np.full(len(uniques), np.nan)
    for i, text in enumerate(uniques):
        hits = [LEXICON[w] for w in str(text).lower().replace(",", " ").split() if w in LEXICON]
        scores[i] = np.mean(hits) if hits else np.nan
    return np.where(codes >= 0, scores[np.maximum(codes, 0)], np.nan)
