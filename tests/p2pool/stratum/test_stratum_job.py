"""Jobs: the notify encoding and headers rebuilt from the vector's submits, byte for byte; the cores stay pure."""

from __future__ import annotations

from pathlib import Path

import pytest
from stratum_vector import VECTOR, vector_job

from p2pool.stratum.job import build_coinbase, build_header, notify_params
from sharechain.bitcoin.hashing import hash_to_hex, sha256d
from tests.purity import IO, assert_pure

ROOT = Path(__file__).resolve().parents[3]


def test_notify_params_are_the_vector_params() -> None:
    for name in ("job1", "job2"):
        job = vector_job(name)
        assert notify_params(job, job.job_id, job.clean) == VECTOR["jobs"][name]["params"]


def test_headers_rebuild_from_the_submits() -> None:
    job = vector_job("job1")
    submit = VECTOR["submits"][0]
    coinbase = build_coinbase(job, bytes.fromhex("8a3f0001"), bytes.fromhex(submit["extranonce2"]))
    header = build_header(job, coinbase, int(submit["ntime"], 16), int(submit["nonce"], 16), job.version)
    assert header.hex() == submit["header_hex"]
    assert hash_to_hex(sha256d(header)) == submit["hash_display"]


PURE = ["p2pool/stratum/" + name for name in (
    "session.py", "job.py", "vardiff.py", "stats.py", "submit.py", "provider.py", "outbox.py")]


@pytest.mark.parametrize("path", PURE)
def test_cores_import_no_io(path: str) -> None:
    assert_pure([ROOT / path], IO | {"p2pool.stratum.server"})
