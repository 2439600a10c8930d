"""Simulator throughput (target: 100k customers and ~5M events in about a minute on 2 cores)."""

from __future__ import annotations

import time

import numpy as np

from cxml.data.simulate import SimConfig, Simulation, simulate


def plain_baseline(n_events: int, n_customers: int, seed: int = 0) -> float:
    """The floor: draw as many random (customer, time) pairs and sort them, nothing else."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, n_customers, n_events)
    when = rng.integers(0, 91 * 7 * 86_400, n_events)
    np.lexsort((when, cust))
    return time.perf_counter() - start


def run(customers: int) -> Simulation:
    start = time.perf_counter()
    sim = simulate(SimConfig(customers=customers, seed=0))
    seconds = time.perf_counter() - start
    events = len(sim.events)
    floor = plain_baseline(events, customers)
    print("simulator")
    print(f"  customers            {customers:>12,}")
    print(f"  events               {events:>12,}")
    print(f"  wall time            {seconds:>12.1f} s   (target: about 60 s for 100k customers)")
    print(f"  events/s             {events / seconds:>12,.0f}")
    print(f"  plain baseline       {events / floor:>12,.0f} events/s (random draws + sort only)")
    print(f"  ratio to baseline    {floor / seconds:>12.3f}   (share of the floor's speed)\n")
    return sim
