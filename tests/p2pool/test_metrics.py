"""NodeMetrics: counters from events, labels from fixed sets, values read at scrape time."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from p2pool.chain.events import Health, RpcCalled, TemplateChanged
from p2pool.events import (
    ChainHealthChanged,
    PeerBanned,
    ShareRefused,
    SharesAccepted,
    ShareSettled,
    ShareSource,
    SharesSettled,
    SourceKind,
    SubmitsAnswered,
    SyncRequestDone,
    SyncStateChanged,
)
from p2pool.metrics import NodeMetrics, _Effort
from p2pool.stratum.stats import SubmitCounts
from sharechain.bitcoin.target import bits_to_target, work_from_target
from sharechain.fate import Fate
from sharechain.rejection import Rejection
from tests.functional.sharegen import make_chain


@dataclass(frozen=True)
class Template:
    """The one field of a block template the metrics read."""

    target: int


LOCAL = ShareSource(SourceKind.LOCAL, worker="w")
GOSSIP = ShareSource(SourceKind.GOSSIP, peer="12D3KooWpeer")


def samples(metrics: NodeMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(metrics: NodeMetrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def shares():
    return make_chain(3)


def test_accepted_shares_count_by_source_with_their_work(shares):
    metrics = NodeMetrics(network="devnet", version="1.2.3")
    metrics.use_clock(lambda: shares[-1].info.timestamp + 4.0)
    metrics.on_shares_accepted(SharesAccepted(tuple(shares[:2]), LOCAL))
    metrics.on_shares_accepted(SharesAccepted((shares[2],), GOSSIP))
    work = [work_from_target(bits_to_target(s.info.share_bits)) for s in shares]
    assert value(metrics, "otedama_shares_accepted_total", source="local") == 2
    assert value(metrics, "otedama_shares_accepted_total", source="gossip") == 1
    assert value(metrics, "otedama_shares_accepted_total", source="sync") == 0  # there from the start
    assert value(metrics, "otedama_shares_valid_total") == 3  # the old name stays
    assert value(metrics, "otedama_sharechain_work_total", source="local") == work[0] + work[1]
    assert value(metrics, "otedama_sharechain_work_total", source="gossip") == work[2]
    # The gossiped share was 4 s old when it joined.
    assert value(metrics, "otedama_gossip_delay_seconds_count") == 1
    assert value(metrics, "otedama_gossip_delay_seconds_sum") == 4.0
    assert value(metrics, "otedama_info", network="devnet", version="1.2.3") == 1


def test_refusals_count_by_source_and_rule(shares):
    metrics = NodeMetrics()
    metrics.on_share_refused(ShareRefused(shares[0].hash, GOSSIP, Rejection.PROOF_OF_WORK, "bad"))
    metrics.on_share_refused(ShareRefused(shares[1].hash, GOSSIP, Rejection.PROOF_OF_WORK, "bad"))
    metrics.on_share_refused(ShareRefused(shares[1].hash, LOCAL, Rejection.TIMESTAMP_IN_FUTURE, "clock"))
    assert value(metrics, "otedama_shares_refused_total", source="gossip", reason="proof-of-work") == 2
    assert value(metrics, "otedama_shares_refused_total", source="local", reason="timestamp-in-future") == 1
    assert value(metrics, "otedama_shares_invalid_total") == 3


def test_effort_grows_with_work_and_restarts_at_a_block(shares):
    effort = _Effort()
    effort.block_work = 20
    miss, hit = b"\xff" * 32, b"\x00" * 32  # a hash above any target, and one below
    effort.add(miss, 0x1D00FFFF, 5)
    effort.add(miss, 0x1D00FFFF, 5)
    assert effort.ratio() == 0.5
    effort.add(hit, 0x1D00FFFF, 5)  # this share was a block: the count starts again
    assert effort.ratio() == 0.0
    # Through the events: the template says how much work a block needs; these devnet shares were all
    # mined on the easiest header bits, so each was also a block.
    metrics = NodeMetrics()
    metrics.on_template(TemplateChanged(Template(target=bits_to_target(0x1E00FFFF)), new_block=True))
    metrics.on_shares_accepted(SharesAccepted(tuple(shares), LOCAL))
    assert value(metrics, "otedama_effort_ratio") == 0.0
    assert value(metrics, "otedama_network_difficulty") == pytest.approx(2**-8)


def test_scrape_time_readings_and_labelled_counts():
    metrics = NodeMetrics()
    counts = SubmitCounts(accepted=7, rejected={"low-difficulty": 2, "job-not-found": 1}, work=7 * 2.0**32)
    metrics.observe_stratum(lambda: counts)
    metrics.observe_peers(lambda: {"inbound": 3, "outbound": 5})
    tip_age = [12.0]
    metrics.observe(tip_age=lambda: tip_age[0], connections=lambda: 4, workers=lambda: 2, bans=lambda: 1)
    assert value(metrics, "otedama_stratum_accepted_total") == 7
    assert value(metrics, "otedama_stratum_rejects_total", reason="low-difficulty") == 2
    assert value(metrics, "otedama_stratum_work_total") == 7 * 2.0**32
    assert value(metrics, "otedama_peers", direction="inbound") == 3
    assert value(metrics, "otedama_peers", direction="outbound") == 5
    assert value(metrics, "otedama_sharechain_tip_age_seconds") == 12.0
    tip_age[0] = 30.0  # read again at the next scrape
    assert value(metrics, "otedama_sharechain_tip_age_seconds") == 30.0
    assert value(metrics, "otedama_stratum_connections") == 4
    with pytest.raises(TypeError, match="unknown reading"):
        metrics.observe(hash_rate=lambda: 1.0)


def test_latencies_errors_and_state_events():
    metrics = NodeMetrics()
    metrics.on_rpc(RpcCalled("getblocktemplate", 0.02))
    metrics.on_rpc(RpcCalled("submitblock", 0.5, "unavailable"))
    metrics.on_rpc(RpcCalled("some-new-call", 0.1, "rpc"))  # an unknown method cannot grow a series
    metrics.on_sync_request(SyncRequestDone("GetShares", 0.2, True))
    metrics.on_sync_request(SyncRequestDone("GetTip", 10.0, False))
    metrics.on_submits(SubmitsAnswered(2, 0.003))
    metrics.on_peer_banned(PeerBanned("12D3KooWpeer"))
    metrics.on_sync_state(SyncStateChanged(True))
    metrics.on_chain_health(ChainHealthChanged(Health(False, "down", 0.0)))
    assert value(metrics, "otedama_rpc_seconds_count", method="getblocktemplate") == 1
    assert value(metrics, "otedama_rpc_errors_total", method="submitblock", kind="unavailable") == 1
    assert value(metrics, "otedama_rpc_errors_total", method="other", kind="rpc") == 1
    assert value(metrics, "otedama_sync_request_seconds_count", message="GetShares") == 1
    assert value(metrics, "otedama_sync_request_failures_total", message="GetTip") == 1
    assert value(metrics, "otedama_stratum_submit_seconds_bucket", le="0.005") == 1
    assert value(metrics, "otedama_bans_total") == 1
    assert value(metrics, "otedama_sync_behind") == 1
    assert value(metrics, "otedama_blockchain_connected") == 0


def test_share_outcomes_count_every_share_and_our_miners_own():
    metrics = NodeMetrics()
    metrics.on_shares_settled(SharesSettled((
        ShareSettled(b"u" * 32, Fate.UNCLE, ShareSource(SourceKind.LOCAL, worker="w"), b"s"),
        ShareSettled(b"o" * 32, Fate.ORPHAN, ShareSource(SourceKind.GOSSIP, peer="p"), b"s"),
        ShareSettled(b"p" * 32, Fate.ORPHAN, ShareSource(SourceKind.SYNC, peer="p"), b"s"))))
    assert value(metrics, "otedama_local_shares_total", outcome="uncle") == 1
    assert value(metrics, "otedama_local_shares_total", outcome="orphan") == 0
    assert value(metrics, "otedama_sharechain_outcomes_total", outcome="uncle") == 1
    assert value(metrics, "otedama_sharechain_outcomes_total", outcome="orphan") == 2
    assert value(metrics, "otedama_sharechain_outcomes_total", outcome="main") == 0


def test_every_name_is_documented_and_prefixed():
    metrics = NodeMetrics()
    metrics.use_clock(time.time)
    operations = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
    documented = set(re.findall(r"`(otedama_[a-z_]+)", operations.read_text()))
    for name, kind in metrics.families().items():
        assert name.startswith("otedama_"), name
        exported = f"{name}_total" if kind == "counter" else name
        assert exported in documented, f"{exported} ({kind}) is not in docs/operations.md"
