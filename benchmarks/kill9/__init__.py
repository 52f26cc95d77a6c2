"""The kill -9 loop behind benchmarks/kill9_loop.py (issue #10): proxy, checks, the loop itself."""
