"""benchmarks/kernels_isa.py: reading cuobjdump listings, the pipe model, and (where the tools are
installed: scripts/fetch-isa-tools.sh) that the GPU variants really move work off the ALU pipe."""

from __future__ import annotations

import pytest

from benchmarks import kernels_isa

LISTING = """
        Function : scan
        .headerflags	@"EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"
        /*0000*/                   LDC R1, c[0x0][0x28] ;                        /* 0x00000a00ff017b82 */
        /*0010*/                   S2R R0, SR_TID.X ;                            /* 0x0000000000007919 */
        /*0020*/                   SHF.L.W.U32.HI R11, R18.reuse, 0x1a, R18 ;    /* 0x0000001a120b7819 */
        /*0030*/                   LOP3.LUT R4, R3, R5, R6, 0x96, !PT ;          /* 0x0000000503047212 */
        /*0040*/                   IADD3 R13, R11, R13, R14 ;                    /* 0x0000000d0b0d7210 */
        /*0050*/                   IMAD.IADD R2, R2, 0x1, R5 ;                   /* 0x0000000102027824 */
        /*0060*/                   IMAD R2, R2, UR4, R5 ;                        /* 0x0000000402027c24 */
        /*0070*/                   VIADD R15, R15, 0x59f111f1 ;                  /* 0x59f111f10f0f7836 */
        /*0080*/                   USHF.L.W.U32.HI UR5, UR4, 0x1a, UR4 ;         /* 0x0000001a04057899 */
        /*0090*/              @!P0 BRA 0x120 ;                                   /* 0x0000000000008947 */
        /*00a0*/                   NOP ;                                         /* 0x0000000000007918 */
        /*00b0*/                   EXIT ;                                        /* 0x000000000000794d */
"""


def test_listing_opcodes_are_counted_with_their_modifiers() -> None:
    counts = kernels_isa.count_opcodes(LISTING)
    assert counts["SHF.L.W.U32.HI"] == 1 and counts["IMAD.IADD"] == 1 and counts["BRA"] == 1
    assert sum(counts.values()) == 12  # the header lines are not instructions


def test_pipes_and_bound() -> None:
    mix = kernels_isa.classify(kernels_isa.count_opcodes(LISTING))
    assert (mix.alu, mix.fma, mix.other) == (3, 3, 4)  # uniform-datapath and NOP left out
    assert mix.bound == 5.0  # issue-bound: (3 + 3 + 4) / 2 exceeds either pipe
    assert kernels_isa.classify({"SHF.R.U32.HI": 10, "IMAD": 2}).bound == 10


def test_variants_move_work_from_the_alu_pipe() -> None:
    try:
        tools = kernels_isa.Tools.find()
    except SystemExit as missing:
        pytest.skip(f"no SASS tool chain: {missing}")
    mixes = {
        label: kernels_isa.classify(kernels_isa.count_opcodes(tools.sass(source, "scan", defines, "sm_90")))
        for label, source, defines in kernels_isa.kernels()
        if label in ("plain", "fma-adds-rotates")
    }
    plain, balanced = mixes["plain"], mixes["fma-adds-rotates"]
    assert plain.alu > 4 * plain.fma  # as written, the scan is ALU-bound
    assert balanced.bound < 0.8 * plain.bound
