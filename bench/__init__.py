"""zing's benchmarks: ``python -m bench.ingest``, ``bench.rpc``, ``bench.scale`` (see bench/README.md).

Each prints measured figures next to a raw baseline measured in the same run,
and PASS/MISS against the targets; none of them asserts a timing.
"""
