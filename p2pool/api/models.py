"""Typed response models of the read endpoints (they make the OpenAPI description). Hash rates are
hashes per second estimated from share work; amounts are satoshis; times are epoch seconds."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Rates(BaseModel):
    m10: float = Field(alias="10m", description="over the last 10 minutes")
    h1: float = Field(alias="1h", description="over the last hour")
    h24: float = Field(alias="24h", description="over the last 24 hours")


class Health(BaseModel):
    status: str = Field(description="ok or unhealthy")
    problems: list[str]


class Status(BaseModel):
    """The node at a glance (more fields on nodes with P2P: peer_id, peers, sync, p2p)."""

    network: str
    healthy: bool
    problems: list[str]
    chain: dict[str, object]
    sharechain: dict[str, object]
    blocks_found: int
    blocks: list[dict[str, object]] = Field(description="the latest found blocks (at most 50)")
    miners_connected: int
    workers: list[dict[str, object]] = Field(description="the 20 fastest workers (all: /api/workers)")
    workers_total: int
    hashrate: float
    shares_accepted: int
    shares_rejected: dict[str, int]
    model_config = {"extra": "allow"}


class Service(BaseModel):
    state: str = Field(description="ok, degraded, down or off")
    reason: str
    model_config = {"extra": "allow"}


class Services(BaseModel):
    stratum: Service
    p2p: Service
    chain: Service
    database: Service


class ProcessUsage(BaseModel):
    cpu_seconds: float
    cpu_percent: float | None
    memory_rss_bytes: int
    open_files: int | None
    open_sockets: int | None
    threads: int | None
    connections: dict[str, int] = Field(description="open Stratum connections and connected peers")


class MinerStatus(BaseModel):
    running: bool
    threads: int
    hashrate: float
    accepted: int
    rejected: int


class HealthDetailed(BaseModel):
    status: str = Field(description="ok or unhealthy (a service down)")
    uptime: float = Field(description="seconds since the node started")
    services: Services
    process: ProcessUsage
    miner: MinerStatus | None = Field(description="the built-in miner (null on a seed node)")


class PoolStats(BaseModel):
    hashrate: Rates
    miners: int = Field(description="payout addresses in the PPLNS window")
    blocks: int = Field(description="blocks the pool found (shares whose hash met the block target)")


class LocalStats(BaseModel):
    hashrate: Rates
    workers: int = Field(description="workers connected now")
    blocks_found: int = Field(description="blocks this node found")


class ShareCounts(BaseModel):
    valid: dict[str, int] = Field(description="accepted into the sharechain, by where they came from")
    invalid: dict[str, int] = Field(description="refused by a consensus rule, by rule")
    rejected: dict[str, int] = Field(description="Stratum submits refused before they became shares, by reason")
    stale: int = Field(description="of those, refused as stale")
    classified: dict[str, int] = Field(description="accepted work by where it ended up: main, uncle, orphan")


class WindowStats(BaseModel):
    shares: int = Field(description="main-chain shares in the PPLNS window")
    uncles: int = Field(description="uncles those shares include")
    side: int = Field(description="side shares that may still become uncles")
    orphans: int = Field(description="side shares in neither the main chain nor an uncle list")
    length: int = Field(description="the window's length in main-chain shares (consensus)")


class Stats(BaseModel):
    time: int
    pool: PoolStats
    local: LocalStats
    shares: ShareCounts
    window: WindowStats
    uncles: int
    orphans: int
    share_difficulty: float = Field(description="difficulty of the next share (the retarget's)")
    network_difficulty: float | None = Field(description="Bitcoin difficulty of the block being mined")
    effort: float | None = Field(description="pool work since its last block, in percent of a block's expected work")
    expected_block_seconds: float | None = Field(description="expected time to a block at the pool's 1 h rate")
    last_block_time: int | None
    blocks_found: int


class History(BaseModel):
    bucket: int = Field(description="seconds per point")
    pool: list[tuple[int, float]] = Field(description="[bucket start, hashes/s]")
    local: list[tuple[int, float]]


class Worker(BaseModel):
    name: str = Field(description="the Stratum username, ADDRESS or ADDRESS.WORKER")
    address: str
    online: bool
    connections: int
    hashrate: float = Field(description="over the last 5 minutes of this connection (0 when offline)")
    hashrate_1h: float
    hashrate_24h: float
    shares: int = Field(description="shares accepted into the sharechain, kept across restarts")
    accepted: int = Field(description="submits accepted on the connections open now")
    rejected: int = Field(description="submits refused on the connections open now")
    last_share: int | None
    first_seen: int
    last_seen: int


class WorkerPage(BaseModel):
    items: list[Worker]
    next: str | None = Field(description="cursor of the next page (null: the last page)")
    total: int


class Peer(BaseModel):
    id: str
    direction: str
    score: float
    tip_height: int | None
    addresses: list[str]
    foreign: bool


class Ban(BaseModel):
    id: str
    until: float
    reason: str


class PeerPage(BaseModel):
    items: list[Peer]
    next: str | None
    total: int
    banned: list[Ban]
    enabled: bool = Field(description="false on a node started with --no-p2p")
    peer_id: str | None = None


class ShareEntry(BaseModel):
    hash: str
    height: int
    timestamp: int
    address: str
    difficulty: float
    work: int
    status: str = Field(description="main, uncle, side (may still become an uncle) or orphan")
    uncles: list[str]
    included_by: str | None = Field(description="the main-chain share that includes this one as an uncle")


class CoinbaseOutput(BaseModel):
    address: str
    amount: int


class ShareDetail(ShareEntry):
    prev_hash: str
    target: str
    coinbase: list[CoinbaseOutput] = Field(default_factory=list, description="what the share's coinbase pays")
    block_hash_meets_target: bool = False


class SharePage(BaseModel):
    items: list[ShareEntry]
    next: str | None
    tip: str | None
    height: int | None
    total: int


class PayoutOutput(BaseModel):
    address: str
    amount: int
    window_weight: int = Field(description="the address's PPLNS weight (work) in the window")
    window_share: float = Field(description="its fraction of the window's weight")
    finder: bool = Field(description="the finder (paid the finder bonus and the rounding)")


class Payouts(BaseModel):
    finder: str = Field(description="the address assumed to find the block (the finder bonus goes to it)")
    tip: str = Field(description="the sharechain share the next share builds on")
    share_height: int
    block_height: int | None
    coinbase_value: int
    outputs: list[PayoutOutput] = Field(description="the coinbase outputs, in coinbase order")
    total: int
    uncles: list[str] = Field(description="the uncles the next share includes")
    window_weight: int


class FoundBlock(BaseModel):
    hash: str
    height: int
    time: int
    share: str
    share_info: str
    worker: str
    value: int
    payouts: list[CoinbaseOutput]
    state: str = Field(description="confirmed, orphaned or unknown (asked of the chain backend, cached)")
    confirmations: int
    checked: float | None


class BlockPage(BaseModel):
    items: list[FoundBlock]
    next: str | None
    total: int


class MinerWindow(BaseModel):
    shares: int
    uncles: int
    orphans: int
    side: int
    weight: int
    share: float = Field(description="fraction of the window's weight")


class MinerPayout(BaseModel):
    hash: str
    height: int
    time: int
    amount: int


class Miner(BaseModel):
    address: str
    workers: list[Worker]
    hashrate: Rates
    history: list[tuple[int, float]] = Field(description="[bucket start, hashes/s] over 24 h in 10-minute buckets")
    window: MinerWindow
    expected_payout: int | None = Field(description="what the next block pays this address (the node's finder)")
    expected_payout_as_finder: int | None = Field(description="what it pays this address if it finds the block")
    shares: list[ShareEntry]
    payouts: list[MinerPayout] = Field(description="payouts in blocks this node found, newest first")
    total_paid: int
