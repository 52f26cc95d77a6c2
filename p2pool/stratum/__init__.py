"""Stratum v1 for miners: a pure protocol core, a pure per-connection session, and a thin trio server."""
