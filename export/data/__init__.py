"""Benchmark and sample data built from registry-installed real images."""
