"""The documents the API answers with, as the JSON Schemas of its OpenAPI description (``SCHEMAS``, by
name). Hash rates are hashes per second estimated from share work; amounts are satoshis; times are epoch
seconds. The read views (:mod:`p2pool.views`) build exactly these; the functional tests validate real
answers against them.
"""

from __future__ import annotations

from p2pool.api.schema import (
    ANY_OBJECT,
    BOOLEAN,
    INTEGER,
    NUMBER,
    POINT,
    STRING,
    Schema,
    array,
    counts,
    described,
    nullable,
    record,
    ref,
)

_NULLABLE_INT = nullable(INTEGER)
_NULLABLE_STR = nullable(STRING)
_NEXT = described(_NULLABLE_STR, "cursor of the next page (null: the last page)")

_RATES = record("Rates", {
    "10m": described(NUMBER, "over the last 10 minutes"),
    "1h": described(NUMBER, "over the last hour"),
    "24h": described(NUMBER, "over the last 24 hours"),
})

_SHARE_ENTRY = {
    "hash": STRING,
    "height": INTEGER,
    "timestamp": INTEGER,
    "address": STRING,
    "difficulty": NUMBER,
    "work": INTEGER,
    "status": described(STRING, "main, uncle, side (may still become an uncle) or orphan"),
    "uncles": array(STRING),
    "included_by": described(_NULLABLE_STR, "the main-chain share that includes this one as an uncle"),
}

_WORKER = record("Worker", {
    "name": described(STRING, "the Stratum username, ADDRESS or ADDRESS.WORKER"),
    "address": STRING,
    "online": BOOLEAN,
    "connections": INTEGER,
    "hashrate": described(NUMBER, "over the last 5 minutes of this connection (0 when offline)"),
    "hashrate_1h": NUMBER,
    "hashrate_24h": NUMBER,
    "shares": described(INTEGER, "shares accepted into the sharechain, kept across restarts"),
    "accepted": described(INTEGER, "submits accepted on the connections open now"),
    "rejected": described(INTEGER, "submits refused on the connections open now"),
    "last_share": _NULLABLE_INT,
    "first_seen": INTEGER,
    "last_seen": INTEGER,
})


def _page(title: str, item: str, **more: Schema) -> Schema:
    return record(title, {"items": array(ref(item)), "next": _NEXT, **more, "total": INTEGER})


SCHEMAS: dict[str, Schema] = {
    "Error": record("Error", {"error": STRING, "docs": STRING}, optional=["docs"]),
    "InvalidRequest": record("InvalidRequest", {
        "error": STRING,
        "details": array(record("Problem", {
            "where": described(STRING, "query.NAME, path.NAME or body.NAME"),
            "problem": STRING,
        })),
    }),
    "Rates": _RATES,
    "Health": record("Health", {"status": described(STRING, "ok or unhealthy"), "problems": array(STRING)}),
    "Status": record("Status", {
        "network": STRING,
        "healthy": BOOLEAN,
        "problems": array(STRING),
        "chain": ANY_OBJECT,
        "sharechain": ANY_OBJECT,
        "blocks_found": INTEGER,
        "blocks": described(array(ANY_OBJECT), "the latest found blocks (at most 50)"),
        "miners_connected": INTEGER,
        "workers": described(array(ANY_OBJECT), "the 20 fastest workers (all: /api/workers)"),
        "workers_total": INTEGER,
        "hashrate": NUMBER,
        "shares_accepted": INTEGER,
        "shares_rejected": counts(),
    }, extra=True, description="The node at a glance (more fields on nodes with P2P: peer_id, peers, sync, p2p)."),
    "Service": record("Service", {"state": described(STRING, "ok, degraded, down or off"), "reason": STRING},
                      extra=True),
    "Services": record("Services", {name: ref("Service") for name in ("stratum", "p2p", "chain", "database")}),
    "ProcessUsage": record("ProcessUsage", {
        "cpu_seconds": NUMBER,
        "cpu_percent": nullable(NUMBER),
        "memory_rss_bytes": INTEGER,
        "open_files": _NULLABLE_INT,
        "open_sockets": _NULLABLE_INT,
        "threads": _NULLABLE_INT,
        "connections": described(counts(), "open Stratum connections and connected peers"),
    }),
    "MinerStatus": record("MinerStatus", {
        "running": BOOLEAN, "threads": INTEGER, "hashrate": NUMBER, "accepted": INTEGER, "rejected": INTEGER}),
    "HealthDetailed": record("HealthDetailed", {
        "status": described(STRING, "ok or unhealthy (a service down)"),
        "uptime": described(NUMBER, "seconds since the node started"),
        "services": ref("Services"),
        "process": ref("ProcessUsage"),
        "miner": described(nullable(ref("MinerStatus")), "the built-in miner (null on a seed node)"),
    }),
    "PoolStats": record("PoolStats", {
        "hashrate": ref("Rates"),
        "miners": described(INTEGER, "payout addresses in the PPLNS window"),
        "blocks": described(INTEGER, "blocks the pool found (shares whose hash met the block target)"),
    }),
    "LocalStats": record("LocalStats", {
        "hashrate": ref("Rates"),
        "workers": described(INTEGER, "workers connected now"),
        "blocks_found": described(INTEGER, "blocks this node found"),
    }),
    "ShareCounts": record("ShareCounts", {
        "valid": described(counts(), "accepted into the sharechain, by where they came from"),
        "invalid": described(counts(), "refused by a consensus rule, by rule"),
        "rejected": described(counts(), "Stratum submits refused before they became shares, by reason"),
        "stale": described(INTEGER, "of those, refused as stale"),
        "classified": described(counts(), "accepted work by where it ended up: main, uncle, orphan"),
    }),
    "WindowStats": record("WindowStats", {
        "shares": described(INTEGER, "main-chain shares in the PPLNS window"),
        "uncles": described(INTEGER, "uncles those shares include"),
        "side": described(INTEGER, "side shares that may still become uncles"),
        "orphans": described(INTEGER, "side shares in neither the main chain nor an uncle list"),
        "length": described(INTEGER, "the window's length in main-chain shares (consensus)"),
    }),
    "Stats": record("Stats", {
        "time": INTEGER,
        "pool": ref("PoolStats"),
        "local": ref("LocalStats"),
        "shares": ref("ShareCounts"),
        "window": ref("WindowStats"),
        "uncles": INTEGER,
        "orphans": INTEGER,
        "share_difficulty": described(NUMBER, "difficulty of the next share (the retarget's)"),
        "network_difficulty": described(nullable(NUMBER), "Bitcoin difficulty of the block being mined"),
        "effort": described(nullable(NUMBER), "pool work since its last block, in percent of a block's expected work"),
        "expected_block_seconds": described(nullable(NUMBER), "expected time to a block at the pool's 1 h rate"),
        "last_block_time": _NULLABLE_INT,
        "blocks_found": INTEGER,
    }),
    "History": record("History", {
        "bucket": described(INTEGER, "seconds per point"),
        "pool": described(array(POINT), "[bucket start, hashes/s]"),
        "local": array(POINT),
    }),
    "Worker": _WORKER,
    "WorkerPage": _page("WorkerPage", "Worker"),
    "Peer": record("Peer", {
        "id": STRING, "direction": STRING, "score": NUMBER, "tip_height": _NULLABLE_INT, "addresses": array(STRING),
        "foreign": BOOLEAN}),
    "Ban": record("Ban", {"id": STRING, "until": NUMBER, "reason": STRING}),
    "PeerPage": record("PeerPage", {
        "items": array(ref("Peer")),
        "next": _NEXT,
        "total": INTEGER,
        "banned": array(ref("Ban")),
        "enabled": described(BOOLEAN, "false on a node started with --no-p2p"),
        "peer_id": _NULLABLE_STR,
    }),
    "ShareEntry": record("ShareEntry", _SHARE_ENTRY),
    "CoinbaseOutput": record("CoinbaseOutput", {"address": STRING, "amount": INTEGER}),
    "ShareDetail": record("ShareDetail", {
        **_SHARE_ENTRY,
        "prev_hash": STRING,
        "target": STRING,
        "coinbase": described(array(ref("CoinbaseOutput")), "what the share's coinbase pays"),
        "block_hash_meets_target": BOOLEAN,
    }),
    "SharePage": _page("SharePage", "ShareEntry", tip=_NULLABLE_STR, height=_NULLABLE_INT),
    "PayoutOutput": record("PayoutOutput", {
        "address": STRING,
        "amount": INTEGER,
        "window_weight": described(INTEGER, "the address's PPLNS weight (work) in the window"),
        "window_share": described(NUMBER, "its fraction of the window's weight"),
        "finder": described(BOOLEAN, "the finder (paid the finder bonus and the rounding)"),
    }),
    "Payouts": record("Payouts", {
        "finder": described(STRING, "the address assumed to find the block (the finder bonus goes to it)"),
        "tip": described(STRING, "the sharechain share the next share builds on"),
        "share_height": INTEGER,
        "block_height": _NULLABLE_INT,
        "coinbase_value": INTEGER,
        "outputs": described(array(ref("PayoutOutput")), "the coinbase outputs, in coinbase order"),
        "total": INTEGER,
        "uncles": described(array(STRING), "the uncles the next share includes"),
        "window_weight": INTEGER,
    }),
    "FoundBlock": record("FoundBlock", {
        "hash": STRING,
        "height": INTEGER,
        "time": INTEGER,
        "share": STRING,
        "share_info": STRING,
        "worker": STRING,
        "value": INTEGER,
        "payouts": array(ref("CoinbaseOutput")),
        "state": described(STRING, "confirmed, orphaned or unknown (asked of the chain backend, cached)"),
        "confirmations": INTEGER,
        "checked": nullable(NUMBER),
    }),
    "BlockPage": _page("BlockPage", "FoundBlock"),
    "MinerWindow": record("MinerWindow", {
        "shares": INTEGER, "uncles": INTEGER, "orphans": INTEGER, "side": INTEGER, "weight": INTEGER,
        "share": described(NUMBER, "fraction of the window's weight")}),
    "MinerPayout": record("MinerPayout", {"hash": STRING, "height": INTEGER, "time": INTEGER, "amount": INTEGER}),
    "Miner": record("Miner", {
        "address": STRING,
        "workers": array(ref("Worker")),
        "hashrate": ref("Rates"),
        "history": described(array(POINT), "[bucket start, hashes/s] over 24 h in 10-minute buckets"),
        "window": ref("MinerWindow"),
        "expected_payout": described(_NULLABLE_INT, "what the next block pays this address (the node's finder)"),
        "expected_payout_as_finder": described(_NULLABLE_INT, "what it pays this address if it finds the block"),
        "shares": array(ref("ShareEntry")),
        "payouts": described(array(ref("MinerPayout")), "payouts in blocks this node found, newest first"),
        "total_paid": INTEGER,
    }),
    "ActionReply": record("ActionReply", {"ok": described(BOOLEAN, "whether the node did it"), "message": STRING}),
}
