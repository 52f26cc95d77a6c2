"""Bitcoin data structures the sharechain and the node share: pure code, no I/O."""
