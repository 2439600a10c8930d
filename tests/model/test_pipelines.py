"""Every shipped pipeline (`pipelines/*.yaml`) runs end to end on small data of its own kind:
train, record in a real (temporary) MLflow store, score, with the files each step writes.

The real sources are large and live outside the repository, so each pipeline gets a small
synthetic raw file in its importer's input format (the real column names and value formats),
or a small simulation for the demo. The config keeps its structure (targets, labels, cutoffs,
evaluation kind, actions); only the data dir, the source and the model budget are overridden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from cxml.config import PipelineConfig, load_config
from cxml.data.importers import (
    MLC_CHURN_AMOUNTS,
    MLC_CHURN_COUNTS,
    MLC_CHURN_YES_NO,
    import_mlc_churn,
)
from cxml.jobs.ingest import run_import, run_simulate
from cxml.jobs.score import run_score
from cxml.jobs.train import record, train, write_metrics
from tests.helpers import SMALL_SURVIVAL, strict_json

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
SHIPPED = sorted(p.stem for p in PIPELINES.glob("*.yaml"))
BUDGET = {
    "max_rounds": 60,
    "early_stopping_rounds": 10,
    "threads": 1,
    "survival_periods": SMALL_SURVIVAL,
}


# --- small raw files in each importer's input format --------------------------------------------


def telco_csv(path: Path, rows: int = 300, seed: int = 0) -> None:
    """IBM Telco's columns and value formats; churn more likely month to month, early in
    tenure and on fibre. A few new customers have a blank TotalCharges, as in the real file."""
    rng = np.random.default_rng(seed)

    def pick(*options: str) -> np.ndarray:
        return rng.choice(options, rows)

    tenure = rng.integers(0, 73, rows)
    phone = pick("Yes", "No")
    internet = pick("DSL", "Fiber optic", "No")
    contract = pick("Month-to-month", "One year", "Two year")
    monthly = np.round(rng.uniform(18.25, 118.75, rows), 2)
    total = np.where(tenure == 0, " ", np.round(tenure * monthly, 2).astype(str))
    risk = -1.5 + 1.6 * (contract == "Month-to-month") + 0.8 * (internet == "Fiber optic")
    risk -= tenure / 30
    churn = np.where(rng.random(rows) < 1 / (1 + np.exp(-risk)), "Yes", "No")

    def service() -> np.ndarray:
        return np.where(internet == "No", "No internet service", pick("Yes", "No"))

    frame = pd.DataFrame(
        {
            "customerID": [f"{i:04d}-SYNTH" for i in range(rows)],
            "gender": pick("Female", "Male"),
            "SeniorCitizen": rng.integers(0, 2, rows),
            "Partner": pick("Yes", "No"),
            "Dependents": pick("Yes", "No"),
            "tenure": tenure,
            "PhoneService": phone,
            "MultipleLines": np.where(phone == "No", "No phone service", pick("Yes", "No")),
            "InternetService": internet,
            **{
                name: service()
                for name in (
                    "OnlineSecurity",
                    "OnlineBackup",
                    "DeviceProtection",
                    "TechSupport",
                    "StreamingTV",
                    "StreamingMovies",
                )
            },
            "Contract": contract,
            "PaperlessBilling": pick("Yes", "No"),
            "PaymentMethod": pick(
                "Electronic check",
                "Mailed check",
                "Bank transfer (automatic)",
                "Credit card (automatic)",
            ),
            "MonthlyCharges": monthly,
            "TotalCharges": total,
            "Churn": churn,
        }
    )
    frame.to_csv(path, index=False)


def online_retail_csv(path: Path, customers: int = 220, seed: int = 0) -> None:
    """UCI Online Retail's invoice lines (Dec 2010 to Dec 2011): each customer buys every few
    weeks until they lapse; some invoices are cancellations ('C', negative quantity) and some
    lines are guest orders (no CustomerID), which the importer quarantines."""
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp("2010-12-01 08:00"), pd.Timestamp("2011-12-09 12:00")
    lines, invoice = [], 536365
    for c in range(customers):
        cust = f"{12346 + c}.0"
        country = "United Kingdom" if rng.random() < 0.85 else rng.choice(["France", "Germany"])
        when = start + pd.Timedelta(days=float(rng.uniform(0, 120)))
        gap = rng.uniform(10, 60)  # days between orders
        lapse = start + pd.Timedelta(days=float(rng.uniform(60, 500)))  # after the end: stays
        while when < min(end, lapse):
            invoice += 1
            cancel = rng.random() < 0.04
            number = f"C{invoice}" if cancel else str(invoice)
            for _ in range(rng.integers(1, 4)):
                qty = int(rng.integers(1, 13)) * (-1 if cancel else 1)
                price = round(float(rng.uniform(0.4, 9.0)), 2)
                stamp = when.strftime("%Y-%m-%d %H:%M:%S")
                item = ("85123A", "WHITE HANGING HEART")
                lines.append((number, *item, qty, stamp, price, cust, country))
            when += pd.Timedelta(days=float(rng.exponential(gap)) + 1)
    for i in range(20):  # guest orders
        stamp = (start + pd.Timedelta(days=10 * i)).strftime("%Y-%m-%d %H:%M:%S")
        lines.append((str(600000 + i), "22728", "ALARM CLOCK", 2, stamp, 3.75, "", "EIRE"))
    columns = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice"]
    pd.DataFrame(lines, columns=[*columns, "CustomerID", "Country"]).to_csv(path, index=False)


def hillstrom_csv(path: Path, rows: int = 600, seed: int = 0) -> None:
    """Hillstrom's columns and value formats: three randomized arms; a visit is likelier after
    an e-mail and for recent, bigger spenders; some visits convert."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(1, 13, rows)
    history = np.round(rng.gamma(2.0, 120.0, rows) + 29.99, 2)
    bands = np.array(["1) $0 - $100", "2) $100 - $200", "3) $200 - $350", "4) $350 - $500"])
    band = bands[np.searchsorted([100, 200, 350], history, side="right")]
    arm = rng.choice(["Mens E-Mail", "Womens E-Mail", "No E-Mail"], rows)
    rate = 0.08 + 0.08 * (arm == "Mens E-Mail") + 0.05 * (arm == "Womens E-Mail")
    rate += 0.12 * (recency <= 3) + 0.08 * (history > 300)
    visit = (rng.random(rows) < rate).astype(int)
    conversion = visit * (rng.random(rows) < 0.15)
    frame = pd.DataFrame(
        {
            "recency": recency,
            "history_segment": band,
            "history": history,
            "mens": rng.integers(0, 2, rows),
            "womens": rng.integers(0, 2, rows),
            "zip_code": rng.choice(["Urban", "Surburban", "Rural"], rows),
            "newbie": rng.integers(0, 2, rows),
            "channel": rng.choice(["Phone", "Web", "Multichannel"], rows),
            "segment": arm,
            "visit": visit,
            "conversion": conversion,
            "spend": np.where(conversion == 1, np.round(rng.uniform(29, 499, rows), 2), 0),
        }
    )
    frame.to_csv(path, index=False)


# --- each pipeline on its small input -----------------------------------------------------------


def small_config(name: str, data_dir: Path, source: Path | None = None) -> PipelineConfig:
    """The shipped config with only its data dir, its source and its model budget changed."""
    raw = load_config(PIPELINES / f"{name}.yaml", data_dir=data_dir).model_dump()
    if source is not None:
        assert raw["data"]["importer"], f"{name}: a source without an importer"
        raw["data"]["source"] = str(source)
    raw["model"] |= BUDGET
    return PipelineConfig.model_validate(raw)


def mlc_churn_input(root: Path, rows: int = 400, seed: int = 0) -> Path:
    """A small file in the MLC++ churn columns, imported into a data dir (its pipeline names
    no importer: the set comes from a package, not a file)."""
    rng = np.random.default_rng(seed)
    calls = rng.integers(0, 8, rows)
    day = np.round(rng.uniform(0, 350, rows), 1)
    raw = {"state": rng.choice(["KS", "OH", "NJ"], rows), "area_code": "area_code_415"}
    raw |= {c: rng.integers(1, 200, rows) for c in MLC_CHURN_COUNTS}
    raw |= {c: np.round(rng.uniform(0, 300, rows), 2) for c in MLC_CHURN_AMOUNTS}
    raw |= {"number_customer_service_calls": calls, "total_day_minutes": day}
    raw |= {c: rng.choice(["yes", "no"], rows) for c in MLC_CHURN_YES_NO}
    risk = -2.5 + 0.5 * calls + day / 200
    raw["churn"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-risk)), "yes", "no")
    pd.DataFrame(raw).to_csv(root / "mlc.csv", index=False)
    result = import_mlc_churn(root / "mlc.csv")
    run_import(result.tables, result.quarantine, root / "mlc-data")
    return root / "mlc-data"


def demo_input(root: Path) -> Path:
    data = root / "demo-data"
    run_simulate(data, customers=1500, seed=3)
    strict_json((data / "simulation.json").read_text())
    return data


def raw_input(write: Callable[[Path], None], file_name: str) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        write(root / file_name)
        return root / file_name

    return make


#: pipeline -> (makes its input in a folder: a data dir, or the raw file its importer reads;
#: the cutoff to score at)
INPUTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "demo": (demo_input, "2025-06-30"),
    "telco": (raw_input(telco_csv, "telco.csv"), "2018-10-01"),
    "online_retail": (raw_input(online_retail_csv, "online_retail.csv"), "2011-12-01"),
    "hillstrom": (raw_input(hillstrom_csv, "hillstrom.csv"), "2008-03-01"),
    "mlc_churn": (mlc_churn_input, "2000-01-01"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One temporary embedded MLflow store for the module (each pipeline has its own model)."""
    root = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        patch.chdir(root)
        yield root
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None resets MLflow's global


def test_every_shipped_pipeline_has_a_small_input():
    assert set(SHIPPED) == set(INPUTS), "add a small input for the new pipeline to INPUTS"


@pytest.mark.parametrize("name", SHIPPED)
def test_pipeline_trains_records_and_scores(name: str, store: Path, tmp_path: Path) -> None:
    make, cutoff = INPUTS[name]
    made = make(tmp_path)
    config = (
        small_config(name, made)
        if made.is_dir()
        else small_config(name, tmp_path / "imported" / name, made)
    )

    trained = train(config)
    metrics = trained.metrics
    assert 0.0 <= metrics["churn_roc_auc"] <= 1.0
    if config.evaluation.kind == "cross_validation":  # every row judged once, out of fold
        assert metrics["churn_n"] == trained.summary["training_rows"]
    back = strict_json(write_metrics(trained, tmp_path / "metrics.json").read_text())
    assert back["metrics"]["churn_roc_auc"] == pytest.approx(metrics["churn_roc_auc"])

    run = record(trained, config)
    assert run.promoted and run.version == "1", run.decision
    summary = mlflow.artifacts.load_text(f"runs:/{run.run_id}/data_summary.json")
    assert strict_json(summary)["pipeline"] == name

    scored, written = run_score(config, cutoff, tmp_path / "scored")
    assert len(scored) > 0
    assert scored["churn_probability"].between(0, 1).all()
    assert (scored["model_version"] == "1").all() and scored["customer_id"].is_unique
    assert {p.name for p in written} >= {"scored.parquet", "scored.csv", "report.html"}
    on_disk = pd.read_csv(tmp_path / "scored" / "scored.csv", dtype={"customer_id": str})
    assert len(on_disk) == len(scored)
