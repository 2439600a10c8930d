"""Reading contract tables and writing outputs atomically: the only file I/O of the data layer.

Readers never guess silently: a file that is missing, empty, not UTF-8 or not Parquet raises
`ContractError` with the file's name and what to do. Writers go through a temporary file in the
target folder and `os.replace`, so a failed run never leaves half a file behind. Every JSON the
project writes goes through `json_text`: strict JSON, a missing or non-finite number is `null`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cxml.config import ReadLimits
from cxml.data.csv_text import csv_chunks
from cxml.data.parquet_column import read_column
from cxml.data.schema import TABLES, ContractError
from cxml.data.validate import read_as_pii

__all__ = [
    "ContractError",
    "json_safe",
    "json_text",
    "read_table",
    "recover",
    "replace_dir",
    "write_atomic",
    "write_csv",
    "write_json",
    "write_parquet",
    "write_together",
]

SUFFIXES = (".parquet", ".csv", ".csv.gz")
ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group (pyarrow's default)
#: Per table, the Parquet text columns read as categoricals (each distinct text held once, not
#: once per row): the events' ids, types and channels, the long table's repeated texts and the
#: columns every reader of events already takes as categoricals (the simulator writes them so);
#: and its comments, missing on most events (a code per row, not an object).
REPEATED = {"events": ("customer_id", "event_type", "channel", "text")}


def find_table(data_dir: Path, table: str) -> Path | None:
    """The file holding `table` in `data_dir`, or None; two files for one table are refused
    rather than one being picked silently."""
    found = [data_dir / f"{table}{s}" for s in SUFFIXES if (data_dir / f"{table}{s}").is_file()]
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise ContractError(f"{data_dir}: {names} both hold table '{table}': keep one of them")
    return found[0] if found else None


def read_table(
    data_dir: Path,
    table: str,
    limits: ReadLimits = ReadLimits(),
    pii_columns: Collection[str] = (),
) -> tuple[pd.DataFrame, Path] | None:
    """Read one contract table as stored (CSV as text, Parquet typed); None if optional, absent.
    Its columns named in `pii_columns` are left out (`read_as_pii`; a Parquet file's are not
    even read)."""
    if not data_dir.is_dir():
        raise ContractError(f"{data_dir}: no such data folder; pass the folder holding customers.*")
    path = find_table(data_dir, table)
    if path is None:
        if TABLES[table].required:
            names = ", ".join(f"{table}{s}" for s in SUFFIXES)
            raise ContractError(f"{data_dir}: the required table '{table}' is missing: add {names}")
        return None

    def wanted(name: str) -> bool:
        return not read_as_pii(table, name, pii_columns)

    return read_file(path, limits, repeated=REPEATED.get(table, ()), wanted=wanted), path


def read_file(
    path: Path,
    limits: ReadLimits = ReadLimits(),
    sep: str = ",",
    repeated: tuple[str, ...] = (),
    wanted: Callable[[str], bool] | None = None,
) -> pd.DataFrame:
    """Read Parquet or CSV(.gz) within `limits`; CSV columns stay text so the validator can
    name bad values. `sep`: the CSV's delimiter (r"\\s+": runs of whitespace); `repeated`:
    Parquet text columns to read as categoricals (`REPEATED`); `wanted`: which columns to keep
    (by name; None: all)."""
    if path.stat().st_size == 0:
        raise ContractError(f"{path}: the file is empty; export the table again with a header row")
    if path.suffix == ".parquet":
        return _read_parquet(path, limits, repeated, wanted)
    try:
        frame, nul = _read_csv(path, limits, "c", sep)
        if nul:  # the C parser cuts a text at a NUL byte: read it whole, for the validator
            frame, _ = _read_csv(path, limits, "python", sep)
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path}: not UTF-8 text ({exc.reason}); re-save the file as UTF-8"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise ContractError(f"{path}: the file has no header row; add one") from exc
    except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
        raise ContractError(
            f"{path}: not a readable gzip file ({exc}); compress the CSV again or save it as .csv"
        ) from exc
    except (pd.errors.ParserError, OSError) as exc:
        said = " ".join(str(exc).split())  # pandas' message may end in a line break
        raise ContractError(f"{path}: not a readable CSV file ({said}); check the export") from exc
    _check_rows(path, len(frame), limits)
    frame.columns = [str(c).strip() for c in frame.columns]
    if wanted is not None:
        frame = frame.drop(columns=[c for c in frame.columns if not wanted(c)])
    return frame


def _read_parquet(
    path: Path,
    limits: ReadLimits,
    repeated: tuple[str, ...],
    wanted: Callable[[str], bool] | None,
) -> pd.DataFrame:
    """Parquet, its decoded size and rows checked from its footer before any data is read; the
    `repeated` text columns as categoricals (a column written from one already is one). Each
    column is read and converted on its own, two at a time, so the file is never held twice
    (Arrow's copy and the frame's); the widest a row group at a time (`read_column`). The frame
    owns its columns (writable, not Arrow's read-only buffers)."""
    try:
        file = pq.ParquetFile(path)
        texts = _text_columns(file.schema_arrow, repeated)
        meta = file.metadata
        decoded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        _check_size(path, decoded, limits)
        _check_rows(path, meta.num_rows, limits)
        names = _data_columns(file.schema_arrow)
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ContractError(
                f"{path}: column(s) {', '.join(twice)} appear more than once; keep one of each "
                "and export the file again"
            )
        if wanted is not None:
            names = [name for name in names if wanted(name)]

        with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow lets go of the GIL
            read = pool.map(lambda name: read_column(path, name, texts), names)
            columns = dict(zip(names, read, strict=True))
        pa.default_memory_pool().release_unused()
        return pd.DataFrame(columns, copy=False)
    except (OSError, pa.ArrowException) as exc:
        raise ContractError(f"{path}: not a readable Parquet file ({exc}); re-export it") from exc


def _data_columns(schema: pa.Schema) -> list[str]:
    """The schema's column names but a stored pandas index (the rows' numbers, not data)."""
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    return [name for name in schema.names if name not in index]


def _text_columns(schema: pa.Schema, names: tuple[str, ...]) -> list[str]:
    """Those of `names` that `schema` holds once, as text."""
    found = []
    for name in names:
        at = schema.get_field_index(name)  # -1: absent, or more than one
        kind = schema.field(at).type if at >= 0 else None
        if kind is not None and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            found.append(name)
    return found


def _read_csv(
    path: Path, limits: ReadLimits, engine: Literal["c", "python"], sep: str
) -> tuple[pd.DataFrame, bool]:
    """The CSV as text, at most `limits.max_rows` + 1 rows (one more tells a file over the cap),
    and whether it holds a NUL byte."""
    opened = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    with opened as raw:
        capped = _Capped(raw, path, limits)
        frame = pd.read_csv(
            io.BufferedReader(capped),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            nrows=limits.max_rows + 1,
            engine=engine,
            sep=sep,
        )
    return frame, capped.nul


class _Capped(io.RawIOBase):
    """A byte stream that stops with a ContractError past `limits.max_file_bytes` (what a gzip
    file holds is only known by decompressing it) and notes whether it saw a NUL byte."""

    def __init__(self, stream: io.BufferedIOBase, path: Path, limits: ReadLimits) -> None:
        self.stream, self.path, self.limits = stream, path, limits
        self.seen, self.nul = 0, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.seen += size
        _check_size(self.path, self.seen, self.limits)
        self.nul = self.nul or b"\x00" in data
        return size


def _check_size(path: Path, size: int, limits: ReadLimits) -> None:
    if size > limits.max_file_bytes:
        raise ContractError(
            f"{path}: holds more than {limits.max_file_bytes:,} bytes (data.limits."
            "max_file_bytes); split the table, or raise the limit in the pipeline config if "
            "the file is genuine"
        )


def _check_rows(path: Path, rows: int, limits: ReadLimits) -> None:
    if rows > limits.max_rows:
        raise ContractError(
            f"{path}: holds more than {limits.max_rows:,} rows (data.limits.max_rows); split "
            "the table, or raise the limit in the pipeline config if the file is genuine"
        )


def current_umask() -> int:
    """The process's umask (the standard library only reads it by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _scratch(target: Path, kind: str) -> Path:
    """A name beside `target` for a file or folder being written (`tmp`) or set aside (`old`),
    tagged with this process's id so a later run can tell an orphan from a live writer's."""
    return target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.{kind}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def recover(target: Path) -> None:
    """Undo what a killed writer left beside `target`: the previous complete output set aside
    (`old`) goes back when `target` is missing, and half-written scratch files and folders are
    removed. A live process's scratch is left alone."""
    if not target.parent.is_dir():
        return
    prefix = f".{target.name}."
    for leftover in sorted(target.parent.iterdir()):
        name = leftover.name
        if not name.startswith(prefix) or not name.endswith((".tmp", ".old")):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
            continue
        if name.endswith(".old") and not target.exists():
            leftover.rename(target)
        elif leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    tmp = _scratch(target, "tmp")
    tmp.touch(mode=0o600)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())  # readable as the umask allows, as files are
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, write: Callable[[Path], object]) -> Path:
    """Run `write(tmp_path)` and move the result onto `target` only if it succeeded."""
    with atomic_path(target) as tmp:
        write(tmp)
    return target


def replace_dir(target: Path, write: Callable[[Path], object]) -> Path:
    """Run `write(tmp_dir)` (it creates the folder) and swap the folder in for `target` only if
    it succeeded: readers find the old folder or the new one, never a mix, and a failure
    leaves `target` as it was. Killed between the two renames, the previous folder waits
    beside it and the next write to `target` puts it back first (`recover`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    tmp, old = _scratch(target, "tmp"), _scratch(target, "old")
    try:
        write(tmp)
        if target.exists():
            target.rename(old)
        try:
            tmp.rename(target)
        except OSError:
            if old.exists():
                old.rename(target)  # put the previous outputs back
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


def write_together(folder: Path, writes: Mapping[str, Callable[[Path], object]]) -> list[Path]:
    """Write a run's files (name inside `folder` -> writer of that path) into a copy of the
    folder and swap it in: the outputs of a run are replaced together or not at all; files the
    run does not write (earlier runs' archive) are kept."""

    def fill(staging: Path) -> None:
        if folder.is_dir():
            shutil.copytree(folder, staging, copy_function=_link_or_copy, symlinks=True)
        else:
            staging.mkdir()
        for name, write in writes.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # a link to the old file: never write through it
            write(path)

    replace_dir(folder, fill)
    return [folder / name for name in writes]


def _link_or_copy(source: str, target: str) -> None:
    """A hard link (the file is not rewritten), or a copy where links are not possible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def save_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic Parquet: the same frame gives the same bytes. A table of several row
    groups is written one row group at a time, each categorical column of each with only the
    values that row group holds (a category no row holds is not kept): pyarrow stores a
    categorical's whole dictionary in every row group, so a million customers' events would
    carry all the million ids in each of their 57 row groups, and every read would decode them
    all."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if table.num_rows <= ROW_GROUP_ROWS:
        pq.write_table(table, path, compression="zstd")
        return
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for start in range(0, table.num_rows, ROW_GROUP_ROWS):
            writer.write_table(_own_dictionaries(table.slice(start, ROW_GROUP_ROWS)))


def _own_dictionaries(rows: pa.Table) -> pa.Table:
    """`rows` with each categorical column's dictionary cut to the values these rows hold, in
    the order the dictionary had them (a missing value keeps its place, as missing)."""
    for at, field in enumerate(rows.schema):
        if pa.types.is_dictionary(field.type):
            column = rows.column(at).combine_chunks()
            missing = column.is_null().to_numpy(zero_copy_only=False)
            codes = column.indices.fill_null(0).to_numpy()
            held = np.bincount(codes[~missing], minlength=len(column.dictionary)) > 0
            recoded = (np.cumsum(held) - 1).astype(codes.dtype)[codes]
            own = pa.DictionaryArray.from_arrays(
                pa.array(recoded, mask=missing), column.dictionary.filter(held)
            )
            rows = rows.set_column(at, field, own)
    return rows


def save_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV for people and their spreadsheets, as pandas writes it (`csv_text`): text that
    would run as a formula is neutralised; Parquet keeps the values as they are."""
    with open(path, "wb") as out:
        for piece in csv_chunks(frame):
            out.write(piece)


def write_parquet(frame: pd.DataFrame, target: Path) -> Path:
    """`save_parquet`, written atomically."""
    return write_atomic(target, lambda tmp: save_parquet(frame, tmp))


def write_csv(frame: pd.DataFrame, target: Path) -> Path:
    return write_atomic(target, lambda tmp: save_csv(frame, tmp))


def json_safe(value: object) -> object:
    """`value` as data JSON can hold: NaN, ±inf and missing values (None, NaT, NA) become None,
    numpy scalars and arrays their Python values, mappings and lists item by item (keys as
    text); anything else (a date, a path) is left for `json_text` to write as its text."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_text(value: object, indent: int | None = 2) -> str:
    """Strict JSON (RFC 8259, which has no NaN or Infinity) for `value` made `json_safe`; a
    non-finite number that still got through stops the write (`allow_nan=False`) rather than
    leaving a file that strict parsers refuse."""
    return json.dumps(json_safe(value), indent=indent, allow_nan=False, default=str)


def write_json(value: object, target: Path) -> Path:
    """`json_text(value)` and a newline, written atomically."""
    text = json_text(value) + "\n"
    return write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
