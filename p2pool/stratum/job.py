"""What the node hands the Stratum server (a job), what comes back (a solution), and the job's notify.

The byte orders are those of :mod:`sharechain.bitcoin.stratum.work`.
"""

from __future__ import annotations

import json
from binascii import hexlify
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_string

from sharechain.bitcoin.stratum.work import coinbase_bytes, header_bytes, merkle_root_from_branch, swap_words, u32_hex


@dataclass(frozen=True, slots=True)
class JobBase:
    """What every job of one piece of work has alike (one object shared by the jobs of ten thousand
    connections); hashes in internal order, integers as the header holds them.

    :meth:`coinb2` makes a job's coinbase part after the extranonces for a miner paid to ``payout_script``
    from the job's ``own`` bytes: here ``own`` is all of it; the node's work (:mod:`p2pool.work.shared_job`)
    keeps less per job and builds the rest from what its jobs share (one job for every newcomer)."""

    prev_hash: bytes
    coinb1: bytes
    merkle_branch: tuple[bytes, ...]
    version: int
    bits: int
    ntime: int
    min_ntime: int
    max_ntime: int
    share_target: int
    block_target: int

    def coinb2(self, job: StratumJob, payout_script: bytes) -> bytes:
        return job.own


@dataclass(frozen=True, slots=True)
class StratumJob:
    """A job for miners of one payout script: the work's shared :class:`JobBase` and this job's ``own`` part
    of coinb2. ``origin`` is the node's own record of the work (what it needs to turn a solution into a share
    and a block), shared by the jobs of that work, opaque to the Stratum server and not part of the job's
    identity; ``payout_script`` the script the job pays (b"": the job's provider does not say, or the job is
    shared by the miners of many scripts, whose coinb2 each is :meth:`coinb2_for` their script)."""

    job_id: str
    base: JobBase
    own: bytes
    clean: bool
    origin: object = field(default=None, compare=False, repr=False)
    payout_script: bytes = b""

    @classmethod
    def whole(cls, job_id: str, base: JobBase, coinb2: bytes, clean: bool, origin: object = None) -> StratumJob:
        """A job whose coinb2 is given whole (the base is a plain :class:`JobBase`)."""
        assert type(base) is JobBase
        return cls(job_id, base, coinb2, clean, origin)

    @property
    def coinb2(self) -> bytes:
        return self.base.coinb2(self, self.payout_script)

    def script_for(self, payout_script: bytes | None) -> bytes:
        """The payout script a miner of this job is paid to: ``payout_script``, or the job's own when None."""
        return self.payout_script if payout_script is None else payout_script

    def coinb2_for(self, payout_script: bytes | None) -> bytes:
        """coinb2 for a miner paid to ``payout_script`` (None: the job's own script)."""
        return self.base.coinb2(self, self.script_for(payout_script))

    @property
    def prev_hash(self) -> bytes:
        return self.base.prev_hash

    @property
    def coinb1(self) -> bytes:
        return self.base.coinb1

    @property
    def merkle_branch(self) -> tuple[bytes, ...]:
        return self.base.merkle_branch

    @property
    def version(self) -> int:
        return self.base.version

    @property
    def bits(self) -> int:
        return self.base.bits

    @property
    def ntime(self) -> int:
        return self.base.ntime

    @property
    def min_ntime(self) -> int:
        return self.base.min_ntime

    @property
    def max_ntime(self) -> int:
        return self.base.max_ntime

    @property
    def share_target(self) -> int:
        return self.base.share_target

    @property
    def block_target(self) -> int:
        return self.base.block_target


@dataclass(frozen=True)
class Solution:
    """A submit that met the connection's difficulty; the node checks share and block targets itself."""

    job: StratumJob
    worker: str
    payout_script: bytes
    extranonce1: bytes
    extranonce2: bytes
    ntime: int
    nonce: int
    version: int
    header: bytes
    coinbase: bytes
    hash: bytes


def build_coinbase(job: StratumJob, extranonce1: bytes, extranonce2: bytes, payout_script: bytes | None = None) -> bytes:
    """The coinbase of a miner paid to ``payout_script`` (None: the job's own script)."""
    return coinbase_bytes(job.coinb1, extranonce1, extranonce2, job.coinb2_for(payout_script))


def build_header(job: StratumJob, coinbase: bytes, ntime: int, nonce: int, version: int) -> bytes:
    """The 80-byte header of ``job`` for this coinbase, time, nonce and (possibly rolled) version."""
    root = merkle_root_from_branch(coinbase, job.merkle_branch)
    return header_bytes(version, job.prev_hash, root, ntime, job.bits, nonce)


def notify_params(job: StratumJob, job_id: str, clean: bool, payout_script: bytes | None = None) -> list[object]:
    """The nine ``mining.notify`` parameters for ``job`` sent under ``job_id`` to a miner paid to
    ``payout_script`` (None: the job's own script)."""
    return [
        job_id,
        swap_words(job.prev_hash).hex(),
        job.coinb1.hex(),
        job.coinb2_for(payout_script).hex(),
        [h.hex() for h in job.merkle_branch],
        u32_hex(job.version),
        u32_hex(job.bits),
        u32_hex(job.ntime),
        clean,
    ]


# Recent notify lines by (job object, payout script, id sent under, clean); the entry holds the job, so its
# id() is not reused while the entry lives. Cleared when full: it only has to last through one fan-out's repeats.
_LINES: dict[tuple[int, bytes, str, bool], tuple[StratumJob, bytes]] = {}
_LINES_KEPT = 512


def notify_line(job: StratumJob, job_id: str, clean: bool, payout_script: bytes | None = None) -> bytes:
    """The encoded ``mining.notify`` line of ``job`` sent under ``job_id`` to a miner paid to ``payout_script``
    (None: the job's own), encoded once for all the connections of that payout script (a farm's miners)."""
    script = job.script_for(payout_script)
    key = (id(job), script, job_id, clean)
    hit = _LINES.get(key)
    if hit is not None and hit[0] is job:
        return hit[1]
    line = encode_notify(job, job_id, clean, script)
    if len(_LINES) >= _LINES_KEPT:
        _LINES.clear()
    _LINES[key] = (job, line)
    return line


def encode_notify(job: StratumJob, job_id: str, clean: bool, payout_script: bytes | None = None) -> bytes:
    """The bytes ``codec.encode_notification("mining.notify", notify_params(job, job_id, clean, payout_script))``
    gives, with the parts every job of a template shares encoded once (the prevhash, the merkle branch)."""
    head, tail = _shared_parts(job.base)
    # (encode_basestring_ascii is what json.dumps quotes a string with; hexlify gives the hex as bytes at once)
    return b"".join((_NOTIFY_HEAD, _json_string(job_id).encode(), head, hexlify(job.coinb2_for(payout_script)), tail,
                     b"true]}\n" if clean else b"false]}\n"))


_NOTIFY_HEAD = b'{"id": null, "method": "mining.notify", "params": ['


# The parts of the notify line that the jobs of one work share, by JobBase (the entry holds the base, so
# its id() is not reused while the entry lives); cleared when full, like the lines.
_SHARED: dict[int, tuple[JobBase, bytes, bytes]] = {}
_SHARED_KEPT = 16


def _shared_parts(base: JobBase) -> tuple[bytes, bytes]:
    """The notify parameters between the job id and coinb2 (prevhash, coinb1) and from the end of coinb2
    to clean_jobs (merkle branch, version, bits, ntime), encoded once per work."""
    hit = _SHARED.get(id(base))
    if hit is not None and hit[0] is base:
        return hit[1], hit[2]
    head = b"".join((b', "', swap_words(base.prev_hash).hex().encode(), b'", "', base.coinb1.hex().encode(), b'", "'))
    tail = b"".join((b'", ', json.dumps([h.hex() for h in base.merkle_branch]).encode(),
                     f', "{u32_hex(base.version)}", "{u32_hex(base.bits)}", "{u32_hex(base.ntime)}", '.encode()))
    if len(_SHARED) >= _SHARED_KEPT:
        _SHARED.clear()
    _SHARED[id(base)] = (base, head, tail)
    return head, tail
