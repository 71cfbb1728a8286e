"""The JAX backend against the C backend: value+gradient and a short NUTS run, CPU and GPU.

Run from the repository root (one command; a GPU is used where ``jax.devices()`` has one)::

    OMP_NUM_THREADS=1 PYTENSOR_FLAGS=base_compiledir=/tmp/pt-benchjax \\
        .venv/bin/python benchmarks/bench_jax.py [--cases crab gc] [--backends c jax-cpu jax-gpu]

Backends: ``c`` is PyTensor's C backend (mode ``"CVM"``, skyfit's default); ``jax-cpu``
and ``jax-gpu`` compile the same graph with ``mode="JAX"``, with JAX's default device set
to the CPU or to the first GPU (``jax-gpu`` is left out where JAX sees none). Cases:
``crab`` (``fermi-3fhl-crab`` with ``Fermi-LAT-3FHL_models_priors.yaml``: 4 free
parameters, priors) and ``gc`` (``fermi-3fhl-gc`` with its model file as stored: 43 free
parameters, 10 point sources and 3 disks with free positions).

For each case and backend it prints the compile time (the first value+gradient call), the
median time of one value+gradient call at slightly changed parameters, the ratio of the C
backend's median to it, and the largest relative difference from the C backend of the
value and of the gradient components at two parameter points (``rel``: ``|a - b| /
max(|b|, 1e-12 max|b|)``, so that components which cancel to ~0 do not divide by zero).
The acceptance threshold is 1e-6 in float64.

NUTS: numpyro's NUTS kernel on the PyMC model skyfit builds
(:func:`skyfit.bayes.build_model`; its potential compiled by PyTensor's JAX backend, as
``skyfit.bayes.sample(..., sampler="numpyro")`` does), one chain from the stored values,
on each JAX device with the same seed, one jitted transition per step (numpyro's own
``MCMC`` recompiles its loop on every run, so its wall time mixes compilation and
sampling). Printed: the set-up and compile time (the first transition), the sampling time
of the others (warm-up adaptation included), the leapfrog steps (one gradient each), the
time per step, and the largest relative difference of the kept draws from jax-cpu's (NUTS
trajectories are chaotic: a round-off difference can grow into another tree after many
steps, so a large value there is not by itself an error; the value+gradient columns are
the precision check). The Galactic-centre parameters get uniform priors around their
stored values (index +-1, positions +-0.1 deg, norm [0.5, 2]), for the timing only.

Without the C backend (``--backends jax-cpu jax-gpu``, e.g. on a machine without a C
compiler), the values are compared with ``--reference`` (default
``benchmarks/results/jax_reference.json``, written by ``--write-reference`` from a run
with the C backend). ``--json PATH`` writes everything measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("SKYFIT_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
REFERENCE = HERE / "results" / "jax_reference.json"
CASES = {
    "crab": ("fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits",
             "fermi-3fhl-crab/Fermi-LAT-3FHL_models_priors.yaml", "Fermi-LAT"),
    "gc": ("fermi-3fhl-gc/fermi-3fhl-gc.fits.gz", "fermi-3fhl-gc/fermi-3fhl-gc_models.yaml",
           "fermi-3fhl-gc"),
}
# tune, draws, max tree depth of the NUTS runs (the GC ones are short: on a CPU one
# gradient costs ~0.1-0.3 s there)
NUTS = {"crab": (200, 200, 10), "gc": (20, 20, 4)}
BACKENDS = ("c", "jax-cpu", "jax-gpu")


def load(case):
    from skyfit.datasets import MapDataset
    from skyfit.models import Models

    fits, yaml, name = CASES[case]
    return MapDataset.read(DATA / fits, name=name), Models.read(DATA / yaml)


def rel(a, b) -> float:
    """Largest relative difference of ``a`` from ``b``, components near 0 floored."""
    a, b = np.atleast_1d(np.asarray(a, float)), np.atleast_1d(np.asarray(b, float))
    scale = np.maximum(np.abs(b), max(1e-12 * np.abs(b).max(), 1e-300))
    return float(np.max(np.abs(a - b) / scale))


def devices() -> dict:
    """JAX devices by backend name: ``jax-cpu`` always, ``jax-gpu`` where there is one."""
    import jax

    out = {"jax-cpu": jax.devices("cpu")[0]}
    try:
        out["jax-gpu"] = jax.devices("gpu")[0]
    except RuntimeError:  # no GPU backend: CPU fallback only
        pass
    return out


def _device(backend):
    """Context manager placing JAX work on the backend's device (nothing for ``c``)."""
    import contextlib

    if backend == "c":
        return contextlib.nullcontext()
    import jax

    return jax.default_device(devices()[backend])


def bench_value_grad(case, backend, repeat) -> dict:
    """Compile and time value+gradient; the numbers at two points for the comparison."""
    from skyfit.forward import Likelihood

    ds, models = load(case)
    with _device(backend):
        t0 = time.perf_counter()
        like = Likelihood([ds], models, mode="CVM" if backend == "c" else "JAX")
        build = time.perf_counter() - t0
        theta = like.current_theta()
        t0 = time.perf_counter()
        like.value_and_grad(theta)
        compile_s = time.perf_counter() - t0
        points = [theta, theta * (1 + 1e-5 * np.cos(np.arange(theta.size)))]
        numbers = [like.value_and_grad(p) for p in points]
        times = []
        for i in range(repeat):
            t0 = time.perf_counter()
            like.value_and_grad(theta * (1 + 1e-7 * (i + 1)))
            times.append(time.perf_counter() - t0)
    return {"n_free": like.n_free, "build_s": build, "compile_s": compile_s,
            "value_grad_s": statistics.median(times),
            "values": [float(v) for v, _ in numbers],
            "grads": [np.asarray(g).tolist() for _, g in numbers]}


def nuts_model(case):
    """The case's PyMC model, with priors for the timing where the file gives none."""
    from skyfit.bayes import build_model

    ds, models = load(case)
    for par in models.parameters:
        if par.frozen or par.prior is not None:
            continue
        if par.name in ("lon_0", "lat_0"):
            par.min, par.max = par.value - 0.1, par.value + 0.1
        elif par.name == "index":
            par.min, par.max = par.value - 1.0, par.value + 1.0
        elif par.name == "norm":
            par.min, par.max = 0.5 * par.value, 2.0 * par.value
    return build_model([ds], models)


def bench_nuts(case, backend, tune, draws, depth, seed=1) -> dict:
    """numpyro's NUTS kernel on the JAX-compiled potential, one jitted transition per step.

    ``init_s``: the kernel's set-up and the compilation of its transition (its first
    call); ``sample_s``: the other ``tune + draws - 1`` transitions, adaptation included.
    """
    import jax
    from numpyro.infer import NUTS
    from pymc.initial_point import make_initial_point_fn
    from pymc.sampling.jax import get_jaxified_logp

    from skyfit.forward import jax_ops  # noqa: F401  (JAX versions of skyfit's ops)

    bm = nuts_model(case)
    model = bm.model
    start = make_initial_point_fn(
        model=model, overrides={model[k]: v for k, v in bm.start_dict().items()},
        jitter_rvs=set(), return_transformed=True)(seed)
    init = [np.asarray(start[v.name]) for v in model.value_vars]
    with _device(backend):
        t0 = time.perf_counter()
        potential = get_jaxified_logp(model, negative_logp=False)  # -log p, as pymc does
        kernel = NUTS(potential_fn=potential, target_accept_prob=0.8, max_tree_depth=depth)
        state = kernel.init(jax.random.PRNGKey(seed), tune, init, (), {})
        step = jax.jit(lambda s: kernel.sample(s, (), {}))
        state = step(state)
        steps = int(state.num_steps)
        init_s = time.perf_counter() - t0
        t0, kept, sample_steps = time.perf_counter(), [], 0
        for i in range(1, tune + draws):
            state = step(state)
            sample_steps += int(state.num_steps)  # waits for the transition
            if i >= tune:
                kept.append(np.concatenate([np.ravel(z) for z in state.z]))
        sample_s = time.perf_counter() - t0
    return {"n_free": len(init), "tune": tune, "draws": draws, "max_tree_depth": depth,
            "init_s": init_s, "sample_s": sample_s, "steps": steps + sample_steps,
            "per_step_s": sample_s / max(sample_steps, 1), "draws_z": np.stack(kept).tolist()}


def compare(results, reference) -> None:
    """Relative differences from the C backend (or the reference file), and from jax-cpu."""
    for case, per_backend in results.items():
        ref = per_backend.get("c", {}).get("vg") or reference.get(case)
        cpu = per_backend.get("jax-cpu", {}).get("vg")
        for backend, r in per_backend.items():
            vg = r.get("vg")
            if not vg or backend == "c":
                continue
            if ref:
                vg["rel_value"] = _max_rel(vg["values"], ref["values"])
                vg["rel_grad"] = _max_rel(vg["grads"], ref["grads"])
                vg["compared_with"] = "c" if "c" in per_backend else "reference file"
            if cpu and backend != "jax-cpu":
                vg["rel_jax_cpu"] = max(_max_rel(vg["values"], cpu["values"]),
                                        _max_rel(vg["grads"], cpu["grads"]))


def _max_rel(a, b) -> float:
    return max(rel(x, y) for x, y in zip(a, b, strict=True))


def _commit() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE,
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def report(results) -> None:
    print(f"\n{'case':<5}{'backend':>9}{'free':>5}{'compile s':>11}{'val+grad ms':>13}"
          f"{'C / this':>10}{'rel value':>11}{'rel grad':>10}{'vs jax-cpu':>12}")
    for case, per_backend in results.items():
        c_time = per_backend.get("c", {}).get("vg", {}).get("value_grad_s")
        for backend, r in per_backend.items():
            vg = r.get("vg")
            if vg is None:
                print(f"{case:<5}{backend:>9}  {r.get('error', 'not run')}")
                continue
            ratio = c_time / vg["value_grad_s"] if c_time else float("nan")
            print(f"{case:<5}{backend:>9}{vg['n_free']:>5}{vg['compile_s']:>11.2f}"
                  f"{1e3 * vg['value_grad_s']:>13.3f}{ratio:>10.2f}"
                  f"{vg.get('rel_value', float('nan')):>11.1e}"
                  f"{vg.get('rel_grad', float('nan')):>10.1e}"
                  f"{vg.get('rel_jax_cpu', float('nan')):>12.1e}")
    print("rel: largest relative difference from the C backend (or the reference file), "
          "values and gradients at two points; vs jax-cpu: the same from the JAX CPU "
          "backend of this run (value and gradient); goal <= 1e-6")
    rows = [(case, b, r["nuts"]) for case, pb in results.items() for b, r in pb.items()
            if "nuts" in r]
    if not rows:
        return
    print(f"\n{'case':<5}{'backend':>9}{'tune+draws':>11}{'depth':>6}{'init+compile s':>15}"
          f"{'sampling s':>11}{'steps':>7}{'ms/step':>9}{'draws vs jax-cpu':>17}")
    for case, backend, n in rows:
        if "error" in n:
            print(f"{case:<5}{backend:>9}  {n['error']}")
            continue
        other = results[case].get("jax-cpu", {}).get("nuts", {})
        diff = (rel(n["draws_z"], other["draws_z"])
                if backend != "jax-cpu" and "draws_z" in other else float("nan"))
        print(f"{case:<5}{backend:>9}{n['tune']:>5}+{n['draws']:<5}{n['max_tree_depth']:>6}"
              f"{n['init_s']:>15.1f}{n['sample_s']:>11.1f}{n['steps']:>7}"
              f"{1e3 * n['per_step_s']:>9.2f}{diff:>17.1e}")
    print("sampling: all transitions after the first (warm-up included); steps: leapfrog "
          "steps (one gradient each); ms/step: sampling time per step; draws vs jax-cpu: "
          "largest relative difference of the kept draws (unconstrained) from jax-cpu's, "
          "same seed")


def measure(cases=tuple(CASES), backends=BACKENDS, repeat=20, nuts=None, no_nuts=False,
            reference=REFERENCE, save=None) -> dict:
    """Value+gradient on every backend, then NUTS on every JAX device, per case; compared.

    ``backends`` not available here (``jax-gpu`` without a GPU) are left out; ``nuts``:
    (tune, draws, depth) for every case (default :data:`NUTS` per case); ``reference``: the
    file the values are compared with when ``c`` is not run; ``save(results)`` is called
    after every step (a run cut short keeps what it measured). Returns ``{case: {backend:
    {"vg": ..., "nuts": ...}}}`` (or ``"error"``), with the relative differences of
    :func:`compare` in each ``vg``; JSON-ready.
    """
    import jax

    available = {"c", *devices()}
    backends = [b for b in backends if b in available]
    print(f"# bench_jax: jax {jax.__version__} devices {jax.devices()}; backends {backends}; "
          f"repeat {repeat} (medians); {platform.node()} ({os.cpu_count()} CPUs)",
          flush=True)
    results = {}
    save = save or (lambda results: None)
    for case in cases:  # value+gradient on every backend, then NUTS on every device
        results[case] = {backend: {} for backend in backends}
        for backend, r in results[case].items():
            try:
                r["vg"] = bench_value_grad(case, backend, repeat)
                print(f"{case} {backend}: compile {r['vg']['compile_s']:.1f} s, value+grad "
                      f"{1e3 * r['vg']['value_grad_s']:.3f} ms", flush=True)
            except Exception as exc:  # reported; the other backends go on
                r["error"] = f"{type(exc).__name__}: {exc}"[:300]
                print(f"{case} {backend}: {r['error']}", flush=True)
            save(results)
        for backend, r in results[case].items():
            if backend == "c" or no_nuts:
                continue
            try:
                r["nuts"] = bench_nuts(case, backend, *(nuts or NUTS[case]))
                print(f"{case} {backend}: NUTS init+compile {r['nuts']['init_s']:.1f} s, "
                      f"sampling {r['nuts']['sample_s']:.1f} s ({r['nuts']['steps']} steps)",
                      flush=True)
            except Exception as exc:  # reported
                r["nuts"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                print(f"{case} {backend} NUTS: {r['nuts']['error']}", flush=True)
            save(results)
    ref = json.loads(reference.read_text()) if reference and reference.exists() else {}
    if "c" not in backends and ref:
        print(f"\nvalues compared with {reference} (made at commit "
              f"{ref.get('commit', '?')}; this checkout: {_commit()}): a forward "
              "model changed since gives differences of its own")
    compare(results, ref)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-nuts", action="store_true", help="value+gradient only")
    parser.add_argument("--nuts", nargs=3, type=int, metavar=("TUNE", "DRAWS", "DEPTH"),
                        help="NUTS settings for every case (default: per case)")
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--write-reference", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    def save(results):  # after every step, so that a run cut short keeps what it measured
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=1))

    results = measure(args.cases, args.backends, args.repeat, args.nuts, args.no_nuts,
                      args.reference, save)
    report(results)
    if args.write_reference:
        ref = {case: {k: pb["c"]["vg"][k] for k in ("values", "grads")}
               for case, pb in results.items() if "vg" in pb.get("c", {})}
        ref["commit"] = _commit()
        args.write_reference.parent.mkdir(parents=True, exist_ok=True)
        args.write_reference.write_text(json.dumps(ref, indent=1))
    save(results)


if __name__ == "__main__":
    main()
