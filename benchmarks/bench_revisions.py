"""One statistic evaluation on a shared dataset: this checkout against another revision,
in alternating processes (paired rounds: the machine's slow and fast phases hit both).

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_revisions.py f3b975f --case gc

The other revision is checked out in a temporary git worktree and imported from there
(``PYTHONPATH`` comes before the editable install's path); each side keeps its own PyTensor cache
under ``--cache`` (compiled once, in the first round). Each round runs each side in a
fresh process that times ``--calls`` calls of the value and of the value+gradient
(after a parameter change: ``bench_stat.py``'s calls) and prints their minimum, 10th
percentile and median in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {bench!r})
from bench_stat import _skyfit_calls
warnings.filterwarnings("ignore")
_, value, value_grad = _skyfit_calls({case!r}, "CVM")
out = {{}}
for key, fn in (("value", value), ("value_grad", value_grad)):
    fn(0)
    times = []
    for i in range({calls}):
        t0 = time.perf_counter()
        fn(i)
        times.append(1e3 * (time.perf_counter() - t0))
    out[key] = [float(np.min(times)), float(np.percentile(times, 10)),
                float(np.median(times))]
print(json.dumps(out))
"""


def _run(src: Path, cache: Path, case: str, calls: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src),
           "PYTENSOR_FLAGS": f"base_compiledir={cache}"}
    code = CHILD.format(bench=str(ROOT / "benchmarks"), case=case, calls=calls)
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the other revision (any git revision)")
    parser.add_argument("--case", default="gc", help="a bench_stat.py case")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the two PyTensor caches go")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "other"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach",
                        str(tree), args.revision], check=True)
        try:
            sides = {args.revision: tree / "src", "this checkout": ROOT / "src"}
            print(f"# bench_revisions: case={args.case}, calls={args.calls}, "
                  f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
                  "ms: min / p10 / median")
            for r in range(args.rounds):
                for label, src in sides.items():
                    cache = args.cache / ("pt-revisions-this" if src == ROOT / "src"
                                          else "pt-revisions-other")
                    got = _run(src, cache, args.case, args.calls)
                    v, vg = (" / ".join(f"{x:.3f}" for x in got[k])
                             for k in ("value", "value_grad"))
                    print(f"round {r + 1}  {label:<14} value {v}   value+grad {vg}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(tree)], check=False)


if __name__ == "__main__":
    main()
