"""One problem in this process: every peer round-robin beside the floor and the peak memory; a
vmapped sweep; fit's host overhead a call; a bitwise resume; bfloat16 mixed precision. The floor
of an iteration (epoch) is max(GEMM time, transcendental time): ``6 m P`` FLOPs at the best GEMM
rate measured, or (own shapes) the ``3 L - 1`` GEMMs of an update in one program; a tanh per tanh
unit and example and ``2 n_L`` (sigmoid) or ``n_L + 1`` (softmax) exp-likes per example at the
measured rates."""

from __future__ import annotations

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
from jaxdnn.checks import check_problem

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"bench {time.perf_counter() - _T0:6.1f}s: {msg}", file=sys.stderr, flush=True)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def rounds(repeats: int, *fns):
    """``fns`` called in turn (blocked on) for ``repeats`` rounds, so that a busy moment of the
    machine hits them all: the seconds of each, a list per round, and its last results. Each round
    runs them in a new order (a seeded shuffle): a BLAS or OpenMP thread pool still spinning after
    one peer slows whichever runs next, and in a fixed cycle that would always be the same one."""
    times, outs = [[] for _ in fns], [None] * len(fns)
    order = np.random.default_rng(0)
    for _ in range(repeats):
        for i in order.permutation(len(fns)):
            t, outs[i] = timed(lambda f=fns[i]: jax.block_until_ready(f()))
            times[i].append(t)
    return times, outs


def rss_mib(peak: bool = False, reset: bool = False) -> float:
    """Linux's resident set now (VmRSS), or its peak (VmHWM) since a ``reset``, MiB."""
    with open("/proc/self/status") as f:
        got = next(int(ln.split()[1]) / 1024 for ln in f if ln.startswith(
            "VmHWM:" if peak else "VmRSS:"))
    if reset:  # writing 5 to clear_refs resets the peak, where the kernel allows it
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass  # the peak then counts from the process's start
    return got


def device_peak_mib() -> float | None:
    """Peak bytes in use on JAX's first device (MiB), where its backend says (GPUs)."""
    stats = jax.devices()[0].memory_stats() or {}
    return round(stats["peak_bytes_in_use"] / 2**20) if "peak_bytes_in_use" in stats else None


def machine(cfg) -> dict:
    """What ran the benchmark: CPU, cores, device, versions, the environment's settings."""
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":")[1].strip() for ln in f if ln.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "backend": jax.default_backend(),
            "device": f"jax: {jax.devices()[0].device_kind}, torch: {cfg.device}",
            "versions": {"python": platform.python_version(), **{  # of the packages it used
                m: sys.modules[m].__version__ for m in ("jax", "numpy", "optax", "torch",
                                                        "sklearn") if m in sys.modules}},
            "environment": {k: v for k, v in os.environ.items() if k in (
                "JAX_PLATFORMS", "XLA_FLAGS", "OMP_NUM_THREADS", "TORCHINDUCTOR_COMPILE_THREADS")}}


def run(cfg, name: str) -> tuple[dict, dict]:
    """``(machine, result)`` of one problem (not growth); a failure is a result with a reason."""
    jax.config.update("jax_default_matmul_precision", "highest")  # float32 GEMMs, as PyTorch's
    t0 = time.perf_counter()
    try:
        fn = {"sweep": sweep, "overhead": overhead, "resume": resume, "mixed": mixed}.get(
            name, measure_problem)
        res = {"status": "ok", **fn(cfg, name)}
    except Exception as e:  # noqa: BLE001 (a problem that fails is reported, not fatal)
        log(f"[{name}] FAILED: {traceback.format_exc()}")
        res = {"status": "failed", "reason": f"{type(e).__name__}: {e}"[:300]}
    log(f"[{name}] {res['status']} in {time.perf_counter() - t0:.0f} s" + "".join(
        f"; {k} {v:.1f} s" for k, v in res.get("phase_seconds", {}).items()))
    return machine(cfg), {"problem": name, **res, "wall_seconds": time.perf_counter() - t0}


def probe_rates(probes: dict) -> dict:
    """Work per second of each ``name: (work, fn)`` probe, the fastest of up to 5 calls."""
    rates = {}
    for k, (work, fn) in probes.items():
        got, _ = [], jax.block_until_ready(fn())  # compiled before the clock starts
        while len(got) < 5 and sum(got) <= 0.5:
            got.append(timed(lambda f=fn: jax.block_until_ready(f()))[0])
        rates[k] = work / min(got)
    return rates


_MACHINE_RATES = {}  # quick: the square GEMMs', tanh's and exp's rates, once per process


def floor(prob, quick: bool) -> dict:
    """The floors in seconds per iteration (epoch), from probes each the fastest of 5 calls."""
    rs = np.random.RandomState(1)  # host random numbers: no compilation per shape
    normal = lambda *shape: jax.device_put(rs.standard_normal(shape).astype(np.float32))
    if quick not in _MACHINE_RATES:  # the machine's, not the problem's: measured once
        x = jax.device_put(np.linspace(-4, 4, 2**18 if quick else 2**22, dtype=np.float32))
        _MACHINE_RATES[quick] = probe_rates({
            **{f"gemm {n}^3": (2.0 * n**3, partial(jax.jit(jnp.dot), normal(n, n), normal(n, n)))
               for n in ((256,) if quick else (512, 1024, 2048))},
            "tanh": (x.size, partial(jax.jit(jnp.tanh), x)),
            "exp": (x.size, partial(jax.jit(jnp.exp), x))})
    dims, width, m = prob.dims, prob.batch_size or prob.m, prob.m
    Ws = [normal(b, a) for a, b in zip(dims[:-1], dims[1:])]  # (n_l, n_{l-1})
    As = [normal(a, width) for a in dims[:-1]]  # A_prev: (n_{l-1}, width)
    dZs = [normal(b, width) for b in dims[1:]]  # dZ: (n_l, width)
    own = jax.jit(lambda Ws, As, dZs: (  # the 3 L - 1 GEMMs of one update, as the course's
        [W @ A for W, A in zip(Ws, As)],  # Z = W A_prev
        [dZ @ A.T for A, dZ in zip(As, dZs)],  # dW = dZ A_prev^T
        [W.T @ dZ for W, dZ in zip(Ws[1:], dZs[1:])]))  # dA_prev = W^T dZ, not for layer 1
    flops = 6.0 * width * problems.num_weights(dims) - 2.0 * width * dims[0] * dims[1]
    rates = {**_MACHINE_RATES[quick],
             **probe_rates({"gemm own shapes": (flops, partial(own, Ws, As, dZs))})}
    gemm = {k: v for k, v in rates.items() if k.startswith("gemm")}
    best = max(gemm, key=gemm.get)
    tanh = m * sum(n for n, g in zip(dims[1:-1], prob.activations[:-1]) if g == "tanh")
    exps = m * (dims[-1] + 1 if prob.output == "softmax" else 2 * dims[-1])
    elementwise = tanh / rates["tanh"] + exps / rates["exp"]
    gemm_s = 6.0 * m * problems.num_weights(dims) / gemm[best]
    own = flops / rates["gemm own shapes"] * m / width  # one update's GEMMs, per epoch
    return {"seconds": max(gemm_s, elementwise), "gemm_seconds": gemm_s, "rates": rates,
            "bound": "gemm" if gemm_s >= elementwise else "elementwise", "best_gemm": best,
            "elementwise_seconds": elementwise, "own_shapes_seconds": max(own, elementwise)}


def on_device(prob):
    """``(X, Y, params)`` of ``prob`` on JAX's default device, in one explicit transfer."""
    return jax.device_put((*problems.make_data(prob)[:2], problems.init_params(1, prob)))


def measure_problem(cfg, name: str) -> dict:
    """Every selected peer on one problem: warmed up, then timed round-robin beside the floor."""
    prob = problems.problem(name, cfg)
    n, unit = prob.iterations, "epoch" if prob.batch_size else "iteration"
    rss_before, (data_s, (X, Y, source)) = rss_mib(), timed(problems.make_data, prob)
    key, params = jax.random.key(0), problems.init_params(1, prob)
    orders = problems.shuffle_orders(key, n, prob.m) if prob.batch_size else None
    setup = peers.Setup(prob, X, Y, params, key, orders, cfg)
    recs = {p: {"status": "skipped", "reason": "not selected by --peers"} for p in problems.PEERS}
    runs, curves, _ = {}, {}, rss_mib(peak=True, reset=True)
    for peer in cfg.peers:
        try:
            prepare, (run_peer, warm_n) = timed(peers.PREPARE[peer], setup)  # imports, copies
            warm = timed(run_peer, warm_n)[0]
            runs[peer], recs[peer] = run_peer, {"status": "ok", "warmup": [warm, warm_n],
                                                "prepare_seconds": prepare}
        except Exception as e:  # noqa: BLE001 (a peer that cannot run is reported, not fatal)
            recs[peer] = {"status": "skipped" if isinstance(e, peers.Skip) else "failed",
                          "reason": str(e)[:300], "traceback": traceback.format_exc()}
    rounds_s, (times, outs) = timed(rounds, cfg.repeats, *(partial(f, n) for f in runs.values()))
    for peer, t, costs in zip(runs, times, outs):
        recs[peer]["times"] = [x / n for x in t]
        curves[peer] = np.array([float(c) for c in costs] if isinstance(costs, list) else
                                costs, float).ravel()  # fetched after the clock stopped
    peak, (floor_s, fl) = rss_mib(peak=True), timed(floor, prob, cfg.quick)
    median = {p: float(np.median(recs[p]["times"])) for p in runs}
    fastest = min(median, key=median.get, default=None)
    for p, s in median.items():
        recs[p].update(seconds=s, final_cost=curves[p][-1], ratio_to_floor=s / fl["seconds"],
                       ratio_to_own_shapes_floor=s / fl["own_shapes_seconds"],
                       ratio_to_fastest=s / median[fastest],
                       compile_seconds=max(0.0, recs[p]["warmup"][0] - recs[p]["warmup"][1] * s))
    ref = "jaxdnn-manual" if "jaxdnn-manual" in curves else "jax-scan-grad"
    return {**dataclasses.asdict(prob), "activations": prob.activations, "unit": unit,
            "data": source, "repeats": cfg.repeats, "peers": recs, "fastest": fastest,
            "floor": fl, "cost_reference": ref,
            "cost_agreement": {  # each curve's largest relative difference from the reference's
                p: float(np.max(np.abs(c - curves[ref]) / np.abs(curves[ref])))
                for p, c in curves.items() if p != ref and ref in curves},
            "memory": {"peak_rss_mib": peak, "rss_before_data_mib": rss_before,
                       "device_peak_mib": device_peak_mib(),  # JAX's: since the process began
                       "own_process": cfg.isolate and not cfg.quick},
            "load_average": os.getloadavg(), "phase_seconds": {  # where the problem's time went
                "data": data_s, "rounds": rounds_s, "floor": floor_s, **{
                    f"{p} set-up and warm-up": r["prepare_seconds"] + r["warmup"][0]
                    for p, r in recs.items() if r["status"] == "ok"}}}


def sweep(cfg, name: str) -> dict:
    """1024 planar models in one program, ``jax.jit(jax.vmap(fit))`` over initial params, beside
    one ``fit`` of the same length."""
    prob, M = problems.problem(name, cfg), 1024
    n, acts, lr = prob.iterations, prob.activations, prob.learning_rate
    X, Y, source = problems.make_data(prob)
    X, Y, keys = jax.device_put(X), jax.device_put(Y), jax.random.split(jax.random.key(0), M)
    inits = jax.jit(jax.vmap(lambda k: jaxdnn.init_params(k, prob.dims, prob.init)))(keys)
    train = lambda p, X, Y: jaxdnn.fit(p, X, Y, acts, learning_rate=lr, num_iterations=n,
                                       chunk_size=n, progress=False)[1]
    swept = jax.jit(jax.vmap(train, in_axes=(0, None, None)))
    single = jax.tree.map(lambda a: a[0], inits)  # model 0
    first, costs = timed(lambda: np.asarray(swept(inits, X, Y)))
    same = np.allclose(costs[0], train(single, X, Y), rtol=1e-4, atol=0)
    (t_sweep, t_one), _ = rounds(cfg.repeats, partial(swept, inits, X, Y),
                                 partial(train, single, X, Y))
    fl, per_model, one = floor(prob, cfg.quick), np.median(t_sweep) / (M * n), np.median(t_one) / n
    return {**dataclasses.asdict(prob), "models": M, "data": source,
            "seconds_per_model_iteration": per_model, "single_model_seconds": one,
            "ratio_to_single": per_model / one, "ratio_to_floor": per_model / fl["seconds"],
            "floor": fl, "compile_seconds": first - per_model * M * n,
            "model0_matches_single_fit": bool(same), "final_cost_median": np.median(costs[:, -1])}


def overhead(cfg, name: str) -> dict:
    """``fit`` per call against a jitted ``train_steps`` per call, the same iterations of a tiny
    problem: what fit's host work (checks, copies, the round trip) costs a call; and its parts:
    ``train_steps`` with the costs fetched to the host (as fit reads them), a new optimizer
    state (``optimizer.init``: fit makes one per call for an optimizer it is given, and its
    default gradient descent's once per learning rate) and the data checks (``check_problem``)."""
    prob = problems.problem(name, cfg)
    n, acts, calls, lr = prob.iterations, prob.activations, 20 if cfg.quick else 200, (
        prob.learning_rate)
    X, Y, params = on_device(prob)
    opt = jaxdnn.gradient_descent(lr)
    state = jaxdnn.TrainState(params, opt.init(params), jnp.int32(0))
    steps = partial(jax.jit(jaxdnn.train_steps, static_argnums=(0, 1)), jaxdnn.TrainConfig(
        acts, opt.update), n, state, jaxdnn.examples_first(X, Y), jax.random.key(0))
    fit = partial(jaxdnn.fit, params, X, Y, acts, learning_rate=lr, num_iterations=n,
                  chunk_size=n, progress=False)
    parts = {"fit": fit, "train_steps": steps,
             "train_steps, costs fetched": lambda: jax.device_get(steps()[1].costs),  # as fit
             "optimizer.init": lambda: jaxdnn.gradient_descent(lr).init(params),
             "check_problem": partial(check_problem, params, X, Y, acts)}
    same = np.array_equal(fit()[1], steps()[1].costs)  # and both compiled
    many = lambda f: lambda: [jax.block_until_ready(f()) for _ in range(calls)]  # back to back
    per_call = {k: float(np.median(t)) / calls
                for k, t in zip(parts, rounds(cfg.repeats, *map(many, parts.values()))[0])}
    fit_s, steps_s = per_call["fit"], per_call["train_steps"]
    return {**dataclasses.asdict(prob), "calls": calls, "fit_seconds_per_call": fit_s,
            "train_steps_seconds_per_call": steps_s, "ratio": fit_s / steps_s,
            "host_overhead_seconds": fit_s - steps_s, "same_costs": bool(same),
            **{f"seconds per call, {k}": v for k, v in per_call.items() if k not in (
                "fit", "train_steps")}}


def resume(cfg, name: str) -> dict:
    """``fit`` with ``checkpoint_dir`` cut after half its epochs and resumed, against the same
    run uncut: bitwise equal? The cut leaves the folder as a kill right after that checkpoint
    would (the later one removed); the resumed call reads only that folder."""
    prob = problems.problem(name, cfg)
    n, half = prob.iterations, max(prob.iterations // 2, 1)
    X, Y, params = on_device(prob)
    fit = partial(jaxdnn.fit, params, X, Y, prob.activations, learning_rate=prob.learning_rate,
                  num_iterations=n, batch_size=prob.batch_size, key=jax.random.key(0),
                  progress=False, checkpoint_every=half)
    with tempfile.TemporaryDirectory(prefix="jaxdnn-bench-") as tmp:
        whole, _ = fit(checkpoint_dir=f"{tmp}/whole"), fit(checkpoint_dir=f"{tmp}/cut")
        checkpoint.checkpoint_path(f"{tmp}/cut", n).unlink()  # as if killed after `half`
        cut = checkpoint.load(checkpoint.latest_checkpoint(f"{tmp}/cut")).iteration
        pairs = list(zip(*map(jax.tree.leaves, (whole, fit(checkpoint_dir=f"{tmp}/cut")))))
    return {**dataclasses.asdict(prob), "cut_after": cut, "xla_flags": os.environ.get("XLA_FLAGS"),
            "bitwise_equal": all(np.array_equal(a, b) for a, b in pairs)}


def mixed(cfg, name: str) -> dict:
    """``fit`` with bfloat16 products and activations (``compute_dtype``; float32 params and
    updates) against float32 products, the same network, data and full-batch iterations: the
    seconds per iteration of each, hand-derived and by ``jax.grad``, and their final costs."""
    prob = problems.problem(name, cfg)
    n = prob.iterations
    X, Y, params = on_device(prob)
    runs = {f"{g} {dt}": partial(jaxdnn.fit, params, X, Y, prob.activations, grad=g,
                                 learning_rate=prob.learning_rate, num_iterations=n,
                                 chunk_size=n, progress=False,
                                 compute_dtype=None if dt == "float32" else jnp.bfloat16)
            for g, dt in (("manual", "float32"), ("manual", "bfloat16"), ("autodiff", "bfloat16"))}
    first = {k: timed(lambda f=f: np.asarray(f()[1]))[0] for k, f in runs.items()}  # compiled
    times, outs = rounds(cfg.repeats, *(lambda f=f: f()[1] for f in runs.values()))
    seconds = {k: float(np.median(t)) / n for k, t in zip(runs, times)}
    final = {k: float(c[-1]) for k, c in zip(runs, outs)}
    ref, flat = final["manual float32"], {}  # flat keys: the Markdown shows plain figures
    for k in runs:
        flat.update({f"seconds per iteration, {k}": seconds[k], f"final cost, {k}": final[k],
                     f"compile seconds, {k}": first[k] - seconds[k] * n})
        if k != "manual float32":
            flat[f"final cost's relative difference from float32, {k}"] = abs(final[k] - ref) / ref
    return {**dataclasses.asdict(prob), **flat,
            "speedup of bfloat16 (manual)": seconds["manual float32"] / seconds["manual bfloat16"]}
