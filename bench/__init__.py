"""Benchmarks: vidrag against the seed pipeline and the targets. `python -m bench NAME [--json]`."""
