import pytest

from sharechain.bitcoin.address import AddressError, address_to_script, script_to_address
from sharechain.bitcoin.block import Block, find_witness_commitment, witness_root
from sharechain.bitcoin.hashing import hash_to_hex, sha256d
from sharechain.bitcoin.merkle import coinbase_merkle_branch, merkle_root, root_from_coinbase_branch
from sharechain.bitcoin.script import bip34_height_push, read_bip34_height
from sharechain.bitcoin.serialize import ByteReader, ParseError, ser_varint
from sharechain.bitcoin.target import bits_to_target, target_to_bits, work_from_target
from sharechain.params import MAINNET, REGTEST
from tests.fixtures.vectors import VECTORS_DIR


def test_coinbase_branch_folds_to_the_root_for_every_tree_size():
    for n in range(1, 40):
        txids = [sha256d(bytes([i])) for i in range(n)]
        branch = coinbase_merkle_branch(txids[1:])
        assert root_from_coinbase_branch(txids[0], branch) == merkle_root(txids)
        assert len(branch) == (n - 1).bit_length()


def test_core_accepted_block_roundtrips_with_its_merkle_and_witness_commitment():
    import json

    vector = json.loads((VECTORS_DIR / "core-regtest-block-accepted.json").read_text())
    block = Block.parse(bytes.fromhex(vector["block_hex"]))
    assert block.serialize().hex() == vector["block_hex"]
    assert hash_to_hex(block.header.hash()) == vector["block_hash"]
    txids = [tx.txid() for tx in block.transactions]
    assert merkle_root(txids) == block.header.merkle_root
    branch = coinbase_merkle_branch(txids[1:])
    assert [b.hex() for b in branch] == vector["merkle"]["coinbase_branch_internal"]
    reserved = block.transactions[0].inputs[0].witness[0]
    assert find_witness_commitment(block.transactions[0]) == sha256d(witness_root(block.transactions) + reserved)
    assert read_bip34_height(block.transactions[0].inputs[0].script_sig) == 211


@pytest.mark.parametrize("address, script_hex", [
    # BIP173 / BIP350 test vectors
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
     "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "76a91477bff20c60e522dfaa3350c39b030a5d004e839a88ac"),
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"),
])
def test_mainnet_addresses(address, script_hex):
    script = address_to_script(address, MAINNET.address_format)
    assert script.hex() == script_hex
    assert script_to_address(script, MAINNET.address_format).lower() == address.lower()


@pytest.mark.parametrize("address, reason", [
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum"),
    ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "another network"),
    ("BC1QW508d6QEJxTDG4y5R3ZARVARY0C5XW7KV8F3T4", "mixes upper and lower"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "bech32m"),
    ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "checksum"),
    ("mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r", "version"),
    ("", "empty"),
    ("hello world", "base58"),
])
def test_bad_addresses_say_what_is_wrong(address, reason):
    with pytest.raises(AddressError, match=reason):
        address_to_script(address, MAINNET.address_format)


def test_regtest_vector_keys_decode():
    script = address_to_script("bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m", REGTEST.address_format)
    assert script[:2] == b"\x00\x14"
    assert address_to_script("mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r", REGTEST.address_format)[:3] == b"\x76\xa9\x14"


def test_compact_targets_and_work():
    assert bits_to_target(0x1D00FFFF) == 0xFFFF << 208
    assert target_to_bits(0xFFFF << 208) == 0x1D00FFFF
    assert bits_to_target(0x207FFFFF) == 0x7FFFFF << 232
    for bits in (0x1D00FFFF, 0x1B0404CB, 0x207FFFFF, 0x03123456):
        assert target_to_bits(bits_to_target(bits)) == bits
    assert work_from_target(0xFFFF << 208) == 0x100010001
    with pytest.raises(ValueError, match="negative"):
        bits_to_target(0x04923456)


def test_bip34_heights_roundtrip():
    for height in (0, 1, 16, 17, 127, 128, 211, 255, 256, 32767, 32768, 840_000):
        assert read_bip34_height(bip34_height_push(height)) == height
    assert bip34_height_push(211).hex() == "02d300"  # the sign byte the rejected vector leaves out


def test_reader_refuses_truncation_and_noncanonical_sizes():
    with pytest.raises(ParseError, match="truncated"):
        ByteReader(b"\x01").read(2)
    with pytest.raises(ParseError, match="non-canonical"):
        ByteReader(b"\xfd\x10\x00").read_varint()
    assert ByteReader(ser_varint(70000)).read_varint() == 70000
    with pytest.raises(ParseError, match="limit"):
        ByteReader(ser_varint(10**6)).read_count(1000)
