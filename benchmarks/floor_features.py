"""The floor of `cxml features` as a whole process, for `make bench` to print beside it: the
same imports, the two tables read as `cxml features` reads them, the same feature build and
the same write, with no validation, no quarantine and no progress bar. No command that checks
its input can be faster, so the plain script's time over this one is the most any `cxml
features` can be sped up against it.

Usage: python benchmarks/floor_features.py DATA_DIR CUTOFF OUT.parquet
"""

import sys
from pathlib import Path

from cxml.jobs.memory import keep_freed_memory


def main(data_dir: str, cutoff: str, out: str) -> None:
    from cxml.config.features import DEFAULT_PII_COLUMNS
    from cxml.data.io import read_table, write_parquet
    from cxml.data.schema import utc_timestamp
    from cxml.data.validate import is_pii
    from cxml.features.build import build_features, log_start

    folder = Path(data_dir)
    events, _ = read_table(folder, "events")  # type: ignore[misc]
    customers, _ = read_table(folder, "customers")  # type: ignore[misc]
    customers = customers.loc[:, ~is_pii(customers.columns, DEFAULT_PII_COLUMNS)]
    features = build_features(events, customers, utc_timestamp(cutoff), None, log_start(events))
    write_parquet(features.frame().reset_index(), Path(out))


if __name__ == "__main__":
    keep_freed_memory()  # as the cxml commands do, before NumPy is imported
    main(*sys.argv[1:4])
