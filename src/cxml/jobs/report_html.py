"""Small HTML builders for the report. Every text is escaped unless it is `Html` built here."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

DASH = "—"


class Html(str):
    """Markup built from escaped parts: inserted as is (every other str is escaped)."""

    def __add__(self, other: str) -> Html:
        return Html(str.__add__(self, escape(other)))


def escape(value: object) -> str:
    return value if isinstance(value, Html) else html.escape(str(value), quote=True)


def join(parts: list[Html]) -> Html:
    return Html("".join(parts))


def missing(x: object) -> bool:
    if x is None:
        return True
    try:
        return not np.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return bool(pd.isna(x))


def num(x: Any, digits: int = 0, suffix: str = "", sign: bool = False) -> str:
    if missing(x):
        return DASH
    text = f"{float(x):{'+' if sign else ''},.{digits}f}{suffix}"
    return text.replace("-", "−")


def pct(x: Any, digits: int = 1) -> str:
    return DASH if missing(x) else f"{100 * float(x):.{digits}f}%"


def money(x: Any, currency: str = "") -> str:
    if missing(x):
        return DASH
    sign = "−" if float(x) < 0 else ""
    return f"{sign}{currency}{abs(float(x)):,.0f}"


def date(value: Any, time: bool = False) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return DASH
    stamp = pd.Timestamp(value)
    if not time:
        return stamp.strftime("%Y-%m-%d")
    zone = " UTC" if stamp.tzinfo is not None and stamp.utcoffset() == pd.Timedelta(0) else ""
    return stamp.strftime("%Y-%m-%d %H:%M") + zone


def badge(text: str) -> Html:
    return Html(f'<span class="badge b-{escape(text)}">{escape(text)}</span>')


def note(text: str, kind: str = "note", id_: str | None = None) -> Html:
    ident = f' id="{escape(id_)}"' if id_ else ""
    return Html(f'<p class="{escape(kind)}"{ident}>{escape(text)}</p>')


def img(uri: str, alt: str) -> Html:
    if not uri.startswith("data:image/"):
        raise ValueError("report images must be inline data: URIs, never links")
    return Html(f'<img src="{uri}" alt="{escape(alt)}">')


def heading(text: str) -> Html:
    return Html(f"<h3>{escape(text)}</h3>")


def table(
    header: list[str], rows: list[list[Any]], numeric: set[int] | None = None, kind: str = ""
) -> Html:
    """A table of escaped cells; columns whose position is in `numeric` are right-aligned;
    `kind` is a CSS class (e.g. "narrow" for a short table, "top" for the customer list)."""
    numeric = numeric or set()
    cls = [' class="n"' if i in numeric else "" for i in range(len(header))]
    head = "".join(f"<th{c}>{escape(h)}</th>" for c, h in zip(cls, header, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{c}>{escape(v)}</td>" for c, v in zip(cls, r, strict=True)) + "</tr>"
        for r in rows
    )
    opening = f'<table class="{escape(kind)}">' if kind else "<table>"
    return Html(f"{opening}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def facts(pairs: list[tuple[str, Any]]) -> Html:
    """A two-column table of label and value, without a header row."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs)
    return Html(f'<table class="facts"><tbody>{body}</tbody></table>')


def kpi(label: str, value: str, detail: str = "") -> Html:
    extra = f'<div class="d">{escape(detail)}</div>' if detail else ""
    return Html(
        f'<div class="kpi"><div class="l">{escape(label)}</div>'
        f'<div class="v">{escape(value)}</div>{extra}</div>'
    )
