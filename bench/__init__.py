"""The benchmark harness (issue #5): ``python bench/run.py`` (``make bench``).

One module per benchmark family, each measuring the service against baselines it builds and
runs itself, in the same run, so that every figure can be reported as a ratio:

- :mod:`bench.minting`       per-URL minting cost in-process; batch retrieval over HTTP
- :mod:`bench.downloads`     4 KiB and 1 MiB downloads under wrk (stream, accel, baselines)
- :mod:`bench.slow_clients`  4 KiB downloads while four slow clients hold big downloads open
- :mod:`bench.streams`       1 GiB downloads and uploads: throughput and worker RSS growth
- :mod:`bench.profiling`     ``--profile``: py-spy of a worker, pyinstrument of the handler

The plumbing: :mod:`bench.common` (settings of a run, statistics, processes, RSS sampling),
:mod:`bench.servers` (the service, nginx, moto and the naive app as subprocesses),
:mod:`bench.lab` (the servers and data sets of one run, started on first use),
:mod:`bench.wrk`, :mod:`bench.targets` and :mod:`bench.report` (results.json, the page, the
chart). :mod:`bench.baselines` holds the baselines themselves.
"""
