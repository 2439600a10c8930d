"""The figures a training run records with MLflow, drawn from the tables `cxml.models` computes:
calibration and gains per target, touchpoint impact, and the global SHAP plots a data scientist
checks a model with before trusting its reason codes. matplotlib `Figure` objects only (no
pyplot state), so drawing them in a worker or a test changes nothing global.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from cxml.features.catalog import event_words
from cxml.models.explain import TOUCHPOINT_KINDS

MAX_POINTS = 5_000  # rows drawn in scatter plots: enough to see the shape, quick to save
CMAP = colormaps["coolwarm"].with_extremes(bad="lightgrey")  # grey: empty value


def reliability_figure(table: pd.DataFrame, title: str) -> Figure:
    """Observed rate vs mean predicted per bin (points sized by n) against the diagonal."""
    figure = Figure(figsize=(5, 5), layout="constrained")
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="Perfect calibration")
    sizes = 20 + 280 * table["n"] / max(int(table["n"].max()), 1) if len(table) else 20
    axes.scatter(
        table["mean_predicted"], table["observed_rate"], s=sizes, label="Bins (size = customers)"
    )
    axes.set(xlim=(0, 1), ylim=(0, 1), title=title)
    axes.set_xlabel("Mean predicted probability")
    axes.set_ylabel("Observed rate")
    axes.legend(loc="upper left")
    return figure


def gains_figure(table: pd.DataFrame, title: str) -> Figure:
    """Share of positives captured vs share of customers contacted, against random targeting."""
    figure = Figure(figsize=(5, 5), layout="constrained")
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="Random targeting")
    fractions = np.concatenate([[0.0], table["fraction"].to_numpy(dtype=float)])
    capture = np.concatenate([[0.0], table["capture"].to_numpy(dtype=float)])
    axes.plot(fractions, capture, marker="o", markersize=3, label="Model")
    axes.set(xlim=(0, 1), ylim=(0, 1.02), title=title)
    axes.set_xlabel("Share of customers contacted")
    axes.set_ylabel("Share of positive outcomes captured")
    axes.legend(loc="lower right")
    return figure


def evaluation_figures(
    tables: Mapping[str, pd.DataFrame], targets: Iterable[str]
) -> dict[str, Figure]:
    """`<target>_reliability` and `<target>_gains` from the tables of the same names that
    `models.report.evaluation_report` returns, so the plots always show the logged numbers."""
    figures: dict[str, Figure] = {}
    for target in targets:
        figures[f"{target}_reliability"] = reliability_figure(
            tables[f"{target}_reliability"], f"{target}: predicted vs observed (out of sample)"
        )
        figures[f"{target}_gains"] = gains_figure(
            tables[f"{target}_gains"], f"{target}: share of cases found"
        )
    return figures


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
