"""Why a customer is at risk: exact contributions, reason codes in plain words, and the
touchpoints that push risk up (the plots of them are drawn by cxml.report.figures).

Contributions are the values of LightGBM's TreeSHAP (`pred_contrib=True`, computed from per-leaf
tables by models/treeshap.py) in log-odds: they add up exactly
to the raw margin of the trees that scored the customer, with no sampling and no background set.
Reason texts come from the feature catalog and the customer's own values, so a feature name or a
PII column never reaches a customer-facing sentence. Pure: arrays and tables in and out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cxml.features.catalog import FeatureInfo, event_words
from cxml.features.table import Table

if TYPE_CHECKING:
    from cxml.models.bundle import ScoringBundle
    from cxml.models.choice import RiskModel

TOUCHPOINT_KINDS = ("channel", "event_type")
TOUCHPOINT_MEANS = ("mean_contribution", "mean_abs_contribution")

# Which action families can address a reason of each feature family (next-best-action says why).
DRIVER_ACTIONS: dict[str, tuple[str, ...]] = {
    "support": ("support_callback",),
    "payment": ("discount",),
    "voice": ("support_callback", "loyalty_upgrade"),
    "activity": ("education_email",),
    "recency": ("education_email",),
    "trend": ("education_email",),
    "monetary": ("discount", "loyalty_upgrade"),
    "tenure": ("loyalty_upgrade",),
    "channel": ("education_email",),
    "profile": (),
}


def _model(bundle: ScoringBundle, target: str) -> RiskModel:
    if target not in bundle.models:
        known = ", ".join(sorted(bundle.models)) or "none"
        raise KeyError(f"no model for target '{target}' in this bundle (it has: {known})")
    return bundle.models[target]


def contributions(bundle: ScoringBundle, target: str, matrix: np.ndarray) -> np.ndarray:
    """Exact per-feature contributions (log-odds) to `target`'s score before calibration, for
    rows already encoded with the bundle's encoder: rows x (features + 1), the base value in
    the last column, so base + row sum == the log-odds and nothing is hidden."""
    if not len(matrix):
        return np.empty((0, len(bundle.feature_names) + 1))
    return _model(bundle, target).contributions(matrix)


def _ranked(values: np.ndarray, k: int) -> np.ndarray:
    """(rows, k) column positions of the k largest positive values, largest first; -1 = none."""
    n, p = values.shape
    top = np.full((n, k), -1, dtype=np.int64)
    m = min(k, p)
    if m == 0 or n == 0:
        return top
    part = np.argpartition(-values, m - 1, axis=1)[:, :m]
    picked = np.take_along_axis(values, part, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    best = np.take_along_axis(part, order, axis=1)
    top[:, :m] = np.where(np.take_along_axis(picked, order, axis=1) > 0, best, -1)
    return top


def feature_infos(catalog: pd.DataFrame) -> dict[str, FeatureInfo]:
    """The catalog's rows as FeatureInfos by name, read once: looking a row up in the frame
    for every reason cost more than explaining one customer."""
    infos = {}
    for name, row in zip(catalog.index, catalog.to_dict("records"), strict=True):
        row = {k: None if pd.isna(v) else v for k, v in row.items()}
        window = row.get("window_days")
        infos[str(name)] = FeatureInfo(
            name=str(name),
            family=str(row["family"]),
            window_days=None if window is None else int(window),
            template=str(row["template"]),
            event_type=None if row.get("event_type") is None else str(row["event_type"]),
            channel=None if row.get("channel") is None else str(row["channel"]),
        )
    return infos


def _missing(info: FeatureInfo) -> str:
    """What an empty value means, in words ('no NPS survey answers in the last 365 days')."""
    if info.window_days is None:
        return re.sub(r"\{value[^}]*\}", "unknown", info.template)
    if info.event_type:
        what = event_words(info.event_type)
    else:
        what = "comments" if info.template.startswith("comments") else "interactions"
    window = f"in the last {info.window_days} days"
    if "changed by" in info.template:
        return f"fewer than two {what} {window}"
    if "to resolve" in info.template:
        return f"no resolved {what} {window}"
    return f"no {what} {window}"


def _describe(info: FeatureInfo, value: object) -> str:
    if info.family == "profile" and isinstance(value, float):
        value = int(value) if value.is_integer() else round(value, 2)
    return info.describe(value)


FEW_VALUES = 16


def _render(
    chosen: np.ndarray, features: Table, names: list[str], infos: Mapping[str, FeatureInfo]
) -> np.ndarray:
    """Text for each chosen (row, feature) cell, `chosen` holding positions in `names`; each
    distinct (feature, value) rendered once (a few values are rendered as they come: for one
    customer, finding the distinct ones cost more). Underscores become spaces ('call centre',
    'small business'): no identifier reads through."""
    texts = np.full(chosen.shape, "", dtype=object)
    for j in np.unique(chosen[chosen >= 0]):
        at = chosen == j
        values = np.asarray(features[names[j]])[np.nonzero(at)[0]]
        info = infos[names[j]]
        if len(values) <= FEW_VALUES:
            texts[at] = [_text(info, v) for v in values]
            continue
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        rendered = [_text(info, v) for v in uniques] + [_text(info, None)]  # code -1: missing
        texts[at] = np.asarray(rendered, dtype=object)[codes]
    return texts


def _text(info: FeatureInfo, value: object) -> str:
    """One reason in words; a missing value (None, NaN), or a recency censored at its window
    (none within it), says what its absence means."""
    text = _missing(info) if _absent(info, value) else _describe(info, value)
    return text.replace("_", " ")


def _absent(info: FeatureInfo, value: object) -> bool:
    if pd.isna(value):
        return True
    window = info.window_days
    return info.family == "recency" and window is not None and float(value) >= window  # type: ignore[arg-type]


@lru_cache(maxsize=32)
def _concepts(names: tuple[str, ...]) -> np.ndarray:
    """A number per feature, shared by the features that differ only in their window
    (`n_support_ticket_30d`, `n_support_ticket_90d`), and -1 at the end for "none". Cached:
    a model's names are the same on every call (a request's among them)."""
    stems = [re.sub(r"_\d+d(?=_|$)", "", name) for name in names]
    return np.append(pd.factorize(np.asarray(stems, dtype=object))[0], -1)


def _distinct(ranked: np.ndarray, concept: np.ndarray, k: int) -> np.ndarray:
    """The first k positions per row of `ranked` (-1: none) whose concepts are new in the row."""
    n = len(ranked)
    top = np.full((n, k), -1, dtype=np.int64)
    filled = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    for column in ranked.T:
        if filled.min(initial=k) >= k:  # every row has its k: the rest cannot change
            break
        seen = (concept[top] == concept[column][:, None]) & (top >= 0)
        take = (column >= 0) & (filled < k) & ~seen.any(axis=1)
        top[rows[take], filled[take]] = column[take]
        filled += take
    return top


def reason_columns(
    contrib: np.ndarray,
    names: list[str],
    rows: Table,
    infos: Mapping[str, FeatureInfo],
    k: int = 3,
    protective: bool = False,
) -> dict[str, np.ndarray]:
    """Per row, the k features that raise risk most (one per concept: of "2 tickets unresolved
    from the last 30 days" and the same from the last 90, only the stronger), in words with
    the customer's own values (only positive contributors: what lowers risk is never a
    reason), their families, and with
    `protective` the strongest protective factor; empty strings where there are fewer.
    `contrib`: contributions (rows x `names`, the base column left off) of the features
    `rows`, in the same order; `infos`: the catalog read by `feature_infos`."""
    unknown = [n for n in names if n not in infos]
    if unknown:
        raise KeyError(f"features {unknown[:3]} are not in the catalog: use the bundle's own")
    absent = [n for n in names if n not in rows]
    if absent:
        raise KeyError(f"features lack the explained columns {absent[:5]}: pass the model's")
    top = _distinct(_ranked(contrib, min(3 * k, len(names))), _concepts(tuple(names)), k)
    texts = _render(top, rows, names, infos)
    family = np.array([infos[n].family for n in names] + [""], dtype=object)  # -1: none
    out = {f"reason_{s + 1}": texts[:, s] for s in range(k)}
    named = family[top]
    out |= {f"reason_family_{s + 1}": named[:, s] for s in range(k)}
    if protective:
        out["protective_reason"] = _render(_ranked(-contrib, 1), rows, names, infos)[:, 0]
    return out


def _actions(families: Iterable[object]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for family in families:
        found |= dict.fromkeys(DRIVER_ACTIONS.get(str(family), ()))
    return tuple(found)


def addressed_by(reasons: pd.DataFrame) -> pd.Series:
    """Per row, the action families that address its reasons (from the `reason_family_<i>`
    columns), most important reason first, each once: next-best-action's 'because'."""
    columns = sorted(
        (c for c in reasons.columns if re.fullmatch(r"reason_family_\d+", str(c))),
        key=lambda c: int(str(c).rsplit("_", 1)[1]),
    )
    if not columns:
        return pd.Series(
            [()] * len(reasons), index=reasons.index, name="addressed_by", dtype=object
        )
    codes, combos = pd.MultiIndex.from_frame(reasons[columns].fillna("")).factorize()
    per_combo = np.empty(len(combos), dtype=object)
    for i, combo in enumerate(combos):
        per_combo[i] = _actions(combo)
    return pd.Series(per_combo[codes], index=reasons.index, name="addressed_by", dtype=object)


def _touchpoints(contrib: pd.DataFrame, catalog: pd.DataFrame, kind: str) -> pd.DataFrame:
    groups = catalog.loc[list(contrib.columns), kind]
    groups = groups[groups.notna()]
    if groups.empty:
        return pd.DataFrame(columns=["kind", "touchpoint", *TOUCHPOINT_MEANS])
    codes, names = pd.factorize(groups.to_numpy(dtype=object))
    indicator = np.zeros((len(groups), len(names)))
    indicator[np.arange(len(groups)), codes] = 1.0
    per_customer = contrib[list(groups.index)].to_numpy(dtype=float) @ indicator
    n = len(per_customer)
    nan = np.full(len(names), np.nan)
    return pd.DataFrame(
        {
            "kind": kind,
            "touchpoint": [str(t) for t in names],
            "mean_contribution": per_customer.sum(axis=0) / n if n else nan,
            "mean_abs_contribution": np.abs(per_customer).sum(axis=0) / n if n else nan,
        }
    )


def touchpoint_impact(contrib: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Which channels and event types push risk up most: each touchpoint's features summed per
    customer, then averaged signed and absolute over customers; share_of_abs sums to 1 per
    kind. Features with no channel or event type (profile, tenure) are left out."""
    parts = []
    for kind in TOUCHPOINT_KINDS:
        part = _touchpoints(contrib, catalog, kind)
        total = float(part["mean_abs_contribution"].sum())
        share = part["mean_abs_contribution"] / total if total > 0 else np.nan
        parts.append(part.assign(share_of_abs=share))
    table = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    table = table.astype({c: float for c in table.columns[2:]})
    return table.sort_values("mean_contribution", ascending=False, kind="stable", ignore_index=True)
