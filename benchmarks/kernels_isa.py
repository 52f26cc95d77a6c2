"""The OpenCL scan kernels' NVIDIA machine code, counted per nonce, and what it predicts for an H100.

Usage: ./scripts/fetch-isa-tools.sh && .venv/bin/python benchmarks/kernels_isa.py [--arch sm_90]

No GPU needed: each kernel (every scan variant of kernels/sha256d.cl, and the straightforward
baseline_sha256d.cl) is compiled OpenCL C -> PTX with clang and libclc, PTX -> SASS with NVIDIA's
ptxas, and disassembled with cuobjdump/nvdisasm. One work-item hashes one nonce on a GPU, so the
scan kernel's instruction counts are per nonce.

The model: on NVIDIA GPUs since Volta, logic, shifts and most integer adds (LOP3, SHF, IADD3) go
to the ALU pipe and integer multiply-adds (IMAD) to the FMA pipe; each pipe takes a warp every two
cycles, i.e. 64 thread-instructions per cycle per SM (an H100 SM has 4 x 16 lanes of each), and
the SM issues at most 128 per cycle in all. A nonce therefore costs at least
max(ALU, FMA, (ALU + FMA + other) / 2) / 64 SM-cycles. Hopper's VIADD is counted with the FMA pipe
(the baseline's 6.9 G hashes/s measured on an H100 SXM, 132 SMs at 1.98 GHz, is what the model
gives with that reading; with VIADD on the ALU it would give 6.6). Uniform-datapath instructions
(U*), which run once per warp, are left out. It is a bound, not a measurement: latencies,
occupancy and the real clock under load decide how close a kernel gets, and the figures that count
are benchmarks/kernels.py's on the device.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kernels.opencl import GPU_VARIANTS, PLAIN  # noqa: E402  (after the sys.path line above)

KERNEL_CL = ROOT / "kernels" / "sha256d.cl"
BASELINE_CL = ROOT / "benchmarks" / "baseline_sha256d.cl"
TOOLS_DIR = ROOT / ".cache" / "isa-tools" / "bin"
LIBCLC = Path("/usr/lib/clc/nvptx64--nvidiacl.bc")
BASELINE_MEASURED = 6.9e9  # hashes/s of the baseline kind of kernel on an H100, from the issue
H100_SXM = (132, 1.98e9)  # SMs, boost clock
LANES_PER_PIPE = 64  # thread-instructions per cycle per SM on each of the ALU and FMA pipes

_INSTRUCTION = re.compile(r"^\s*/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)")
_FMA = ("IMAD", "VIADD")  # opcode roots on the FMA pipe (see the module docstring for VIADD)
_ALU = ("SHF", "LOP3", "IADD3", "LEA", "ISETP", "SEL", "PRMT", "IABS", "IMNMX", "POPC", "FLO", "MOV", "SGXT")


@dataclass(frozen=True)
class Mix:
    """Instructions of one kernel by pipe."""

    alu: int
    fma: int
    other: int
    opcodes: Mapping[str, int]

    @property
    def bound(self) -> float:
        """Thread-instructions per nonce on the busiest pipe, or half the total when issue-bound."""
        return max(self.alu, self.fma, (self.alu + self.fma + self.other) / 2)


def count_opcodes(sass: str) -> collections.Counter[str]:
    """Opcode (with modifiers) -> count, over the instruction lines of a cuobjdump -sass listing."""
    return collections.Counter(m.group(1) for line in sass.splitlines() if (m := _INSTRUCTION.match(line)))


def classify(opcodes: Mapping[str, int]) -> Mix:
    """Split opcode counts by pipe; uniform-datapath (U*) and NOP instructions are not counted."""
    alu = fma = other = 0
    for opcode, n in opcodes.items():
        root = opcode.split(".")[0]
        if root.startswith("U") or root == "NOP":
            continue
        if root in _FMA:
            fma += n
        elif root in _ALU:
            alu += n
        else:
            other += n
    return Mix(alu, fma, other, dict(opcodes))


@dataclass(frozen=True)
class Tools:
    clang: str
    llvm_link: str
    opt: str
    llc: str
    ptxas: str
    cuobjdump: str
    nvdisasm_dir: str

    @classmethod
    def find(cls) -> Tools:
        path = os.pathsep.join([str(TOOLS_DIR), os.environ.get("PATH", "")])

        def which(*names: str) -> str:
            for name in names:
                if found := shutil.which(name, path=path):
                    return found
            raise SystemExit(f"{names[0]} not found: run ./scripts/fetch-isa-tools.sh")

        if not LIBCLC.exists():
            raise SystemExit(f"{LIBCLC} not found (libclc-15): run ./scripts/fetch-isa-tools.sh")
        return cls(
            clang=which("clang-15", "clang"),
            llvm_link=which("llvm-link-15", "llvm-link"),
            opt=which("opt-15", "opt"),
            llc=which("llc-15", "llc"),
            ptxas=which("ptxas"),
            cuobjdump=which("cuobjdump"),
            nvdisasm_dir=str(Path(which("nvdisasm")).parent),
        )

    def sass(self, source: Path, kernel: str, defines: Iterable[str], arch: str) -> str:
        """The SASS listing of ``kernel`` in ``source`` compiled with ``defines`` for ``arch``."""
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            clang = [self.clang, "-x", "cl", "-cl-std=CL1.2", "-target", "nvptx64-nvidia-nvcl", "-O3"]
            clang += ["-Xclang", "-finclude-default-header", "-emit-llvm", "-c", str(source), "-o", f"{t}/k.bc"]
            _run(clang + list(defines))
            _run([self.llvm_link, f"{t}/k.bc", str(LIBCLC), "--only-needed", "-o", f"{t}/linked.bc"])
            _run([self.opt, "-O3", f"{t}/linked.bc", "-o", f"{t}/opt.bc"])  # inline libclc's builtins
            _run([self.llc, "-O3", "-march=nvptx64", "-mcpu=sm_80", "-mattr=+ptx70", f"{t}/opt.bc", "-o", f"{t}/k.ptx"])
            _run([self.ptxas, f"-arch={arch}", "-O3", f"{t}/k.ptx", "-o", f"{t}/k.cubin"])
            env = dict(os.environ, PATH=os.pathsep.join([self.nvdisasm_dir, os.environ.get("PATH", "")]))
            return _run([self.cuobjdump, "-sass", "-fun", kernel, f"{t}/k.cubin"], env=env)


def _run(cmd: list[str], env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{Path(cmd[0]).name} failed:\n{done.stderr}")
    return done.stdout


def kernels() -> list[tuple[str, Path, tuple[str, ...]]]:
    """(label, source, defines) of the baseline and every scan variant (on a GPU: VEC=1)."""
    rows = [("baseline (straightforward)", BASELINE_CL, ()), (PLAIN, KERNEL_CL, ("-DVEC=1",))]
    rows += [(name, KERNEL_CL, ("-DVEC=1", *defines)) for name, defines in GPU_VARIANTS.items()]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="sm_90", help="ptxas target (default sm_90: H100/H200)")
    parser.add_argument("--opcodes", action="store_true", help="also print each kernel's opcode counts")
    args = parser.parse_args()
    tools = Tools.find()
    version = _run([tools.ptxas, "--version"]).strip().splitlines()[-1]
    print(f"SASS per nonce for {args.arch}: clang + libclc -> PTX, {version}")
    sms, clock = H100_SXM
    print(f"model: H100 SXM, {sms} SMs at {clock / 1e9:.2f} GHz, {LANES_PER_PIPE} lanes per pipe per SM")
    print(f"\n  {'kernel':<28} {'ALU':>6} {'FMA':>6} {'other':>6} {'bound':>7} {'model G/s':>10} {'x baseline':>10}")
    mixes = {label: classify(count_opcodes(tools.sass(src, "scan", defs, args.arch))) for label, src, defs in kernels()}
    baseline = next(iter(mixes.values()))
    for label, mix in mixes.items():
        model = sms * clock * LANES_PER_PIPE / mix.bound
        ratio = baseline.bound / mix.bound
        print(
            f"  {label:<28} {mix.alu:>6} {mix.fma:>6} {mix.other:>6} {mix.bound:>7.0f} "
            f"{model / 1e9:>10.2f} {ratio:>10.2f}"
        )
    print(f"\n  scaled from the baseline's measured {BASELINE_MEASURED / 1e9:.1f} G hashes/s on an H100:")
    for label, mix in list(mixes.items())[1:]:
        print(f"    {label:<26} {BASELINE_MEASURED * baseline.bound / mix.bound / 1e9:6.2f} G hashes/s")
    if args.opcodes:
        for label, mix in mixes.items():
            ops = ", ".join(f"{op} {n}" for op, n in sorted(mix.opcodes.items(), key=lambda kv: -kv[1]))
            print(f"\n{label}: {ops}")


if __name__ == "__main__":
    main()
