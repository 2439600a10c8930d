"""What the Spark engine says when it cannot run: no JVM is started here."""

from __future__ import annotations

from cxml.jobs.spark import _java_major, spark_problem


def test_java_versions_are_read_from_both_styles():
    assert _java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert _java_major('java version "1.8.0_392"') == 8
    assert _java_major("no version here") is None


def test_without_java_the_problem_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java on the path
    problem = spark_problem()
    assert problem is not None
    assert "Java 17" in problem or "pyspark" in problem


def test_an_old_java_is_refused(tmp_path, monkeypatch):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    problem = spark_problem()
    assert problem is not None and "17 or newer" in problem and "8" in problem
