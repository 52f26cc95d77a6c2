"""A pruned share store: deletions go with the writes, the disk shrinks after a compaction, and a
restart (a load or a reindex) brings back exactly the pruned chain; a join cut short is started over."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from p2pool.storage.loader import load_chain, open_store, reindex
from p2pool.storage.share_store import ShareStore
from sharechain.chain import ShareChain
from sharechain.horizon import keep_depth
from sharechain.result import AddStatus
from sharechain.share import Share
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000
PARAMS = dataclasses.replace(TEST_PARAMS, reorg_margin=8)


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def mine_into(chain: ShareChain, store: ShareStore, n: int, start: int = 0) -> list[Share]:
    """Mine ``n`` shares (a stale one now and then), written as the intake writes them."""
    shares = []
    for i in range(start, start + n):
        now = T0 + 2 * i
        share = mine_on(chain, i % 3, now)
        made = [share]
        result = chain.add(share, now=now)
        assert result.status is AddStatus.ADDED
        pruned = list(result.pruned)
        if i % 6 == 5:
            side = mine_on(chain, 4, now, parent=chain[share.hash].prev_hash, uncles=())
            side_result = chain.add(side, now=now)
            pruned += side_result.pruned
            made.append(side)
        store.write([(s, chain[s.hash]) for s in made if s.hash in chain], pruned, chain.horizon.floor)
        shares += made
    return shares


def test_a_pruned_store_holds_what_the_chain_keeps_and_restarts_into_the_same_chain(tmp_path):
    chain = ShareChain(PARAMS)
    with ShareStore(tmp_path / "db", PARAMS) as store:
        shares = mine_into(chain, store, 200)
        assert store.count() == len(chain) < len(shares) // 5
        assert store.deleted == len(shares) - len(chain)
        assert store.get_raw(shares[0].hash) is None and store.get_raw(chain.tip.hash) is not None
    with ShareStore(tmp_path / "db", PARAMS) as store:
        loaded = load_chain(store, PARAMS)
    assert loaded.tip.hash == chain.tip.hash and loaded.tip.chain_work == chain.tip.chain_work
    assert loaded.horizon == chain.horizon and len(loaded) == len(chain)
    assert len(loaded.main_line) == keep_depth(PARAMS)
    # And it goes on exactly like the chain that never stopped.
    value = 50_0000_0000
    assert loaded.payouts(loaded.tip.hash, value) == chain.payouts(chain.tip.hash, value)
    share = mine_on(chain, 1, T0 + 1000)
    a, b = chain.add(share, now=T0 + 1000), loaded.add(share, now=T0 + 1000)
    assert (a.status, a.new_tip, a.pruned) == (b.status, b.new_tip, b.pruned)


def test_the_disk_stays_flat_however_many_shares_pass(tmp_path):
    """Ten times a thousand shares through a store that keeps 21 heights, compacted as the node does
    (every few hundred pruned shares): the directory stops growing at a small multiple of LevelDB's
    own file sizes, far below what was written."""
    chain = ShareChain(PARAMS)
    sizes = []
    written = 0
    with ShareStore(tmp_path / "db", PARAMS) as store:
        for chunk in range(10):
            shares = mine_into(chain, store, 300, start=300 * chunk)
            written += sum(len(s.serialize()) for s in shares)
            store.compact()
            assert store.deleted == 0
            sizes.append(size(tmp_path / "db"))
        assert store.count() == len(chain)
    assert max(sizes[5:]) <= 1.5 * max(sizes[:5]), sizes  # not growing with the shares that passed
    assert max(sizes) < written / 1.5, (sizes, written)


def test_a_pruned_store_is_reindexed_from_its_oldest_shares(tmp_path):
    chain = ShareChain(PARAMS)
    with ShareStore(tmp_path / "db", PARAMS) as store:
        mine_into(chain, store, 120)
    with open_store(tmp_path / "db", PARAMS, reindex_requested=True) as store:
        rebuilt, report = reindex(store, PARAMS)
    assert rebuilt.tip.hash == chain.tip.hash and rebuilt.tip.chain_work == chain.tip.chain_work
    assert rebuilt.horizon == chain.horizon and report.kept == len(chain) and not report.dropped
    with ShareStore(tmp_path / "db", PARAMS) as store:
        assert load_chain(store, PARAMS).tip.hash == chain.tip.hash


def test_a_join_cut_short_is_started_over(tmp_path):
    source = ShareChain(PARAMS, prune=False)
    with ShareStore(tmp_path / "source", PARAMS) as scratch:
        shares = mine_into(source, scratch, 60)
    main = [s for s in shares if source.main_line.holds(source.get(s.hash))]
    joiner = ShareChain(PARAMS)
    joiner.begin_join(30)
    with ShareStore(tmp_path / "db", PARAMS) as store:
        for share in main[30:35]:  # five context shares of thirteen, then the power went out
            record = source.get(share.hash)
            joiner.add_context(share, (record.chain_work, record.main_work))
            store.write([(share, joiner.get(share.hash))], (), joiner.horizon.floor)
    with ShareStore(tmp_path / "db", PARAMS) as store:
        loaded = load_chain(store, PARAMS)
        assert len(loaded) == 0 and store.count() == 0
