"""Wiring for the team's page (report/ui.py): the scored list with each customer's segment and
view, as the static folder `ui/` of a scoring run, and as the server's data (serving/ui.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import pandas as pd

from cxml.config import PipelineConfig
from cxml.data.validate import is_pii
from cxml.report.timeline import chunked_views
from cxml.report.ui import Listing, static_files

UI = "ui"  # the page's folder in a scoring run's output


def segments(customers: pd.DataFrame, names: Sequence[str], pii: Sequence[str]) -> pd.Series | None:
    """Each customer's segment by id: the first of `names` (the config's evaluation segments)
    that the customers table has and that is not PII; None when there is none."""
    for name in names:
        if name in customers and not is_pii([name], pii)[0]:
            ids = customers["customer_id"].astype(str)
            return pd.Series(customers[name].astype(str).to_numpy(), index=ids.to_numpy())
    return None


def listing(scored: pd.DataFrame, customers: pd.DataFrame, config: PipelineConfig) -> Listing:
    found = segments(customers, config.evaluation.segments, config.features.pii_columns)
    currency = "" if config.actions is None else config.actions.currency
    return Listing.of(scored, found, currency)


def ui_files(
    scored: pd.DataFrame, tables: dict[str, pd.DataFrame], config: PipelineConfig, out: Path
) -> dict[str, Callable[[Path], object]]:
    """The static folder's files as writers (see data/io.py `write_together`), each making its
    text as it writes, so one chunk of timelines is in memory at a time; the chunks of an
    earlier, longer list are named with a writer that writes nothing, so they go."""
    shown = listing(scored, tables["customers"], config)
    chunks = chunked_views(
        shown.frame,
        tables["events"],
        tables.get("actions"),
        scored["cutoff"].iloc[0],
        config.features.taxonomy.aliases,
    )
    writers = no_ui_files(out, "data/c*.js")
    texts = static_files(shown, chunks)
    writers |= {f"{UI}/{name}": partial(_write, text) for name, text in texts.items()}
    return writers


def no_ui_files(out: Path, pattern: str = "**/*") -> dict[str, Callable[[Path], object]]:
    """Writers that remove an earlier run's page files matching `pattern`, so that a run's
    outputs replace the previous ones together (`cxml score --no-page` leaves no stale page)."""
    return {
        f"{UI}/{old.relative_to(out / UI)}": _nothing
        for old in (out / UI).glob(pattern)
        if old.is_file()
    }


def _write(text: Callable[[], str], path: Path) -> None:
    path.write_text(text(), encoding="utf-8")


def _nothing(path: Path) -> None:
    """Write no file at `path`."""
