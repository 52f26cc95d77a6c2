"""Why a share was refused, as data: one :class:`Rejection` per consensus rule, each with its :class:`Blame`.

Whoever acts on a refused share (penalise a peer, tell a miner, log) reads ``rejection`` and
``rejection.blame``; the human ``detail`` text is for people and logs only, never for decisions.
"""

from __future__ import annotations

import enum
from typing import Self


class Blame(enum.Enum):
    """Whose fault a refused share is."""

    SENDER = "sender"  # the share breaks a rule every honest node applies: its sender is at fault
    NOBODY = "nobody"  # the share disagrees with *our* state (our clock): nobody is punished


class Rejection(enum.Enum):
    """A consensus rule a share broke. The value is a stable code (for logs, metrics, the API)."""

    blame: Blame
    summary: str

    def __new__(cls, code: str, blame: Blame, summary: str) -> Self:
        member = object.__new__(cls)
        member._value_ = code
        member.blame = blame
        member.summary = summary
        return member

    # The share target and proof of work (checked before anything else that costs).
    BAD_TARGET_ENCODING = ("bad-target-encoding", Blame.SENDER, "bad share target encoding")
    TARGET_TOO_EASY = ("target-too-easy", Blame.SENDER, "share target is easier than the network minimum")
    RETARGET_MISMATCH = ("retarget-mismatch", Blame.SENDER, "share target differs from the retarget rule's")
    PROOF_OF_WORK = ("proof-of-work", Blame.SENDER, "proof of work does not meet the share target")
    # The coinbase and the share's own fields.
    NOT_COINBASE = ("not-coinbase", Blame.SENDER, "first transaction is not a coinbase")
    SCRIPT_SIG_SIZE = ("scriptsig-size", Blame.SENDER, "coinbase scriptSig size out of range")
    MERKLE_BRANCH = ("merkle-branch", Blame.SENDER, "merkle branch does not lead to the header's merkle root")
    FIRST_SHARE_MISMATCH = ("first-share-mismatch", Blame.SENDER,
                            "only a chain's first share may have height 0 and no parent")
    EMPTY_PAYOUT_SCRIPT = ("empty-payout-script", Blame.SENDER, "empty payout script")
    TOO_MANY_UNCLES = ("too-many-uncles", Blame.SENDER, "too many uncles")
    REPEATED_UNCLE = ("repeated-uncle", Blame.SENDER, "an uncle is named twice")
    COMMITMENT_MISSING = ("commitment-missing", Blame.SENDER, "coinbase does not commit to the share information")
    COMMITMENT_REPEATED = ("commitment-repeated", Blame.SENDER,
                           "coinbase commits to the share information more than once")
    UNEXPECTED_OUTPUTS = ("unexpected-outputs", Blame.SENDER, "unexpected outputs after the share commitment")
    # The share's place on the chain.
    PARENT_HEIGHT = ("parent-height", Blame.SENDER, "height does not follow the parent's height")
    TIMESTAMP_NOT_AFTER_MEDIAN = ("timestamp-not-after-median", Blame.SENDER,
                                  "timestamp not after the median of recent shares")
    # Depends on our own tip: a peer on the other side of a long partition is not at fault.
    FORK_TOO_DEEP = ("fork-too-deep", Blame.NOBODY, "share forks off the main chain deeper than the reorg margin")
    # Our clock may be the one that is wrong: a share from a peer whose clock runs ahead is nobody's fault.
    TIMESTAMP_IN_FUTURE = ("timestamp-in-future", Blame.NOBODY, "timestamp too far in the future")
    # Uncles.
    UNCLE_DEPTH = ("uncle-depth", Blame.SENDER, "uncle outside the allowed depth")
    UNCLE_IS_FIRST_SHARE = ("uncle-is-first-share", Blame.SENDER, "a chain's first share cannot be an uncle")
    UNCLE_NOT_BRANCHING = ("uncle-not-branching", Blame.SENDER, "uncle does not branch off this share's chain")
    UNCLE_ON_OWN_CHAIN = ("uncle-on-own-chain", Blame.SENDER, "uncle is on this share's own chain")
    UNCLE_ALREADY_INCLUDED = ("uncle-already-included", Blame.SENDER, "uncle already included by an ancestor")
    # The payouts (checked last: the only rule that needs the PPLNS window).
    PAYOUTS_DIFFER = ("payouts-differ", Blame.SENDER, "coinbase payouts differ from the PPLNS split")


class InvalidShare(ValueError):
    """A share that breaks a consensus rule: ``rejection`` says which, ``detail`` says it for people."""

    def __init__(self, rejection: Rejection, detail: str | None = None) -> None:
        self.rejection = rejection
        self.detail = detail or rejection.summary
        super().__init__(self.detail)
