"""Measuring: every peer on a problem, round-robin, beside the floor; one process per problem.

The parent (:func:`main`) starts a child process per problem (``--isolate``, the default), so that
each problem's peak memory is its own and a crash loses one problem, not the run; the child
(``--child SPEC``) measures and writes its result as JSON. ``--quick`` runs everything in-process.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from functools import partial

import numpy as np

from experiments import common
from experiments.bench import configs, floor, growth, memory, peers, report
from experiments.bench.configs import PEERS, Config

_PROJECT = pathlib.Path(__file__).resolve().parents[2]
_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"bench {time.perf_counter() - _T0:6.1f}s: {msg}", file=sys.stderr, flush=True)


def first_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def compare_curves(ref: np.ndarray, other: np.ndarray, rtol: float = 1e-4) -> dict:
    """How two cost curves of the same training agree: at the end, at worst, and until when."""
    rel = np.abs(other - ref) / np.maximum(np.abs(ref), 1e-30)
    apart = np.flatnonzero(rel > rtol)
    first = int(apart[0]) if apart.size else None
    before = rel if first is None else rel[:first]
    return {"final": float(rel[-1]), "max": float(rel.max()), "first_iteration_apart": first,
            "max_before_apart": float(before.max()) if before.size else 0.0}


def set_precision(cfg: Config) -> None:
    """float32 GEMMs in JAX as in PyTorch (JAX's default on GPUs that have it is TF32)."""
    import jax

    jax.config.update("jax_default_matmul_precision",
                      "tensorfloat32" if cfg.matmul_precision == "tf32" else "highest")


# ----------------------------------------------------------------------------------------------
# one problem


def measure_problem(name: str, cfg: Config) -> dict:
    """Time every selected peer on one problem, round-robin, beside the floor."""
    import jax

    prob = configs.problem(name, cfg)
    n = prob.iterations
    log(f"[{name}] layers {list(prob.dims)}, m = {prob.m}, batch {prob.batch_size or 'full'}, "
        f"{n} {prob.unit}s")
    load_before = loadavg()
    rss_base = memory.rss_now_mib()
    rss = memory.PeakRSS()
    X, Y, source = configs.make_data(prob)
    key = jax.random.key(0)
    params = configs.init_params(1, prob)
    orders = configs.shuffle_orders(key, n, prob.m) if prob.batch_size else None
    setup = peers.Setup(prob, X, Y, params, key, orders, cfg.quick, cfg.device,
                        cfg.torch_threads or cores(), cfg.matmul_precision)
    data_bytes = X.nbytes + Y.nbytes + sum(a.nbytes for p in setup.np_params for a in p.values())

    recs = {p: {"status": "skipped", "reason": "not selected by --peers"} for p in PEERS}
    runs, curves = {}, {}
    for peer in cfg.peers:
        try:
            run, warm_n = peers.PREPARE[peer](setup)
            rss.start()
            warm_s, _ = timed(partial(run, warm_n))
            recs[peer] = {"status": "ok", "warmup_units": warm_n, "warmup_seconds": warm_s,
                          "times": [], "final_costs": [], "peak_rss_mib": rss.segment(),
                          "rss_growth_mib": rss.growth()}
            runs[peer] = run
            log(f"[{name}] {peer}: warm-up ({warm_n} {prob.unit}s) {warm_s:.2f} s")
        except peers.Skip as e:
            recs[peer] = {"status": "skipped", "reason": str(e)}
            log(f"[{name}] {peer}: skipped: {e}")
        except Exception as e:  # noqa: BLE001 (a failing peer is reported, not fatal)
            recs[peer] = {"status": "failed", "reason": first_line(e)}
            log(f"[{name}] {peer}: FAILED: {traceback.format_exc()}")

    probes = floor.probes(prob, cfg.quick)
    floor.compile_probes(probes)
    probe_times: dict = {}
    for r in range(cfg.repeats):  # round-robin: a busy moment of the machine hits every peer
        for peer, run in list(runs.items()):
            rss.start()
            try:
                dt, costs = timed(partial(run, n))
                curve = peers.as_curve(costs)
            except Exception as e:  # noqa: BLE001
                recs[peer] = {"status": "failed", "reason": first_line(e)}
                runs.pop(peer)
                log(f"[{name}] {peer}: FAILED: {traceback.format_exc()}")
                continue
            rec = recs[peer]
            rec["times"].append(dt)
            rec["final_costs"].append(float(curve[-1]))
            rec["peak_rss_mib"] = max(rec["peak_rss_mib"], rss.segment())
            rec["rss_growth_mib"] = max(rec["rss_growth_mib"], rss.growth())
            curves[peer] = curve
        floor.time_probes(probes, probe_times)
        log(f"[{name}] round {r + 1}/{cfg.repeats}: " + ", ".join(
            f"{p} {recs[p]['times'][-1] / n:.3g}" for p in runs) + f" s/{prob.unit}")

    fl = floor.floor(prob, probes, probe_times)
    ok = {p: rec for p, rec in recs.items() if rec["status"] == "ok"}
    for p, rec in ok.items():
        per = np.asarray(rec["times"]) / n
        rec.update(seconds=float(np.median(per)), min_seconds=float(per.min()),
                   max_seconds=float(per.max()), final_cost=rec["final_costs"][-1],
                   deterministic=len(set(rec["final_costs"])) == 1, description=peers.DESCRIBE[p])
    fastest = min(ok, key=lambda p: ok[p]["seconds"]) if ok else None
    for rec in ok.values():
        rec["ratio_to_fastest"] = rec["seconds"] / ok[fastest]["seconds"]
        rec["ratio_to_floor"] = rec["seconds"] / fl["seconds"]
        rec["ratio_to_own_shapes_floor"] = rec["seconds"] / fl["own_shapes_seconds"]
        rec["compile_seconds"] = max(0.0, rec["warmup_seconds"]
                                     - rec["warmup_units"] * rec["seconds"])
    if "sklearn" in ok:
        ok["sklearn"]["same_init"] = bool(setup.info.get("sklearn_same_init"))
        ok["sklearn"]["dtype"] = setup.info.get("sklearn_dtype")

    reference = "jaxdnn-manual" if "jaxdnn-manual" in curves else "jax-scan-grad"
    agreement = {peer: compare_curves(curves[reference], curve)
                 for peer, curve in curves.items()
                 if reference in curves and peer != reference
                 and len(curve) == len(curves[reference])}
    rss.start()
    return {
        "problem": name, "layers": list(prob.dims), "activations": list(prob.activations),
        "m": prob.m, "batch_size": prob.batch_size, "unit": prob.unit, "iterations": n,
        "learning_rate": prob.learning_rate, "init": prob.init, "data": source,
        "dtype": "float32", "repeats": cfg.repeats, "peers": recs, "fastest": fastest,
        "floor": fl, "floor_probe_seconds": {k: float(np.min(v)) for k, v in probe_times.items()},
        "cost_reference": reference if reference in curves else None,
        "cost_agreement": agreement,
        "load_average": {"before": load_before, "after": loadavg()},
        "memory": {"data_params_mib": data_bytes / 2**20, "rss_before_data_mib": rss_base,
                   "peak_rss_mib": rss.total, "method": rss.method,
                   "device": memory.device_memory_mib()},
    }


def measure_sweep(cfg: Config) -> dict:
    """``cfg.sweep_models`` planar models in one program: ``jax.jit(jax.vmap(fit))`` over inits."""
    import jax
    import jax.numpy as jnp

    import jaxdnn

    prob = configs.problem("sweep", cfg)
    n, acts, M = prob.iterations, prob.activations, cfg.sweep_models
    log(f"[sweep] {M} planar models, {n} iterations")
    load_before = loadavg()
    rss_base = memory.rss_now_mib()
    rss = memory.PeakRSS()
    Xn, Yn, source = configs.make_data(prob)
    X, Y = jnp.asarray(Xn), jnp.asarray(Yn)

    @jax.jit
    def inits(seed):  # one compiled call: eagerly, every split and draw would compile on its own
        keys = jax.random.split(jax.random.key(seed), M)
        return jax.vmap(lambda k: jaxdnn.init_params(k, prob.dims, prob.init))(keys)

    batch = inits(0)
    single = jax.device_put(jax.tree.map(lambda a: np.asarray(a)[0], batch))  # model 0

    def train(p, X, Y):
        return jaxdnn.fit(p, X, Y, acts, learning_rate=prob.learning_rate, num_iterations=n,
                          progress=False)

    sweep = jax.jit(jax.vmap(train, in_axes=(0, None, None)))

    def run_sweep():
        params, costs = sweep(batch, X, Y)
        jax.block_until_ready(params)
        return costs

    def run_single():
        params, costs = jaxdnn.fit(single, X, Y, acts, learning_rate=prob.learning_rate,
                                   num_iterations=n, chunk_size=n, progress=False)
        jax.block_until_ready(params)
        return costs

    warm_sweep, costs = timed(run_sweep)
    _, costs1 = timed(run_single)
    sweep_peak = rss.segment()
    probes = floor.probes(prob, cfg.quick)
    floor.compile_probes(probes)
    t_sweep, t_single, probe_times = [], [], {}
    for r in range(cfg.repeats):
        rss.start()
        t_sweep.append(timed(run_sweep)[0])
        sweep_peak = max(sweep_peak, rss.segment())
        t_single.append(timed(run_single)[0])
        floor.time_probes(probes, probe_times)
        log(f"[sweep] round {r + 1}/{cfg.repeats}: {t_sweep[-1] / (M * n):.3g} s per "
            f"model-iteration, one model {t_single[-1] / n:.3g} s/iteration")
    fl = floor.floor(prob, probes, probe_times)
    per_model_it = float(np.median(t_sweep)) / (M * n)
    single_it = float(np.median(t_single)) / n
    costs, costs1 = np.asarray(costs), np.asarray(costs1)
    return {
        "problem": "sweep", "layers": list(prob.dims), "activations": list(acts), "m": prob.m,
        "models": M, "iterations": n, "learning_rate": prob.learning_rate, "init": prob.init,
        "data": source, "dtype": "float32", "repeats": cfg.repeats,
        "seconds_per_model_iteration": per_model_it,
        "single_model_seconds": single_it, "ratio_to_single": per_model_it / single_it,
        "ratio_to_floor": per_model_it / fl["seconds"], "floor": fl,
        "seconds_per_call": float(np.median(t_sweep)), "times": t_sweep, "single_times": t_single,
        "compile_seconds": max(0.0, warm_sweep - float(np.median(t_sweep))),
        "model0_matches_single_fit": bool(np.allclose(costs[0], costs1, rtol=1e-4, atol=0)),
        "final_cost_min_median_max": [float(costs[:, -1].min()), float(np.median(costs[:, -1])),
                                      float(costs[:, -1].max())],
        "load_average": {"before": load_before, "after": loadavg()},
        "memory": {"data_params_mib": (Xn.nbytes + Yn.nbytes + sum(
            a.nbytes for a in jax.tree.leaves(batch))) / 2**20,
            "rss_before_data_mib": rss_base, "peak_rss_mib": sweep_peak, "method": rss.method},
    }


# ----------------------------------------------------------------------------------------------
# the machine, the child process, the parent


_ENV_VARS = ("JAX_PLATFORMS", "XLA_FLAGS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "MKL_NUM_THREADS", "TORCHINDUCTOR_COMPILE_THREADS")


def machine(cfg: Config) -> dict:
    """What ran the benchmark: CPU model, cores, versions, devices."""
    import jax
    import jaxlib

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    versions = {"python": sys.version.split()[0], "jax": jax.__version__,
                "jaxlib": jaxlib.__version__, "numpy": np.__version__}
    for mod in ("torch", "sklearn", "optax"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    torch_device = cfg.device
    try:
        import torch

        if cfg.device == "cuda" and torch.cuda.is_available():
            torch_device = f"cuda: {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    dev = jax.devices()[0]
    return {
        "cpu": cpu, "cores": cores(), "platform": platform.platform(),
        "backend": jax.default_backend(), "device": f"{dev.platform}: {dev.device_kind}",
        "torch_device": torch_device, "versions": versions,
        "torch_threads": cfg.torch_threads or cores(), "matmul_precision": cfg.matmul_precision,
        "environment": {k: os.environ[k] for k in _ENV_VARS if k in os.environ},
    }


def measure(cfg: Config, names) -> dict:
    """Measure the problems ``names`` in this process: ``{"machine", "problems"}``."""
    set_precision(cfg)
    out = {"machine": machine(cfg), "problems": {}}
    try:  # import before measuring, so that import memory is not charged to a problem
        import sklearn.neural_network  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        pass
    for name in names:
        t0 = time.perf_counter()
        try:
            if name == "sweep":
                res = measure_sweep(cfg)
            elif name == "growth":
                res = growth.measure(cfg, log)
            else:
                res = measure_problem(name, cfg)
        except Exception as e:  # noqa: BLE001
            log(f"[{name}] FAILED: {traceback.format_exc()}")
            res = {"problem": name, "status": "failed", "reason": first_line(e)}
        res.setdefault("status", "ok")
        res["wall_seconds"] = time.perf_counter() - t0
        out["problems"][name] = res
    return out


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_PROJECT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # compile in-process: no idle workers
    return env


def run_child(cfg: Config, spec: dict, tmp: pathlib.Path, tag: str) -> dict | None:
    """Run ``python -m experiments.bench --child SPEC`` with ``cfg``'s options; its JSON or None."""
    spec_path, result_path = tmp / f"spec-{tag}.json", tmp / f"result-{tag}.json"
    spec_path.write_text(json.dumps({**spec, "result": str(result_path)}))
    child_cfg = dataclasses.replace(cfg, child=str(spec_path))
    cmd = [sys.executable, "-m", "experiments.bench", *argv(child_cfg)]
    proc = subprocess.run(cmd, env=child_env(), cwd=str(_PROJECT))
    if proc.returncode != 0 or not result_path.exists():
        log(f"child {tag} exited with status {proc.returncode}")
        return None
    return json.loads(result_path.read_text())


def child(cfg: Config) -> None:
    """The child process: measure what the spec file names and write the result there."""
    spec = json.loads(pathlib.Path(cfg.child).read_text())
    if "growth_point" in spec:
        set_precision(cfg)
        got = growth.measure_point(cfg, spec["growth_point"])
    else:
        got = measure(cfg, spec["problems"])
    pathlib.Path(spec["result"]).write_text(json.dumps(common.to_jsonable(got)))


def argv(cfg: Config) -> list[str]:
    """``cfg`` as command-line options."""
    out = []
    for f in dataclasses.fields(Config):
        v = getattr(cfg, f.name)
        if v is None:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(v, bool):
            out.append(flag if v else "--no-" + f.name.replace("_", "-"))
        elif isinstance(v, tuple):
            out += [flag, ",".join(v)]
        else:
            out += [flag, str(v)]
    return out


QUICK_XLA_FLAG = "--xla_backend_optimization_level=0"
"""--quick compiles without LLVM's optimisations: the same XLA programs (same fusions, same
numbers), about a third less compile time, slower code; a smoke run's times are not measurements."""


def quick_compiles(cfg: Config) -> None:
    """Under ``--quick``, add :data:`QUICK_XLA_FLAG` to ``XLA_FLAGS`` (read when JAX's backend
    starts, so before any JAX work) unless the caller set an optimisation level."""
    flags = os.environ.get("XLA_FLAGS", "")
    if cfg.quick and "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {QUICK_XLA_FLAG}".strip()


def main(argv_=None) -> dict:
    """Run the benchmark; write ``OUT/NAME.json`` and ``OUT/NAME.md``; return the result."""
    cfg = common.parse_config(Config, argv_, doc=sys.modules["experiments.bench"].__doc__,
                              prog="python -m experiments.bench")
    quick_compiles(cfg)
    if cfg.child:
        child(cfg)
        return {}
    t0 = time.perf_counter()
    out_dir = common.output_dir(cfg.out)
    if cfg.isolate:
        got = {"machine": None, "problems": {}}
        with tempfile.TemporaryDirectory(prefix="jaxdnn-bench-") as tmp:
            for name in cfg.configs:
                if name == "growth":  # one child per point: its own peak memory
                    got["problems"][name] = growth.measure(
                        cfg, log, run_point=lambda point, tag: run_child(
                            cfg, {"growth_point": point}, pathlib.Path(tmp), tag))
                    continue
                res = run_child(cfg, {"problems": [name]}, pathlib.Path(tmp), name)
                if res is None:
                    got["problems"][name] = {"problem": name, "status": "failed",
                                             "reason": "the child process failed (see its log)"}
                    continue
                got["machine"] = got["machine"] or res["machine"]
                got["problems"].update(res["problems"])
        if got["machine"] is None:
            set_precision(cfg)
            got["machine"] = machine(cfg)
    else:
        got = measure(cfg, cfg.configs)
    name = cfg.name or got["machine"]["backend"]
    result = {
        "name": name, "question": report.QUESTION,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m experiments.bench " + " ".join(
            argv_ if argv_ is not None else sys.argv[1:]),
        "config": common.config_dict(cfg), "machine": got["machine"],
        "problems": {p: got["problems"].get(p, {"problem": p, "status": "failed",
                                                "reason": "no result"}) for p in cfg.configs},
        "wall_seconds": time.perf_counter() - t0,
    }
    if "growth" in result["problems"] and result["problems"]["growth"].get("status") == "ok":
        growth.plot(result["problems"]["growth"], out_dir / f"{name}-growth.png")
        result["problems"]["growth"]["plot"] = f"{name}-growth.png"
    common.write_json(out_dir / f"{name}.json", result)
    md = report.markdown(result)
    (out_dir / f"{name}.md").write_text(md + "\n")
    print(md, flush=True)
    return result
