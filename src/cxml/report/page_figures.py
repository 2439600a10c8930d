"""The page's figures: matplotlib `Figure` objects (no pyplot state), inlined as PNG data URIs.

Every figure is small, labelled in plain words, and uses the same few colours as the page:
red for high risk or "raises risk", amber for medium, teal for low or "lowers risk".
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cxml.features.catalog import event_words
from cxml.report.context import Image

BAND_COLOURS = {"high": "#c0392b", "medium": "#e69f00", "low": "#2a9d8f"}
ACCENT, MUTED, RAISES, LOWERS = "#1f4e79", "#9aa5b1", "#c0392b", "#2a9d8f"
DPI = 110


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.set_facecolor("white")
    return fig


def _tidy(ax: object) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)  # type: ignore[attr-defined]
    ax.tick_params(labelsize=9)  # type: ignore[attr-defined]


def figure_uri(fig: Figure) -> str:
    """PNG bytes as a data: URI. No timestamp or software tag, so equal inputs give equal bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def inline(fig: Figure, alt: str) -> Image:
    """The figure as the page shows it: inline, with a text for screen readers and print."""
    uri = figure_uri(fig)
    if not uri.startswith("data:image/"):
        raise ValueError("report images must be inline data: URIs, never links")
    return Image(uri, alt)


def risk_histogram(probability: pd.Series, band: pd.Series) -> Figure:
    """How many customers at each churn probability, stacked by risk band."""
    fig = _figure(7.5, 3.0)
    ax = fig.subplots()
    values = probability.to_numpy(dtype=float)
    top = float(np.nanmax(values, initial=0.0))
    edges = np.linspace(0.0, max(top, 0.05) * 1.02, 31)
    bottom = np.zeros(len(edges) - 1)
    for name, colour in BAND_COLOURS.items():
        counts = np.histogram(values[(band == name).to_numpy()], bins=edges)[0]
        if counts.any():
            ax.bar(
                edges[:-1],
                counts,
                width=np.diff(edges),
                bottom=bottom,
                align="edge",
                color=colour,
                edgecolor="white",
                linewidth=0.5,
                label=name,
            )
            bottom += counts
    ax.set_xlabel("churn probability")
    ax.set_ylabel("customers")
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:.0%}")
    if bottom.any():
        ax.legend(title="risk band", frameon=False, fontsize=9, title_fontsize=9)
    _tidy(ax)
    return fig


def nps_figure(nps: pd.DataFrame) -> Figure:
    """Monthly NPS as a line; months without answers are gaps."""
    fig = _figure(7.5, 2.4)
    ax = fig.subplots()
    x = np.arange(len(nps))
    ax.plot(x, nps["nps"].to_numpy(dtype=float), marker="o", color=ACCENT, linewidth=2)
    ax.axhline(0, color=MUTED, linewidth=0.8)
    labels = [pd.Period(str(m), freq="M").strftime("%b\n%Y") for m in nps["month"]]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("NPS")
    low = float(np.nanmin(nps["nps"].to_numpy(dtype=float), initial=0.0))
    high = float(np.nanmax(nps["nps"].to_numpy(dtype=float), initial=0.0))
    ax.set_ylim(min(low, 0.0) - 10, max(high, 0.0) + 10)
    _tidy(ax)
    return fig


def action_figure(mix: pd.DataFrame) -> Figure:
    """Customers per recommended action (a 'none' row in grey)."""
    fig = _figure(7.5, 0.4 * max(len(mix), 3) + 0.8)
    ax = fig.subplots()
    part = mix.iloc[::-1]
    colours = [MUTED if a == "none" else ACCENT for a in part["action"]]
    labels = [str(a).replace("_", " ") for a in part["action"]]
    bars = ax.barh(labels, part["customers"].to_numpy(dtype=float), color=colours)
    ax.bar_label(bars, fmt="{:,.0f}", padding=3, fontsize=9)
    ax.set_xlabel("customers")
    _tidy(ax)
    return fig


def policy_figure(values: pd.DataFrame, value: str) -> Figure:
    """Expected value per policy, best in colour, interval whiskers when low/high are known."""
    fig = _figure(7.5, 0.5 * max(len(values), 3) + 0.8)
    ax = fig.subplots()
    part = values.iloc[::-1]
    estimate = part[value].to_numpy(dtype=float)
    best = float(np.nanmax(estimate)) if len(estimate) else np.nan
    colours = [ACCENT if v == best else MUTED for v in estimate]
    error = None
    if {"low", "high"} <= set(part.columns):
        low = estimate - part["low"].to_numpy(dtype=float)
        high = part["high"].to_numpy(dtype=float) - estimate
        error = np.vstack([np.clip(low, 0, None), np.clip(high, 0, None)])
    ax.barh(part["label"].astype(str), estimate, xerr=error, color=colours, capsize=4)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("expected value")
    _tidy(ax)
    return fig


def _touchpoint_labels(part: pd.DataFrame) -> list[str]:
    words = [
        event_words(str(t)) if kind == "event_type" else str(t)
        for kind, t in zip(part["kind"], part["touchpoint"], strict=True)
    ]
    return [w.replace("_", " ") for w in words]


def touchpoint_share_figure(table: pd.DataFrame, top: int = 10) -> Figure:
    """Share of the explained risk per channel and per event type; red raises risk on average,
    teal lowers it."""
    kinds = [k for k in ("channel", "event_type") if (table["kind"] == k).any()]
    rows = max([min(int((table["kind"] == k).sum()), top) for k in kinds] or [3])
    fig = _figure(9.0, 0.35 * max(rows, 4) + 1.2)
    axes = fig.subplots(1, max(len(kinds), 1), squeeze=False)[0]
    for ax, kind in zip(axes, kinds, strict=False):
        part = table[table["kind"] == kind].sort_values("share_of_abs", ascending=False)
        part = part.iloc[:top].iloc[::-1]
        colours = np.where(part["mean_contribution"].to_numpy(dtype=float) > 0, RAISES, LOWERS)
        ax.barh(_touchpoint_labels(part), part["share_of_abs"].to_numpy(dtype=float), color=colours)
        ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:.0%}")
        ax.set_title(f"by {kind.replace('_', ' ')}", fontsize=10)
        ax.set_xlabel("share of what drives risk")
        _tidy(ax)
    return fig


def distribution_figure(bins: list[str], reference: np.ndarray, current: np.ndarray) -> Figure:
    """One feature's share of customers per bin, at training (grey) and now (colour)."""
    fig = _figure(4.6, 0.24 * max(len(bins), 4) + 1.0)
    ax = fig.subplots()
    y = np.arange(len(bins))[::-1]
    ax.barh(y + 0.2, reference, height=0.4, color=MUTED, label="training")
    ax.barh(y - 0.2, current, height=0.4, color=ACCENT, label="now")
    ax.set_yticks(y, [str(b) for b in bins], fontsize=8)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:.0%}")
    ax.set_xlabel("share of customers")
    ax.legend(frameon=False, fontsize=8)
    _tidy(ax)
    return fig


def survival_figure(curves: pd.DataFrame) -> Figure:
    """The mean chance of still being a customer by day, one line per risk band (rows of
    `curves`, days as columns)."""
    fig = _figure(7.5, 2.8)
    ax = fig.subplots()
    days = np.asarray(curves.columns, dtype=float)
    for band, curve in curves.iterrows():
        colour = BAND_COLOURS.get(str(band), ACCENT)
        ax.plot(days, curve.to_numpy(dtype=float), marker="o", color=colour, label=str(band))
    ax.set_xlabel("days after the cutoff")
    ax.set_ylabel("still a customer")
    ax.set_ylim(0.0, 1.02)
    ax.yaxis.set_major_formatter(lambda y, _pos: f"{y:.0%}")
    ax.legend(title="risk band", frameon=False, fontsize=9, title_fontsize=9)
    _tidy(ax)
    return fig
