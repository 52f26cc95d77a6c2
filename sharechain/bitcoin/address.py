"""Payout addresses to output scripts: bech32 (BIP173), bech32m (BIP350) and base58check."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.script import p2pkh, p2sh, witness_program


class AddressError(ValueError):
    """An address that is malformed or belongs to another network."""


@dataclass(frozen=True)
class AddressFormat:
    """What a network's addresses look like."""

    bech32_hrp: str
    p2pkh_version: int
    p2sh_version: int


_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= generator[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: list[int] | bytes, from_bits: int, to_bits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        return None
    return out


def _decode_segwit(address: str, hrp: str) -> bytes:
    if address.lower() != address and address.upper() != address:
        raise AddressError("bech32 address mixes upper and lower case")
    address = address.lower()
    sep = address.rfind("1")
    if sep < 1 or sep + 7 > len(address) or len(address) > 90:
        raise AddressError("malformed bech32 address")
    if address[:sep] != hrp:
        raise AddressError(f"address is for another network (prefix '{address[:sep]}', this network uses '{hrp}')")
    try:
        data = [_CHARSET.index(c) for c in address[sep + 1 :]]
    except ValueError:
        raise AddressError("bech32 address contains an invalid character") from None
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST):
        raise AddressError("bech32 checksum mismatch (typo in the address?)")
    version = data[0]
    program = _convert_bits(data[1:-6], 5, 8, False)
    if program is None or not 2 <= len(program) <= 40 or version > 16:
        raise AddressError("invalid witness program")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError("segwit v0 program must be 20 or 32 bytes")
    if (version == 0) != (const == _BECH32_CONST):
        raise AddressError("segwit v0 needs bech32, v1+ needs bech32m (BIP350)")
    return witness_program(version, bytes(program))


def encode_segwit(hrp: str, version: int, program: bytes) -> str:
    data = [version] + (_convert_bits(program, 8, 5, True) or [])
    const = _BECH32_CONST if version == 0 else _BECH32M_CONST
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def base58check_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise AddressError(f"invalid base58 character {char!r}")
        number = number * 58 + index
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(text) - len(text.lstrip("1"))) + raw
    if len(raw) < 5 or sha256d(raw[:-4])[:4] != raw[-4:]:
        raise AddressError("base58 checksum mismatch (typo in the address?)")
    return raw[:-4]


def base58check_encode(payload: bytes) -> str:
    raw = payload + sha256d(payload)[:4]
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _B58[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + out


def address_to_script(address: str, fmt: AddressFormat) -> bytes:
    """The output script that pays ``address``; :class:`AddressError` says what is wrong otherwise."""
    address = address.strip()
    if not address:
        raise AddressError("empty address")
    if address.lower().startswith(fmt.bech32_hrp + "1"):
        return _decode_segwit(address, fmt.bech32_hrp)
    if "1" in address and address.lower().split("1", 1)[0] in ("bc", "tb", "bcrt"):
        return _decode_segwit(address, fmt.bech32_hrp)
    payload = base58check_decode(address)
    if len(payload) != 21:
        raise AddressError("base58 address has the wrong length")
    if payload[0] == fmt.p2pkh_version:
        return p2pkh(payload[1:])
    if payload[0] == fmt.p2sh_version:
        return p2sh(payload[1:])
    raise AddressError(f"base58 address version {payload[0]} is not used on this network")


@lru_cache(maxsize=65536)  # a node names the same few thousand payout scripts over and over
def script_to_address(script: bytes, fmt: AddressFormat) -> str:
    """Readable form of an output script, or ``script:<hex>`` for scripts without an address."""
    if 4 <= len(script) <= 42 and (script[0] == 0 or 0x51 <= script[0] <= 0x60) and script[1] == len(script) - 2:
        version = 0 if script[0] == 0 else script[0] - 0x50
        if version or len(script) in (22, 34):
            return encode_segwit(fmt.bech32_hrp, version, script[2:])
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return base58check_encode(bytes((fmt.p2pkh_version,)) + script[3:23])
    if len(script) == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return base58check_encode(bytes((fmt.p2sh_version,)) + script[2:22])
    return "script:" + script.hex()
