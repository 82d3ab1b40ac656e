"""`benchmarks/run`: indexing, re-indexing, query and start-up performance, measured against same-run baselines."""
