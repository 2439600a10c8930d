"""The Coalescer: concurrent submissions share calls by key, each gets its own result, and a
failing item fails alone."""

from __future__ import annotations

import asyncio

from cxml.serving.coalesce import Coalescer


def _gather(coalescer: Coalescer, submissions: list[tuple[str, int]]) -> list[object]:
    async def main() -> list[object]:
        tasks = [coalescer.submit(key, item) for key, item in submissions]
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(main())


def test_concurrent_submissions_share_one_call_and_get_their_own_results():
    calls: list[tuple[str, list[int]]] = []

    def run(key: str, items: list[int]) -> list[str]:
        calls.append((key, items))
        return [f"{key}{item * 10}" for item in items]

    results = _gather(Coalescer(run, 100), [("a", 1), ("a", 2), ("a", 3)])
    assert results == ["a10", "a20", "a30"]
    assert calls == [("a", [1, 2, 3])]


def test_keys_never_share_a_call_and_the_size_is_capped():
    calls: list[tuple[str, list[int]]] = []

    def run(key: str, items: list[int]) -> list[int]:
        calls.append((key, items))
        return [-item for item in items]

    submissions = [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("b", 5)]
    results = _gather(Coalescer(run, 2), submissions)
    assert results == [-1, -2, -3, -4, -5]
    assert all(len(items) <= 2 for _, items in calls)
    assert sorted(item for key, items in calls if key == "a" for item in items) == [1, 3, 4]
    assert sorted(item for key, items in calls if key == "b" for item in items) == [2, 5]


def test_a_failing_item_fails_alone():
    def run(key: str, items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky")
        return [item + 1 for item in items]

    results = _gather(Coalescer(run, 100), [("a", 1), ("a", 13), ("a", 3)])
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], ValueError)


def test_a_lone_submission_is_answered_at_once():
    results = _gather(Coalescer(lambda key, items: [item for item in items], 100), [("a", 7)])
    assert results == [7]


def test_a_run_that_loses_results_fails_the_requests_instead_of_hanging():
    results = _gather(Coalescer(lambda key, items: items[:-1], 100), [("a", 1), ("a", 2)])
    assert all(isinstance(result, RuntimeError) for result in results)
