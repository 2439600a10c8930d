"""Data drift: how far the features at scoring time are from the features the model learned on.

`reference_profile` summarises the training features once (quantile bins for numbers, level
shares for text, a missing share for both) into plain lists and floats, so the profile can be
stored as JSON inside a model bundle. `psi` compares a later frame against it with the population
stability index, PSI = Σ (actual − expected) · ln(actual / expected) over the bins, the usual
rule of thumb being < 0.1 stable, < 0.25 worth watching, ≥ 0.25 drifted. A value no larger
than two samples of the same population reach by chance (`noise`, which matters for small
bases and many-level text features) counts as stable whatever its size.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cxml.features.table import Table

PROFILE_VERSION = 1
EPSILON = 1e-4  # stands in for an empty bin's share, so ln(actual / expected) stays finite
STABLE, WATCH = 0.1, 0.25
MAX_LEVELS = 50  # text levels kept by name; rarer ones share the "other" bin
NOISE_LEVEL = 0.99  # a feature counts as moved only past what chance gives 99 times in 100
NOISE_DRAWS = 2000  # samples drawn to find that level
STATUS_ORDER = {"missing": 0, "drifted": 1, "watch": 2, "stable": 3}


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))


def _numeric_bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts per bin (−inf, e1], (e1, e2], …, (ek, inf), then the missing bin last."""
    missing = np.isnan(values)
    index = np.searchsorted(np.asarray(edges, dtype=float), values[~missing], side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
    return np.append(counts, float(missing.sum()))


def _numeric_profile(column: pd.Series, bins: int) -> dict[str, Any]:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    present = values[~np.isnan(values)]
    quantiles = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.quantile(present, quantiles)) if len(present) else np.array([])
    edges = edges[np.isfinite(edges)]
    counts = _numeric_bins(values, [float(e) for e in edges])
    shares = counts / max(len(values), 1)
    return {
        "edges": [float(e) for e in edges],
        "shares": [float(s) for s in shares[:-1]],
        "missing": float(shares[-1]),
    }


def _levels(column: pd.Series) -> pd.Series:
    """Text levels as plain strings, missing kept as NaN."""
    return column.astype(object).where(column.notna()).map(str, na_action="ignore")


def _text_profile(column: pd.Series) -> dict[str, Any]:
    levels = _levels(column)
    n = max(len(levels), 1)
    counts = levels.value_counts(dropna=True, sort=True)
    kept = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    kept = kept.iloc[:MAX_LEVELS]
    return {
        "levels": {str(k): float(v / n) for k, v in kept.items()},
        "other": float((counts.sum() - kept.sum()) / n),
        "missing": float(levels.isna().sum() / n),
    }


def reference_profile(features: pd.DataFrame, bins: int = 10) -> dict[str, Any]:
    """Per feature, the training share of each bin: quantile bins (`bins` of them, fewer when
    values tie) for numeric columns, level shares plus "other" for text, and a missing share.
    Plain lists and floats only, so `json.dumps(profile)` works."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    numeric: dict[str, Any] = {}
    text: dict[str, Any] = {}
    for name in features.columns:
        column = features[name]
        if _is_numeric(column):
            numeric[str(name)] = _numeric_profile(column, bins)
        else:
            text[str(name)] = _text_profile(column)
    return {
        "version": PROFILE_VERSION,
        "rows": len(features),
        "numeric": numeric,
        "text": text,
    }


def _psi(expected: np.ndarray, actual: np.ndarray) -> Any:
    """PSI over the last axis: a float for one pair of share vectors, an array for rows."""
    e = np.where(expected > 0, expected, EPSILON)
    a = np.where(actual > 0, actual, EPSILON)
    return np.sum((a - e) * np.log(a / e), axis=-1)


class Shares(NamedTuple):
    """One feature's bins: their names and the share of rows in each, at training (expected)
    and now (actual)."""

    bins: list[str]
    expected: np.ndarray
    actual: np.ndarray


def _bin_names(edges: list[float]) -> list[str]:
    """Readable names of the bins (−inf, e1], (e1, e2], …, (ek, inf)."""
    if not edges:
        return ["all values"]
    names = [f"≤ {edges[0]:.4g}"]
    names += [f"{low:.4g} to {high:.4g}" for low, high in itertools.pairwise(edges)]
    return [*names, f"> {edges[-1]:.4g}"]


def _numeric_shares(spec: dict[str, Any], column: pd.Series) -> Shares:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    actual = _numeric_bins(values, list(spec["edges"])) / len(values)
    expected = np.asarray([*spec["shares"], spec["missing"]], dtype=float)
    return Shares([*_bin_names(list(spec["edges"])), "missing"], expected, actual)


def _text_shares(spec: dict[str, Any], column: pd.Series) -> Shares:
    levels = _levels(column)
    known = list(spec["levels"])
    counts = levels.value_counts(dropna=True)
    in_known = counts.reindex(known, fill_value=0).to_numpy(dtype=float)
    other = float(counts.sum()) - in_known.sum()
    actual = np.array([*in_known, other, float(levels.isna().sum())]) / len(levels)
    expected = np.array([*spec["levels"].values(), spec["other"], spec["missing"]], dtype=float)
    return Shares([*known, "other", "missing"], expected, actual)


def shares(profile: dict[str, Any], features: pd.DataFrame | Table, name: str) -> Shares:
    """The bins of the profiled feature `name`, filled with the rows of `features` (a frame, or
    the built table itself: no frame of a big base made for this): what a
    reference-versus-current plot draws and what `psi` sums over."""
    for kind, fill in (("numeric", _numeric_shares), ("text", _text_shares)):
        spec = profile.get(kind, {}).get(name)
        if spec is not None:
            return fill(spec, pd.Series(features[name], copy=False))
    raise KeyError(f"{name!r} is not in the profile")


def noise(found: Shares, reference_rows: int, rows: int, level: float = NOISE_LEVEL) -> float:
    """The PSI that chance alone exceeds with probability `1 - level` when a training sample of
    `reference_rows` and a sample of `rows` come from one population (the two pooled): drawn
    `NOISE_DRAWS` times with a fixed seed, so it is exact for small samples and many-level text
    features, where the usual bars would call sampling noise drift."""
    if reference_rows < 1 or rows < 1:
        return 0.0
    pooled = found.expected * reference_rows + found.actual * rows
    pooled = pooled / pooled.sum()
    rng = np.random.default_rng(0)
    then = rng.multinomial(reference_rows, pooled, size=NOISE_DRAWS) / reference_rows
    now = rng.multinomial(rows, pooled, size=NOISE_DRAWS) / rows
    return float(np.quantile(_psi(then, now), level))


def status(value: float, chance: float = 0.0) -> str:
    """'stable' below 0.1 (or within what chance alone gives, `chance`), 'watch' below 0.25,
    'drifted' from 0.25 on."""
    if value < STABLE or value <= chance:
        return "stable"
    return "watch" if value < WATCH else "drifted"


def psi(profile: dict[str, Any], features: pd.DataFrame | Table) -> pd.DataFrame:
    """PSI of every profiled feature in `features`: columns feature, psi, noise (what chance
    alone reaches at these sample sizes, see `noise`) and status. Features the frame lacks get
    psi NaN and status "missing" and come first; then the most drifted."""
    if len(features) == 0:
        raise ValueError("psi needs at least one row of features to compare with the profile")
    reference_rows = int(profile.get("rows", 0))
    rows = []
    for kind in ("numeric", "text"):
        for name in profile.get(kind, {}):
            if name not in features:
                rows.append((name, np.nan, np.nan, "missing"))
                continue
            found = shares(profile, features, name)
            value = float(_psi(found.expected, found.actual))
            chance = noise(found, reference_rows, len(features))
            rows.append((name, value, chance, status(value, chance)))
    table = pd.DataFrame(rows, columns=["feature", "psi", "noise", "status"])
    table[["psi", "noise"]] = table[["psi", "noise"]].astype(float)
    order = table["status"].map(STATUS_ORDER)
    table = table.assign(_order=order, _neg=-table["psi"].fillna(0.0))
    table = table.sort_values(["_order", "_neg", "feature"], kind="stable", ignore_index=True)
    return table.drop(columns=["_order", "_neg"])
