"""`make bench`: every performance target, measured next to a plain baseline in the same process.

Sizes come from the environment (CXML_BENCH_CUSTOMERS, default 100000) so a quick run is possible.
"""

from __future__ import annotations

import os

from benchmarks import (
    bench_allocation,
    bench_explain,
    bench_features,
    bench_scoring,
    bench_service,
    bench_simulator,
    bench_training,
)


def main() -> None:
    customers = int(os.environ.get("CXML_BENCH_CUSTOMERS", "100000"))
    print(f"cxml benchmarks ({customers:,} customers; 2-core targets from the issues)\n")
    sim = bench_simulator.run(customers)
    bench_features.run(sim)
    bench_explain.run(sim)
    bench_allocation.run(customers)
    bench_scoring.run(sim)
    bench_training.run(sim)
    bench_service.run()


if __name__ == "__main__":
    main()
