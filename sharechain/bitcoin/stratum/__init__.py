"""Stratum v1, the wire protocol every Bitcoin miner speaks, as pure code shared by both ends: the
node's Stratum server (``p2pool.stratum``) and the built-in miner (``miner``), which must not import
each other. Line framing and JSON-RPC messages (:mod:`.codec`), difficulty as exact fractions
(:mod:`.difficulty`), and how a miner's coinbase and header are put together from a job (:mod:`.work`)."""
