"""A network's id is a hash of every consensus constant: change any rule and the id changes; change a port and it does not."""

from __future__ import annotations

import dataclasses

import pytest

from sharechain.bitcoin.address import AddressFormat
from sharechain.params import DEVNET, NETWORKS, REGTEST, NetworkParams, consensus_fields, consensus_id
from sharechain.share import SHARE_FORMAT_RULES

LOCAL = {"bitcoind_rpc_port", "default_stratum_port", "default_api_port", "default_p2p_port"}
CONSENSUS = [f.name for f in dataclasses.fields(NetworkParams) if f.name not in LOCAL | {"network_id"}]


def changed(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | str | AddressFormat):
        raise TypeError(f"no way to change a {type(value).__name__}; teach this test")
    if isinstance(value, AddressFormat):
        return dataclasses.replace(value, p2sh_version=value.p2sh_version + 1)
    return value + 1 if isinstance(value, int) else value + "x"


def test_the_consensus_fields_are_all_but_the_local_defaults() -> None:
    assert set(consensus_fields(DEVNET)) == set(CONSENSUS)
    assert len(CONSENSUS) == 18  # reorg_margin joined with #12


@pytest.mark.parametrize("name", CONSENSUS)
def test_every_consensus_constant_changes_the_id(name: str) -> None:
    other = dataclasses.replace(DEVNET, **{name: changed(getattr(DEVNET, name))})  # type: ignore[arg-type]
    assert other.network_id != DEVNET.network_id
    assert len(other.network_id) == 8


def test_every_address_format_field_changes_the_id() -> None:
    for field in dataclasses.fields(AddressFormat):
        fmt = DEVNET.address_format
        other = dataclasses.replace(DEVNET, address_format=dataclasses.replace(
            fmt, **{field.name: changed(getattr(fmt, field.name))}))  # type: ignore[arg-type]
        assert other.network_id != DEVNET.network_id, field.name


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_no_local_default_changes_the_id(name: str) -> None:
    assert dataclasses.replace(DEVNET, **{name: getattr(DEVNET, name) + 1}).network_id == DEVNET.network_id


@pytest.mark.parametrize("rule", sorted(SHARE_FORMAT_RULES))
def test_every_share_format_rule_changes_the_id(rule: str) -> None:
    assert consensus_id(DEVNET, {**SHARE_FORMAT_RULES, rule: SHARE_FORMAT_RULES[rule] + 1}) != DEVNET.network_id


def test_the_consensus_version_changes_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    import sharechain.params

    before = consensus_id(DEVNET)
    monkeypatch.setattr(sharechain.params, "CONSENSUS_VERSION", sharechain.params.CONSENSUS_VERSION + 1)
    assert consensus_id(DEVNET) != before


def test_the_id_is_derived_not_given() -> None:
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(DEVNET, network_id=b"12345678")
    with pytest.raises(TypeError):
        NetworkParams(network_id=b"12345678", **{f.name: getattr(DEVNET, f.name) for f in dataclasses.fields(DEVNET)
                                                 if f.init})  # type: ignore[call-arg]
    assert dataclasses.replace(DEVNET, uncle_depth=4).network_id != DEVNET.network_id
    assert dataclasses.replace(DEVNET).network_id == DEVNET.network_id == consensus_id(DEVNET)


def test_networks_have_distinct_ids_even_with_the_same_rules() -> None:
    assert len({p.network_id for p in NETWORKS.values()}) == len(NETWORKS)
    # regtest and devnet share every rule but their name.
    assert {k: v for k, v in consensus_fields(REGTEST).items() if k != "name"} == \
        {k: v for k, v in consensus_fields(DEVNET).items() if k != "name"}


def test_the_ids_are_pinned() -> None:
    """A change here is a fork: it must come with a consensus change (docs/consensus.md), never by accident."""
    assert {name: p.network_id.hex() for name, p in NETWORKS.items()} == {
        "mainnet": "29947906d586faa7", "testnet4": "70398c466dd26309", "signet": "7042b675f87eeb8f",
        "regtest": "2b13d184617cb7e8", "devnet": "5129d99e1678d73a"}
