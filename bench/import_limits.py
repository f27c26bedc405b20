"""Hostile import files are refused quickly and in bounded memory (issue 13, target: every one
under 5 s and 300 MB).

Each file of :data:`bench.hostile_files.HOSTILE` is built, then parsed in a fresh subprocess
(``question_bank.transfer.parse_file``, what the import API runs in its worker), which reports
the parse time and its peak resident memory (``VmHWM``: the whole interpreter with its
imports and the file's bytes included). "process wall" adds the interpreter's start. Run::

    .venv/bin/python -m bench.import_limits
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

from bench.hostile_files import HOSTILE

CHILD = r"""
import json, sys, time
from question_bank import transfer
path, name, fmt = sys.argv[1:4]
with open(path, "rb") as fh:
    data = fh.read()
size = len(data)
start = time.perf_counter()
parsed = transfer.parse_file(data, name, fmt, transfer.import_options("K1"))
took = time.perf_counter() - start
# VmHWM: this process image's peak resident memory (ru_maxrss would carry the parent's
# peak across fork and exec).
with open("/proc/self/status") as fh:
    peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
codes = sorted({getattr(p.message, "code", "?") for p in parsed.problems})
print(json.dumps({"size": size, "seconds": took, "peak_mb": peak, "items": len(parsed.drafts),
                  "refused": bool(parsed.problems), "codes": codes}))
"""


def main() -> int:
    print("command: .venv/bin/python -m bench.import_limits")
    print(f"{'file':42} {'bytes':>10} {'parse s':>8} {'peak MB':>8}  refused with")
    worst_s = worst_mb = 0.0
    ok = True
    for label, (builder, fmt) in HOSTILE.items():
        name, data = builder()
        with tempfile.NamedTemporaryFile(suffix="-" + name) as fh:
            fh.write(data)
            fh.flush()
            del data
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CHILD, fh.name, name, fmt],
                capture_output=True,
                text=True,
                timeout=120,
            )
        wall = time.perf_counter() - start
        if out.returncode != 0:
            print(f"{label:42} FAILED\n{out.stderr}")
            ok = False
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        worst_s = max(worst_s, r["seconds"])
        worst_mb = max(worst_mb, r["peak_mb"])
        ok = ok and r["refused"] and r["seconds"] < 5 and r["peak_mb"] < 300
        print(
            f"{label:42} {r['size']:>10,} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f}  "
            f"{', '.join(r['codes'])} (process wall {wall:.1f} s)"
        )
    print(f"worst: {worst_s:.2f} s, {worst_mb:.0f} MB; target < 5 s and < 300 MB: "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
