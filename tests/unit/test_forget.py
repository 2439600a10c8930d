"""`forget_in_folder` on a tiny scored folder: a page file cxml did not write as it is stops
that folder's erasure with what to do, and nothing in the folder changes."""

from __future__ import annotations

import pandas as pd
import pytest

from cxml.data.io import save_parquet
from cxml.jobs.forget import forget_in_folder


def test_a_page_changed_by_hand_stops_the_folders_erasure_and_says_what_to_do(tmp_path):
    listed = pd.DataFrame({"customer_id": ["a", "b"], "churn_probability": [0.2, 0.1]})
    save_parquet(listed, tmp_path / "scored.parquet")
    page = tmp_path / "ui" / "data"
    page.mkdir(parents=True)
    (page / "list.js").write_text("edited by hand", encoding="utf-8")
    with pytest.raises(ValueError, match=r"list\.js: not a cxmlList script") as raised:
        forget_in_folder(tmp_path, {"a"})
    assert f"remove {tmp_path / 'ui'}" in str(raised.value)
    assert pd.read_parquet(tmp_path / "scored.parquet").equals(listed)  # nothing removed
    (page / "list.js").unlink()  # no page: the rest is erased as before
    assert forget_in_folder(tmp_path, {"a"}) == [(str(tmp_path / "scored.parquet"), 1)]
