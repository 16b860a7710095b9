"""The benchmark harness (issue #5): ``python bench/run.py`` (``make bench``); docs/benchmarks.md
says what each figure is. Its servers are those of the end-to-end tests (tests/servers.py)."""
