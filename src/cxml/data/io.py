"""Reading contract tables and writing outputs atomically: the only file I/O of the data layer.

Readers never guess silently: a file that is missing, empty, not UTF-8 or not Parquet raises
`ContractError` with the file's name and what to do. Writers go through a temporary file in the
target folder and `os.replace`, so a failed run never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cxml.data.schema import TABLES, ContractError

__all__ = ["ContractError", "read_table", "write_atomic", "write_csv", "write_parquet"]

SUFFIXES = (".parquet", ".csv", ".csv.gz")


def find_table(data_dir: Path, table: str) -> Path | None:
    """The file holding `table` in `data_dir` (Parquet first), or None."""
    for suffix in SUFFIXES:
        path = data_dir / f"{table}{suffix}"
        if path.is_file():
            return path
    return None


def read_table(data_dir: Path, table: str) -> tuple[pd.DataFrame, Path] | None:
    """Read one contract table as stored (CSV as text, Parquet typed); None if optional, absent."""
    if not data_dir.is_dir():
        raise ContractError(f"{data_dir}: no such data folder; pass the folder holding customers.*")
    path = find_table(data_dir, table)
    if path is None:
        if TABLES[table].required:
            names = ", ".join(f"{table}{s}" for s in SUFFIXES)
            raise ContractError(f"{data_dir}: the required table '{table}' is missing: add {names}")
        return None
    return read_file(path), path


def read_file(path: Path) -> pd.DataFrame:
    """Read Parquet or CSV(.gz); CSV columns stay text so the validator can name bad values."""
    if path.stat().st_size == 0:
        raise ContractError(f"{path}: the file is empty; export the table again with a header row")
    if path.suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except (OSError, pa.ArrowException) as exc:
            raise ContractError(
                f"{path}: not a readable Parquet file ({exc}); re-export it"
            ) from exc
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path}: not UTF-8 text (byte {exc.start}); re-save the file as UTF-8"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise ContractError(f"{path}: the file has no header row; add one") from exc
    except (pd.errors.ParserError, OSError, EOFError) as exc:
        raise ContractError(f"{path}: not a readable CSV file ({exc}); check the export") from exc


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_atomic(target: Path, write: Callable[[Path], object]) -> Path:
    """Run `write(tmp_path)` and move the result onto `target` only if it succeeded."""
    with atomic_path(target) as tmp:
        write(tmp)
    return target


def write_parquet(frame: pd.DataFrame, target: Path) -> Path:
    """Deterministic Parquet (same frame, same bytes), written atomically."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return write_atomic(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_csv(frame: pd.DataFrame, target: Path) -> Path:
    return write_atomic(target, lambda tmp: frame.to_csv(tmp, index=False))
