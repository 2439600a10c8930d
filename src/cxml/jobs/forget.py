"""Wiring for `cxml forget`: a customer's right to erasure over what cxml itself wrote. Their rows
go from the registry of scorings in MLflow, from every scored folder it knows (the list, the
decisions, the report's table of riskiest customers, the team's page, the quarantine files), from
the data dir's quarantine files and from the database the lists went to. Source data and
trained models are not cxml's to edit: the answer says so, and what to do."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from cxml.config import PipelineConfig
from cxml.data.io import read_file, save_csv, save_parquet, write_together
from cxml.jobs.score_ui import UI

T = TypeVar("T")
NOT_TOUCHED = (
    "the source data dir (events, customers, actions): delete them there, at the source",
    "trained models: they hold no customer rows, but learned from them: retrain to forget",
    "copies made outside cxml (exports of the list, backups, a CRM that read the database)",
)


@dataclass
class Erasure:
    """What `forget` removed: (place, rows) per place that held the customers."""

    removed: list[tuple[str, int]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.removed)


def forget(
    config: PipelineConfig,
    customer_ids: Iterable[str],
    folders: Iterable[Path] = (),
    db_url: str | None = None,
) -> Erasure:
    """Remove the customers from every place cxml wrote them. Each folder's files are replaced
    together; the database rows go in one transaction."""
    from cxml.jobs import database, scorings, uses

    ids = {str(c) for c in customer_ids}
    done = Erasure()
    known = [Path(f) for f in folders]
    for use in uses.find_uses(scorings.KIND, config.tracking.model_name):
        frame = uses.use_frame(use.run_id, scorings.ARTIFACT)
        mine = frame["customer_id"].astype(str).isin(ids).to_numpy()
        if mine.any():
            uses.replace_use_frame(use.run_id, scorings.ARTIFACT, frame[~mine])
            done.removed.append((f"MLflow scoring run {use.run_id}", int(mine.sum())))
        if use.params.get("out"):
            known.append(Path(use.params["out"]))
    for folder in dict.fromkeys(f.resolve() for f in known if f.is_dir()):
        done.removed += forget_in_folder(folder, ids)
    done.removed += forget_in_folder(config.data.dir / "quarantine", ids)
    if db_url is not None:
        for table, n in database.forget(db_url, ids).items():
            if n:
                done.removed.append((f"database table {table}", n))
    return done


def forget_in_folder(folder: Path, ids: set[str]) -> list[tuple[str, int]]:
    """The customers' rows out of a folder's lists and decisions (Parquet, CSV), the report's
    table and the team's page (`ui/`), all replaced together."""
    if not folder.is_dir():
        return []
    writes: dict[str, Callable[[Path], object]] = {}
    removed = _forget_in_page(folder, ids, writes)
    tables = [*sorted(folder.glob("*.parquet")), *sorted(folder.rglob("*.csv"))]
    for path in tables:
        if not path.is_file():
            continue
        frame = read_file(path)
        if "customer_id" not in frame:
            continue
        mine = frame["customer_id"].astype(str).isin(ids).to_numpy()
        if mine.any():
            save = save_parquet if path.suffix == ".parquet" else save_csv
            writes[str(path.relative_to(folder))] = partial(save, frame[~mine])
            removed.append((str(path), int(mine.sum())))
    report = folder / "report.html"
    if report.is_file():
        text = report.read_text(encoding="utf-8")
        kept, n = _without_rows(text, ids)
        if n:
            writes["report.html"] = _text_writer(kept)
            removed.append((str(report), n))
    if writes:
        write_together(folder, writes)
    return removed


def _forget_in_page(
    folder: Path, ids: set[str], writes: dict[str, Callable[[Path], object]]
) -> list[tuple[str, int]]:
    """The customers' list rows and views out of the team's static page (report/ui.py), its
    count made fewer by as many; their new texts go into `writes`."""
    from cxml.report.ui import chunk_without, index_without, list_without

    page = folder / UI
    listed = page / "data" / "list.js"
    if not listed.is_file():
        return []
    removed = []
    text, rows = _page_file(listed, list_without, ids)
    if rows:
        writes[f"{UI}/data/list.js"] = _text_writer(text)
        removed.append((str(listed), rows))
        index = page / "index.html"
        if index.is_file():
            writes[f"{UI}/index.html"] = _text_writer(_page_file(index, index_without, rows))
    for chunk in sorted((page / "data").glob("c*.js")):
        text, views = _page_file(chunk, chunk_without, ids)
        if views:
            writes[str(chunk.relative_to(folder))] = _text_writer(text)
            removed.append((str(chunk), views))
    return removed


def _page_file(path: Path, rewrite: Callable[[str, Any], T], arg: Any) -> T:
    """`rewrite` of a file of the page in `path.parents`' `ui/`; one that is not as cxml
    score wrote it stops the erasure of its folder, saying what to do."""
    try:
        return rewrite(path.read_text(encoding="utf-8"), arg)
    except (ValueError, UnicodeDecodeError) as exc:
        page = next(p for p in path.parents if p.name == UI)
        raise ValueError(
            f"{path}: {exc}; it is not as cxml score wrote it. Run cxml score again to write the "
            f"page anew, or remove {page}, then forget again (nothing was removed from "
            f"{page.parent})"
        ) from exc


def _text_writer(text: str) -> Callable[[Path], object]:
    return partial(Path.write_text, data=text, encoding="utf-8")


def _without_rows(page: str, ids: set[str]) -> tuple[str, int]:
    """The report without the table rows naming these customers (its riskiest-customers table
    names each in a cell of its own), and how many went."""
    total = 0
    for cid in ids:
        cell = re.escape(f"<td>{html.escape(cid)}</td>")
        page, n = re.subn(rf"<tr>(?:(?!</tr>).)*?{cell}.*?</tr>\s*", "", page, flags=re.S)
        total += n
    return page, total
