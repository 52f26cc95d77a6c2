"""The fuzz targets: each an oracle from tests/fixtures (the same the hypothesis tests use) and seeds.

An oracle takes bytes and raises only when the code under test broke its contract (an exception
other than the defined refusal, or a wrong answer), which atheris reports as a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    module: str  # tests.fixtures module with one_input(data)
    seeds: Callable[[], list[bytes]]
    # Tokens libFuzzer splices into inputs (its -dict): the JSON keys and values the parsers look for.
    tokens: tuple[str, ...] = ()
    max_len: int = 4096

    def dictionary(self) -> str:
        """The tokens in libFuzzer's dictionary syntax (printable ASCII as is, every other byte as \\xNN)."""
        def quoted(token: str) -> str:
            return "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}" for b in token.encode())
        return "".join(f'"{quoted(token)}"\n' for token in self.tokens)


_JSON = ("{", "}", "[", "]", ",", ":", "null", "true", "false", "\"", "1e-10000000", "-1", "0", "1.5", "\"\\u0000\"")
_STRATUM = ("\"id\"", "\"method\"", "\"params\"", "\"result\"", "\"error\"", "\"mining.subscribe\"",
            "\"mining.authorize\"", "\"mining.submit\"", "\"mining.configure\"", "\"mining.suggest_difficulty\"",
            "\"mining.extranonce.subscribe\"", "\"version-rolling\"", "\"version-rolling.mask\"", "\"j1\"",
            "\"00000000\"", "\"ffffffff\"", "\"6553f100\"", "\"bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m\"", "\n")
_TEMPLATE_KEYS = ("version", "rules", "previousblockhash", "transactions", "coinbasevalue", "longpollid", "target",
                  "mintime", "curtime", "bits", "height", "default_witness_commitment", "data", "txid", "hash", "fee",
                  "code", "message", "result", "error", "!segwit", "segwit")


def _stratum_seeds() -> list[bytes]:
    from tests.fixtures.fuzz_stratum import ADDRESS, JOB, NTIME

    calls = [{"id": 1, "method": "mining.subscribe", "params": []},
             {"id": 2, "method": "mining.authorize", "params": [ADDRESS, "x"]},
             {"id": 3, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]},
             {"id": 4, "method": "mining.suggest_difficulty", "params": [0.5]},
             {"id": 5, "method": "mining.submit", "params": [ADDRESS, JOB.job_id, "00000001", f"{NTIME:08x}", "00000002"]},
             {"id": 6, "method": "mining.submit",
              "params": [ADDRESS, JOB.job_id, "00000001", f"{NTIME:08x}", "00000003", "00002000"]}]
    body = b"".join(json.dumps(c).encode() + b"\n" for c in calls)
    return [bytes([flags]) + body for flags in (0x01, 0x03, 0x41, 0x00)]


def _p2p_seeds() -> list[bytes]:
    from p2pool.p2p import messages as m

    h = bytes(range(32))
    samples: list[m.Message] = [m.GetTip(), m.Tip(h, 5, 1 << 70), m.GetShares((h,), h, 10), m.Shares((b"\x01" * 40,)),
                                m.GetSharesByHash((h, h)), m.GetHashes((), h, 0), m.Hashes((h,)), m.GetRecent(3), m.GetPeers(),
                                m.Peers(("/ip4/127.0.0.1/tcp/9338/p2p/Qm",))]
    return [m.encode(s)[4:] for s in samples] + [b"".join(m.encode(s) for s in samples)]


def _share_seeds() -> list[bytes]:
    from tests.fixtures.fuzz_share import base_shares, next_share

    return [next_share().serialize(), *(s.serialize() for s in base_shares()[-2:]), b"\x00\x10\x00" + b"\xff" * 8]


def _rpc_seeds() -> list[bytes]:
    from tests.fixtures.vectors import vector

    replies = [json.dumps({"result": vector(name)["result"], "error": None, "id": 1}).encode()
               for name in ("core-regtest-gbt-segwit.json", "bsv-regtest-gbt.json")]
    return [b"\x00" + reply for reply in replies] + [
        b"\x01" + b'{"result":null,"error":{"code":-28,"message":"Loading"},"id":1}', b"\x02"]


TARGETS: dict[str, Target] = {
    "stratum": Target("tests.fixtures.fuzz_stratum", _stratum_seeds, _JSON + _STRATUM),
    "p2p": Target("tests.fixtures.fuzz_p2p", _p2p_seeds),
    "share": Target("tests.fixtures.fuzz_share", _share_seeds),
    "rpc": Target("tests.fixtures.fuzz_rpc", _rpc_seeds, _JSON + tuple(f'"{k}"' for k in _TEMPLATE_KEYS), 16384),
}
