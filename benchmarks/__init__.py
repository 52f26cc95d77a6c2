"""Benchmarks: scripts that print the figures in docs/performance.md (run them from the repository root)."""
