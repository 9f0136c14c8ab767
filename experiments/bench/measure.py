"""One problem measured in this process: every peer round-robin beside the floor and the peak
memory; the vmapped sweep; fit's host overhead per call; a bitwise resume. The floor of an
iteration (epoch) is max(GEMM time, transcendental time): the GEMMs' ``6 m P`` FLOPs at the best
rate ``jnp.dot`` reached, or (own shapes) one program of the ``3 L - 1`` GEMMs of an update at the
problem's width; a tanh per tanh unit and example, ``2 n_L`` (sigmoid) or ``n_L + 1`` (softmax)
exp-likes per example at the measured rates; each rate its probe's fastest round."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import sys
import tempfile
import time
import traceback
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import jaxdnn
from experiments.bench import peers, problems
from jaxdnn import checkpoint

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"bench {time.perf_counter() - _T0:6.1f}s: {msg}", file=sys.stderr, flush=True)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def rss_mib(peak: bool = False, reset: bool = False) -> float:
    """Linux's resident set now (VmRSS), or its peak (VmHWM) since a ``reset``, MiB."""
    with open("/proc/self/status") as f:
        got = next(int(ln.split()[1]) / 1024 for ln in f if ln.startswith(
            "VmHWM:" if peak else "VmRSS:"))
    if reset:  # writing 5 to clear_refs resets the peak
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    return got


def device_peak_mib() -> float | None:
    """Peak bytes in use on JAX's first device (MiB), where its backend says (GPUs)."""
    stats = jax.devices()[0].memory_stats() or {}
    return stats["peak_bytes_in_use"] / 2**20 if "peak_bytes_in_use" in stats else None


def machine(cfg) -> dict:
    """What ran the benchmark: CPU, cores, device, versions, the environment's settings."""
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":")[1].strip() for ln in f if ln.startswith("model name")), "?")
    versions = {"python": platform.python_version()}
    for mod in ("jax", "jaxlib", "numpy", "optax", "torch", "sklearn"):
        with contextlib.suppress(ImportError):
            versions[mod] = __import__(mod).__version__
    return {"cpu": cpu, "cores": os.cpu_count(), "backend": jax.default_backend(),
            "device": f"jax: {jax.devices()[0].device_kind}, torch: {cfg.device}",
            "versions": versions, "environment": {k: v for k, v in os.environ.items() if k in (
                "JAX_PLATFORMS", "XLA_FLAGS", "OMP_NUM_THREADS", "TORCHINDUCTOR_COMPILE_THREADS")}}


def run(cfg, name: str) -> tuple[dict, dict]:
    """``(machine, result)`` of one problem (not growth); a failure is a result with a reason."""
    jax.config.update("jax_default_matmul_precision", "highest")  # float32 GEMMs, as PyTorch's
    for mod in ("torch", "sklearn.neural_network"):  # imported before the problem's memory counts
        with contextlib.suppress(ImportError):
            __import__(mod)
    t0 = time.perf_counter()
    try:
        fn = {"sweep": sweep, "overhead": overhead, "resume": resume}.get(name)
        res = {"status": "ok", **(fn(cfg) if fn else measure_problem(name, cfg))}
    except Exception as e:  # noqa: BLE001 (a problem that fails is reported, not fatal)
        log(f"[{name}] FAILED: {traceback.format_exc()}")
        res = {"status": "failed", "reason": f"{type(e).__name__}: {e}"[:300]}
    return machine(cfg), {"problem": name, **res, "wall_seconds": time.perf_counter() - t0}


def floor(prob, quick: bool) -> dict:
    """The floors in seconds per iteration (epoch), from probes of this machine (each the
    fastest of 5 calls or of 0.5 s): GEMMs (work in FLOPs) and transcendentals (in elements)."""
    rs = np.random.RandomState(1)  # host random numbers: no compilation per shape
    normal = lambda *shape: jax.device_put(rs.standard_normal(shape).astype(np.float32))
    probes = {f"gemm {n}^3": (2.0 * n**3, partial(jax.jit(jnp.dot), normal(n, n), normal(n, n)))
              for n in ((256,) if quick else (512, 1024, 2048))}
    dims, width, m = prob.dims, prob.batch_size or prob.m, prob.m
    Ws = [normal(b, a) for a, b in zip(dims[:-1], dims[1:])]  # (n_l, n_{l-1})
    As = [normal(a, width) for a in dims[:-1]]  # A_prev: (n_{l-1}, width)
    dZs = [normal(b, width) for b in dims[1:]]  # dZ: (n_l, width)
    own = jax.jit(lambda Ws, As, dZs: (  # the 3 L - 1 GEMMs of one update, as the course's
        [W @ A for W, A in zip(Ws, As)],  # Z = W A_prev
        [dZ @ A.T for A, dZ in zip(As, dZs)],  # dW = dZ A_prev^T
        [W.T @ dZ for W, dZ in zip(Ws[1:], dZs[1:])]))  # dA_prev = W^T dZ, not for layer 1
    flops = 6.0 * width * problems.num_weights(dims) - 2.0 * width * dims[0] * dims[1]
    x = jax.device_put(np.linspace(-4, 4, 2**18 if quick else 2**22, dtype=np.float32))
    probes.update({"gemm own shapes": (flops, partial(own, Ws, As, dZs)),
                   "tanh": (x.size, partial(jax.jit(jnp.tanh), x)),
                   "exp": (x.size, partial(jax.jit(jnp.exp), x))})
    rates = {}
    for k, (work, fn) in probes.items():
        got, _ = [], jax.block_until_ready(fn())  # compiled before the clock starts
        while len(got) < 5 and sum(got) <= 0.5:
            got.append(timed(lambda f=fn: jax.block_until_ready(f()))[0])
        rates[k] = work / min(got)
    gemm = {k: v for k, v in rates.items() if k.startswith("gemm")}
    best = max(gemm, key=gemm.get)
    tanh = m * sum(n for n, g in zip(dims[1:-1], prob.activations[:-1]) if g == "tanh")
    exps = m * (dims[-1] + 1 if prob.output == "softmax" else 2 * dims[-1])
    elementwise = tanh / rates["tanh"] + exps / rates["exp"]
    gemm_s = 6.0 * m * problems.num_weights(dims) / gemm[best]
    own = flops / rates["gemm own shapes"] * m / width  # one update's GEMMs, per epoch
    return {"seconds": max(gemm_s, elementwise), "gemm_seconds": gemm_s,
            "bound": "gemm" if gemm_s >= elementwise else "elementwise",
            "elementwise_seconds": elementwise, "own_shapes_seconds": max(own, elementwise),
            "gemm_flops_per_s": gemm, "best_gemm": best, "tanh_per_s": rates["tanh"],
            "exp_per_s": rates["exp"]}


def measure_problem(name: str, cfg) -> dict:
    """Every selected peer on one problem: warmed up, then timed round-robin beside the floor."""
    prob = problems.problem(name, cfg)
    n, unit = prob.iterations, "epoch" if prob.batch_size else "iteration"
    log(f"[{name}] {list(prob.dims)}, m = {prob.m}, batch {prob.batch_size}, {n} {unit}s")
    rss_before, (X, Y, source) = rss_mib(), problems.make_data(prob)
    key, params = jax.random.key(0), problems.init_params(1, prob)
    orders = problems.shuffle_orders(key, n, prob.m) if prob.batch_size else None
    setup = peers.Setup(prob, X, Y, params, key, orders, cfg)
    recs = {p: {"status": "skipped", "reason": "not selected by --peers"} for p in problems.PEERS}
    runs, curves = {}, {}
    rss_mib(peak=True, reset=True)
    for peer in cfg.peers:
        try:
            run_peer, warm_n = peers.PREPARE[peer](setup)
            warm = timed(run_peer, warm_n)[0]
            runs[peer], recs[peer] = run_peer, {"status": "ok", "warmup": (warm, warm_n),
                                                "times": []}
            log(f"[{name}] {peer}: warm-up ({warm_n} {unit}s) {warm:.2f} s")
        except Exception as e:  # noqa: BLE001 (a peer that cannot run is reported, not fatal)
            skip = isinstance(e, peers.Skip)
            recs[peer] = {"status": "skipped" if skip else "failed", "reason": str(e)[:300]}
            log(f"[{name}] {peer}: {e if skip else traceback.format_exc()}")
    for r in range(cfg.repeats):  # round-robin: a busy moment of the machine hits every peer
        for peer, run_peer in runs.items():
            dt, costs = timed(run_peer, n)
            curves[peer] = np.array([float(c) for c in costs] if isinstance(costs, list) else
                                    costs, float).ravel()  # fetched after the clock stopped
            recs[peer]["times"].append(dt / n)
        log(f"[{name}] round {r + 1}: " + ", ".join(f"{p} {recs[p]['times'][-1]:.3g}"
                                                     for p in runs) + f" s/{unit}")
    peak, fl, ok = rss_mib(peak=True), floor(prob, cfg.quick), {p: recs[p] for p in runs}
    for p, rec in ok.items():
        s = float(np.median(rec["times"]))
        rec.update(seconds=s, final_cost=curves[p][-1], ratio_to_floor=s / fl["seconds"],
                   ratio_to_own_shapes_floor=s / fl["own_shapes_seconds"],
                   compile_seconds=max(0.0, rec["warmup"][0] - rec["warmup"][1] * s))
    fastest = min(ok, key=lambda p: ok[p]["seconds"], default=None)
    for rec in ok.values():
        rec["ratio_to_fastest"] = rec["seconds"] / ok[fastest]["seconds"]
    ref = "jaxdnn-manual" if "jaxdnn-manual" in curves else "jax-scan-grad"
    return {**dataclasses.asdict(prob), "activations": prob.activations, "unit": unit,
            "data": source, "repeats": cfg.repeats, "peers": recs, "fastest": fastest,
            "floor": fl, "cost_reference": ref,
            "cost_agreement": {  # each curve's largest relative difference from the reference's
                p: float(np.max(np.abs(c - curves[ref]) / np.abs(curves[ref])))
                for p, c in curves.items() if p != ref and ref in curves},
            "memory": {"data_params_mib": (X.nbytes + Y.nbytes + sum(
                a.nbytes for p in params for a in p.values())) / 2**20,
                "rss_before_data_mib": rss_before, "device_peak_mib": device_peak_mib(),
                "peak_rss_mib": peak},
            "load_average": os.getloadavg()}


def sweep(cfg) -> dict:
    """1024 planar models in one program, ``jax.jit(jax.vmap(fit))`` over initial params, beside
    one ``fit`` of the same length."""
    prob, M = problems.problem("sweep", cfg), 1024
    n, acts, lr = prob.iterations, prob.activations, prob.learning_rate
    log(f"[sweep] {M} planar models, {n} iterations")
    X, Y, source = problems.make_data(prob)
    X, Y, keys = jax.device_put(X), jax.device_put(Y), jax.random.split(jax.random.key(0), M)
    inits = jax.jit(jax.vmap(lambda k: jaxdnn.init_params(k, prob.dims, prob.init)))(keys)
    train = lambda p, X, Y: jaxdnn.fit(p, X, Y, acts, learning_rate=lr, num_iterations=n,
                                       chunk_size=n, progress=False)[1]
    swept = jax.jit(jax.vmap(train, in_axes=(0, None, None)))
    single = jax.tree.map(lambda a: a[0], inits)  # model 0
    first, costs = timed(lambda: np.asarray(swept(inits, X, Y)))
    same = np.allclose(costs[0], train(single, X, Y), rtol=1e-4, atol=0)
    t_sweep, t_single = [], []
    for _ in range(cfg.repeats):
        t_sweep.append(timed(lambda: jax.block_until_ready(swept(inits, X, Y)))[0] / (M * n))
        t_single.append(timed(lambda: jax.block_until_ready(train(single, X, Y)))[0] / n)
    fl, per_model, one = floor(prob, cfg.quick), np.median(t_sweep), np.median(t_single)
    return {**dataclasses.asdict(prob), "models": M, "data": source,
            "seconds_per_model_iteration": per_model, "single_model_seconds": one,
            "ratio_to_single": per_model / one, "ratio_to_floor": per_model / fl["seconds"],
            "floor": fl, "compile_seconds": first - per_model * M * n,
            "model0_matches_single_fit": bool(same), "final_costs_min_median_max": [
                costs[:, -1].min(), np.median(costs[:, -1]), costs[:, -1].max()]}


def overhead(cfg) -> dict:
    """``fit`` per call against a jitted ``train_steps`` per call, the same iterations of a tiny
    problem: what fit's host work (checks, copies, the round trip) costs a call."""
    prob = problems.problem("overhead", cfg)
    n, acts, calls = prob.iterations, prob.activations, 20 if cfg.quick else 200
    X, Y, params = jax.device_put((*problems.make_data(prob)[:2], problems.init_params(1, prob)))
    opt = jaxdnn.gradient_descent(prob.learning_rate)
    state = jaxdnn.TrainState(params, opt.init(params), jnp.int32(0))
    steps = partial(jax.jit(jaxdnn.train_steps, static_argnums=(0, 1)), jaxdnn.TrainConfig(
        acts, opt.update), n, state, jaxdnn.examples_first(X, Y), jax.random.key(0))
    fit = partial(jaxdnn.fit, params, X, Y, acts, learning_rate=prob.learning_rate,
                  num_iterations=n, chunk_size=n, progress=False)
    same = np.array_equal(fit()[1], steps()[1].costs)  # and both compiled
    t_fit, t_steps = [], []
    for _ in range(cfg.repeats):  # calls one after another, as a loop of fits would make them
        t_fit.append(timed(lambda: [jax.block_until_ready(fit()) for _ in range(calls)])[0])
        t_steps.append(timed(lambda: [jax.block_until_ready(steps()) for _ in range(calls)])[0])
    fit_s, steps_s = np.median(t_fit) / calls, np.median(t_steps) / calls
    log(f"[overhead] fit {fit_s:.3g} s, train_steps {steps_s:.3g} s per call")
    return {**dataclasses.asdict(prob), "calls": calls, "fit_seconds_per_call": fit_s,
            "train_steps_seconds_per_call": steps_s, "ratio": fit_s / steps_s,
            "host_overhead_seconds": fit_s - steps_s, "same_costs": bool(same)}


def resume(cfg) -> dict:
    """``fit`` with ``checkpoint_dir`` cut after half its epochs and resumed, against the same
    run uncut: bitwise equal? The cut leaves the folder as a kill right after that checkpoint
    would (the later one removed); the resumed call reads only that folder."""
    prob = problems.problem("resume", cfg)
    n, half = prob.iterations, max(prob.iterations // 2, 1)
    X, Y, params = jax.device_put((*problems.make_data(prob)[:2], problems.init_params(1, prob)))
    fit = partial(jaxdnn.fit, params, X, Y, prob.activations, learning_rate=prob.learning_rate,
                  num_iterations=n, batch_size=prob.batch_size, key=jax.random.key(0),
                  progress=False, checkpoint_every=half)
    with tempfile.TemporaryDirectory(prefix="jaxdnn-bench-") as tmp:
        whole, _ = fit(checkpoint_dir=f"{tmp}/whole"), fit(checkpoint_dir=f"{tmp}/cut")
        checkpoint.checkpoint_path(f"{tmp}/cut", n).unlink()  # as if killed after `half`
        cut = checkpoint.load(checkpoint.latest_checkpoint(f"{tmp}/cut")).iteration
        pairs = list(zip(*map(jax.tree.leaves, (whole, fit(checkpoint_dir=f"{tmp}/cut")))))
    log(f"[resume] cut after epoch {cut} of {n}, resumed")
    return {**dataclasses.asdict(prob), "cut_after": cut,
            "bitwise_equal": all(np.array_equal(a, b) for a, b in pairs),
            "max_abs_difference": max(float(np.max(np.abs(a - b))) for a, b in pairs),
            "xla_flags": os.environ.get("XLA_FLAGS", "")}
