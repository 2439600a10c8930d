"""`make bench`: every performance target, measured next to a plain baseline in the same process.

Sizes come from the environment (CXML_BENCH_CUSTOMERS, default 100000) so a quick run is possible.
What each benchmark prints is also written to docs/performance.md (CXML_BENCH_DOC=0: not).
"""

from __future__ import annotations

import os

from benchmarks import (
    bench_allocation,
    bench_commands,
    bench_explain,
    bench_features,
    bench_load,
    bench_scaling,
    bench_scaling_score,
    bench_scoring,
    bench_service,
    bench_simulator,
    bench_text,
    bench_training,
    bench_ui,
    report,
)
from cxml.jobs.memory import keep_freed_memory


def main() -> None:
    keep_freed_memory()  # as the cxml commands do (the baselines run in this process too)
    customers = int(os.environ.get("CXML_BENCH_CUSTOMERS", "100000"))
    print(f"cxml benchmarks ({customers:,} customers; 2-core targets from the issues)\n")
    recorder = report.Recorder()
    with recorder.section("simulator", "Simulator"):
        sim = bench_simulator.run(customers)
    with recorder.section("features", "Features"):
        bench_features.run(sim)
    with recorder.section("commands", "Whole commands"):
        bench_commands.run(sim)
    with recorder.section("scaling", "Scaling from 10k to 1M customers"):
        bench_scaling.run(sim)
    with recorder.section("scaling-score", "Batch scoring from 10k to 1M customers"):
        bench_scaling_score.run(sim)
    with recorder.section("load", "Reading a data dir at 100k and 1M customers"):
        bench_load.run(sim)
    with recorder.section("explain", "Explanations"):
        bench_explain.run(sim)
    with recorder.section("allocation", "Next-best-action allocation"):
        bench_allocation.run(customers)
    with recorder.section("scoring", "Batch scoring"):
        bench_scoring.run(sim)
    with recorder.section("training", "Training"):
        bench_training.run(sim)
    with recorder.section("text", "Sentiment and topics of comments"):
        bench_text.run()
    with recorder.section("ui", "The team's page"):
        bench_ui.run(sim)
    with recorder.section("service", "Serving over HTTP"):
        bench_service.run()
    written = report.write(recorder.sections, "make bench", report.header(customers))
    if written:
        print(f"written to {written} (CXML_BENCH_DOC=0 to skip)")


if __name__ == "__main__":
    main()
