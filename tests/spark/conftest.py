"""A local Spark (`local[2]`) shared by the Spark tests; they skip, saying why, without Java 17+."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from cxml.jobs.spark import session, spark_problem

    problem = spark_problem()
    if problem:
        pytest.skip(f"Spark cannot run here: {problem}")
    spark = session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    yield spark
    spark.stop()
