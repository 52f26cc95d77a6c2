"""The Stratum load generator behind ``benchmarks/stratum_load.py`` (issue #10).

``config`` holds the run's settings, ``connection`` one miner connection (asyncio), ``worker`` a
process driving thousands of them, ``finder`` a process that finds real shares so new work arrives,
``target`` the node under test (started or attached), ``report`` the figures.
"""
