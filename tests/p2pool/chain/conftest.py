"""Fixtures for the chain tests: two real Bitcoin SV regtest nodes (tests/fixtures/bsv.py)."""

from tests.fixtures.bsv import bsv_nodes  # noqa: F401
