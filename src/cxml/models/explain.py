"""Why a customer is at risk: exact contributions, reason codes in plain words, the touchpoints
that push risk up, and the global plots a data scientist checks a model with.

Contributions are LightGBM's own TreeSHAP (`pred_contrib=True`) in log-odds: they add up exactly
to the raw margin of the trees that scored the customer, with no sampling and no background set.
Reason texts come from the feature catalog and the customer's own values, so a feature name or a
PII column never reaches a customer-facing sentence. Pure: frames in, frames and figures out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from cxml.features.catalog import FeatureInfo, event_words
from cxml.features.table import Table

if TYPE_CHECKING:
    from cxml.models.bundle import ScoringBundle
    from cxml.models.train import BoostedClassifier

TOUCHPOINT_KINDS = ("channel", "event_type")
TOUCHPOINT_MEANS = ("mean_contribution", "mean_abs_contribution")
MAX_POINTS = 5_000  # rows drawn in scatter plots: enough to see the shape, quick to save
CMAP = colormaps["coolwarm"].with_extremes(bad="lightgrey")  # grey: empty value

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


def _model(bundle: ScoringBundle, target: str) -> BoostedClassifier:
    if target not in bundle.models:
        known = ", ".join(sorted(bundle.models)) or "none"
        raise KeyError(f"no model for target '{target}' in this bundle (it has: {known})")
    return bundle.models[target]


def contributions(bundle: ScoringBundle, target: str, matrix: np.ndarray) -> np.ndarray:
    """Exact per-feature contributions (log-odds) to `target`'s raw margin for rows already
    encoded with the bundle's encoder: rows x (features + 1), the base value in the last
    column, so base + row sum == margin and nothing is hidden."""
    model = _model(bundle, target)
    if not len(matrix):
        return np.empty((0, len(bundle.feature_names) + 1))
    raw = model.booster_.predict(matrix, pred_contrib=True, num_iteration=model.best_iteration_)
    return np.asarray(raw)


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


def reason_columns(
    contrib: np.ndarray,
    names: list[str],
    rows: Table,
    infos: Mapping[str, FeatureInfo],
    k: int = 3,
    protective: bool = False,
) -> dict[str, np.ndarray]:
    """Per row, the k features that raise risk most, in words with the customer's own values
    (only positive contributors: what lowers risk is never a reason), their families, and with
    `protective` the strongest protective factor; empty strings where there are fewer.
    `contrib`: contributions (rows x `names`, the base column left off) of the features
    `rows`, in the same order; `infos`: the catalog read by `feature_infos`."""
    unknown = [n for n in names if n not in infos]
    if unknown:
        raise KeyError(f"features {unknown[:3]} are not in the catalog: use the bundle's own")
    absent = [n for n in names if n not in rows]
    if absent:
        raise KeyError(f"features lack the explained columns {absent[:5]}: pass the model's")
    top = _ranked(contrib, k)
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


def touchpoint_figure(table: pd.DataFrame, title: str) -> Figure:
    """Signed mean contribution per channel and per event type (red raises risk)."""
    fig = Figure(figsize=(11, 0.3 * max(len(table), 8) + 1.5), layout="constrained")
    axes = fig.subplots(1, len(TOUCHPOINT_KINDS), squeeze=False)[0]
    for ax, kind in zip(axes, TOUCHPOINT_KINDS, strict=True):
        part = table[table["kind"] == kind].iloc[::-1]
        labels = [event_words(t) if kind == "event_type" else t for t in part["touchpoint"]]
        values = part["mean_contribution"].to_numpy(dtype=float)
        colour = np.where(values > 0, "tab:red", "tab:blue")
        ax.barh([str(t).replace("_", " ") for t in labels], values, color=colour)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"by {kind.replace('_', ' ')}")
        ax.set_xlabel("mean contribution per customer (log-odds)")
        if part.empty:
            ax.text(0.5, 0.5, "no touchpoints", ha="center", transform=ax.transAxes)
    fig.suptitle(title)
    return fig


def _as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric view for colouring: text columns become codes (order of first appearance)."""
    return pd.DataFrame(
        {
            c: frame[c].to_numpy(dtype=float, na_value=np.nan)
            if pd.api.types.is_numeric_dtype(frame[c])
            else np.where((codes := pd.factorize(frame[c])[0]) < 0, np.nan, codes)
            for c in frame.columns
        },
        index=frame.index,
    )


def _sample(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))


def _beeswarm(contrib: pd.DataFrame, values: pd.DataFrame, order: list[str]) -> Figure:
    """SHAP's summary plot: one row of points per feature, coloured by the feature's value."""
    fig = Figure(figsize=(9, 0.35 * len(order) + 1.5), layout="constrained")
    ax = fig.subplots()
    rows, rng = _sample(len(contrib)), np.random.default_rng(0)
    for y, name in enumerate(reversed(order)):
        x = contrib[name].to_numpy()[rows]
        colour = values[name].iloc[rows].rank(pct=True).to_numpy()
        jitter = rng.uniform(-0.35, 0.35, len(rows))
        ax.scatter(x, y + jitter, c=colour, cmap=CMAP, vmin=0, vmax=1, s=5, linewidths=0)
    ax.set_yticks(range(len(order)), list(reversed(order)))
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("contribution to the log-odds (SHAP value)")
    fig.colorbar(ScalarMappable(Normalize(0, 1), CMAP), ax=ax, label="feature value percentile")
    return fig


def _bar(strength: pd.Series) -> Figure:
    fig = Figure(figsize=(9, 0.35 * len(strength) + 1.5), layout="constrained")
    ax = fig.subplots()
    ax.barh(list(strength.index[::-1]), strength.to_numpy()[::-1], color="tab:red")
    ax.set_xlabel("mean |SHAP value| (log-odds)")
    return fig


def _dependence(contrib: pd.DataFrame, values: pd.DataFrame, name: str, by: str) -> Figure:
    """A feature's value against its contribution, coloured by the next strongest feature."""
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.subplots()
    rows = _sample(len(contrib))
    colour = values[by].iloc[rows].rank(pct=True).to_numpy()
    x, y = values[name].to_numpy()[rows], contrib[name].to_numpy()[rows]
    ax.scatter(x, y, c=colour, cmap=CMAP, vmin=0, vmax=1, s=6, linewidths=0)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"{name} (empty values not drawn)")
    ax.set_ylabel(f"SHAP value for {name}")
    fig.colorbar(ScalarMappable(Normalize(0, 1), CMAP), ax=ax, label=f"{by} (percentile)")
    return fig


def global_figures(
    contrib: pd.DataFrame, features_matrix_frame: pd.DataFrame, top: int = 3, show: int = 20
) -> dict[str, Figure]:
    """Beeswarm, mean-|SHAP| bar and dependence plots for the `top` strongest features: the
    model-level view a data scientist checks before trusting reason codes. Scatter plots draw
    a fixed sample of at most MAX_POINTS rows; text columns are coloured by their codes."""
    values = _as_numbers(features_matrix_frame.loc[contrib.index, list(contrib.columns)])
    strength = contrib.abs().mean().sort_values(ascending=False, kind="stable").head(show)
    order = list(strength.index)
    figures = {"shap_beeswarm": _beeswarm(contrib, values, order), "shap_bar": _bar(strength)}
    for i, name in enumerate(order[:top]):
        by = order[1] if i == 0 and len(order) > 1 else order[0]
        figures[f"shap_dependence_{name}"] = _dependence(contrib, values, name, by)
    return figures
