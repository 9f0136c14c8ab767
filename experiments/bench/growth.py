"""Growth: time and peak memory of ``jaxdnn.fit`` as the examples m and the width grow.

The MNIST-shaped network ([784, 128, 64, 1], relu, sigmoid, float32, random data) trains by full
batch (seconds per iteration) and by minibatches of 256 (seconds per epoch) for m = 10^3 ... 10^6;
then [784, w, w, 1] at m = 10^4 for w = 64 ... 2048. Each point runs in its own process (with
``--isolate``), so its peak memory is its own: the resident set on a CPU (its rise over the RSS
before the data was made), the device's peak bytes on a GPU.

Time should grow linearly in m (slope 1 on log-log axes; the fit of the largest three m is stated)
and in the weights P. Memory is set against a model of what ``fit`` keeps:

    data (X, Y) + params + caches (Z and A of every layer over a batch: 2 sum_l n_l batch floats)
        + fit's working copies of X and Y (minibatches the one examples-first copy; full batch
          none, except where n_x > m: there X's examples-first copy, which its products read)

Beside the process's memory, each point states XLA's own account of one compiled chunk of
``train_steps`` (the program ``fit`` runs): its argument buffers (the data, params and state) and
its temporaries (caches, gradients, the examples-first copy). That account holds on every backend
and is free of the allocator's and the runtime's overheads that a resident set carries.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from experiments.bench import memory
from experiments.bench.configs import Config, num_weights

HIDDEN = (128, 64)
N_X = 784
BATCH = 256
LEARNING_RATE = 0.05
MS = (1_000, 10_000, 60_000, 100_000, 1_000_000)  # 60,000: MNIST's training set
WIDTHS = (64, 128, 256, 512, 1024, 2048)
WIDTH_M = 10_000
QUICK = {"ms": (256, 1024), "widths": (), "width_m": 512}  # a smoke test: 4 points
def fit_working_copies(dims, m: int, mode: str) -> int:
    """Copies of (X, Y) that ``fit`` makes beside the caller's: with minibatches the one
    examples-first working copy for the whole run; for full batch none, or one where the features
    outnumber the examples (jaxdnn.speed.examples_first_products)."""
    from jaxdnn.speed import examples_first_products

    return int(mode == "minibatch" or examples_first_products((dims[1], dims[0]), m))


def points(cfg: Config) -> list[dict]:
    ms = QUICK["ms"] if cfg.quick else MS
    widths = QUICK["widths"] if cfg.quick else WIDTHS
    width_m = QUICK["width_m"] if cfg.quick else WIDTH_M
    out = []
    for mode in ("full", "minibatch"):
        out += [{"axis": "m", "mode": mode, "m": m, "dims": (N_X, *HIDDEN, 1)} for m in ms]
        out += [{"axis": "width", "mode": mode, "m": width_m, "dims": (N_X, w, w, 1)}
                for w in widths]
    return out


def model_mib(dims, m: int, mode: str) -> dict:
    """The memory model's terms, MiB (float32)."""
    f = 4 / 2**20
    batch = BATCH if mode == "minibatch" else m
    data = (dims[0] + dims[-1]) * m * f
    params = (num_weights(dims) + sum(dims[1:])) * f
    caches = 2 * sum(dims[1:]) * batch * f
    copies = fit_working_copies(dims, m, mode) * data
    return {"data": data, "params": params, "caches": caches, "working_copies": copies,
            "total": data + params + caches + copies}


def xla_buffers_mib(params, X, Y, mode: str, n: int) -> dict | None:
    """XLA's account of one compiled chunk of ``train_steps`` as ``fit`` runs it, MiB: the argument
    buffers and the temporaries (None where the backend does not report it)."""
    import jax
    import jax.numpy as jnp

    import jaxdnn

    opt = jaxdnn.gradient_descent(LEARNING_RATE)
    config = jaxdnn.TrainConfig(("relu", "relu", "sigmoid"), opt.update, "manual",
                                BATCH if mode == "minibatch" else None)
    state = jaxdnn.TrainState(params, opt.init(params), jnp.zeros((), jnp.int32))

    def chunk(state, X, Y, key):  # as fit: the examples-first layout made inside the program
        return jaxdnn.train_steps(config, n, state, jaxdnn.examples_first(X, Y), key)

    try:
        mem = jax.jit(chunk).lower(state, X, Y, jax.random.key(2)).compile().memory_analysis()
    except Exception:  # noqa: BLE001 (a backend without the analysis: the column says n/a)
        return None
    if mem is None:
        return None
    f = 1 / 2**20
    return {"arguments": mem.argument_size_in_bytes * f, "temporaries": mem.temp_size_in_bytes * f,
            "total": (mem.argument_size_in_bytes + mem.temp_size_in_bytes) * f}


@functools.cache
def _make(dims: tuple, m: int):
    """``make(seed) -> (X, Y, params)``: a point's data made on the device, in one compiled call;
    compiled once per ``(dims, m)``, so the full-batch and minibatch points of a size share it."""
    import jax
    import jax.numpy as jnp

    import jaxdnn

    @jax.jit
    def make(seed):
        kx, ky, kp = jax.random.split(jax.random.key(seed), 3)
        X = jax.random.normal(kx, (dims[0], m), jnp.float32)  # (n_x, m)
        Y = (jax.random.uniform(ky, (1, m)) < 0.5).astype(jnp.float32)  # (1, m)
        return X, Y, jaxdnn.init_params(kp, dims, "he", dtype=jnp.float32)

    return make


def measure_point(cfg: Config, point: dict) -> dict:
    """Time and peak memory of one ``fit`` (full batch or one epoch) at one size."""
    import jax

    import jaxdnn

    dims, m, mode = tuple(point["dims"]), point["m"], point["mode"]
    rss_before = memory.rss_now_mib()

    X, Y, params = jax.block_until_ready(_make(dims, m)(0))
    rss_data = memory.rss_now_mib()
    # full batch: enough iterations for about 2e10 multiply-adds of the weights per call (at
    # least 1, at most 50): 18 at m = 10^4 for [784, 128, 64, 1], 1 from m = 10^5 or w = 1024
    # (--quick: at most 5, the smoke run's few iterations)
    n = int(np.clip(2e10 // (m * num_weights(dims)), 1, 5 if cfg.quick else 50)
            ) if mode == "full" else 1
    kwargs = {"batch_size": BATCH, "key": jax.random.key(2)} if mode == "minibatch" else {}

    def run():
        p, costs = jaxdnn.fit(params, X, Y, ("relu", "relu", "sigmoid"),
                              learning_rate=LEARNING_RATE, num_iterations=n, chunk_size=n,
                              progress=False, **kwargs)
        jax.block_until_ready((p, costs))
        return costs

    t0 = time.perf_counter()
    run()  # compile and warm up
    warm = time.perf_counter() - t0
    rss = memory.PeakRSS()
    rss.start()
    times = []
    for _ in range(2 if cfg.quick or m >= 1_000_000 else 3):
        t0 = time.perf_counter()
        costs = run()
        times.append(time.perf_counter() - t0)
    growth = rss.growth()
    dev = memory.device_memory_mib()
    measured = (dev["peak"] if dev is not None
                else rss_data - rss_before + growth)  # data + whatever fit's runs added
    return {**point, "dims": list(dims), "units": n, "seconds": float(np.min(times)) / n,
            "warmup_seconds": warm, "final_cost": float(costs[-1]),
            "memory_mib": measured, "memory_method": "device peak_bytes_in_use" if dev else
            "RSS after the data - RSS before + peak growth during the timed runs",
            "rss_data_mib": rss_data - rss_before, "rss_growth_mib": growth,
            "xla_mib": xla_buffers_mib(params, X, Y, mode, n),
            "model_mib": model_mib(dims, m, mode)}


def slope(x, y) -> float:
    """Least-squares slope of log y against log x (NaN where some y is not positive: a memory
    that did not rise above its start has no slope)."""
    if np.min(y) <= 0:
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def measure(cfg: Config, log, run_point=None) -> dict:
    """Every point (in-process, or by ``run_point(point, tag)`` in a child), and the slopes."""
    results = []
    for i, point in enumerate(points(cfg)):
        tag = f"growth{i}"
        got = run_point(point, tag) if run_point else measure_point(cfg, point)
        if got is None:
            results.append({**point, "status": "failed"})
            continue
        got["status"] = "ok"
        results.append(got)
        log(f"[growth] {point['mode']} {list(point['dims'])} m = {point['m']}: "
            f"{got['seconds']:.3g} s per {'iteration' if point['mode'] == 'full' else 'epoch'}, "
            f"memory {got['memory_mib']:.0f} MiB, XLA's buffers "
            f"{(got['xla_mib'] or {}).get('total', float('nan')):.0f} MiB "
            f"(model {got['model_mib']['total']:.0f})")
    slopes = {}
    for mode in ("full", "minibatch"):
        by_m = [r for r in results if r["axis"] == "m" and r["mode"] == mode
                and r["status"] == "ok"]
        by_w = [r for r in results if r["axis"] == "width" and r["mode"] == mode
                and r["status"] == "ok"]
        if len(by_m) >= 2:
            top = by_m[-3:]
            slopes[f"{mode}: time vs m, all"] = slope([r["m"] for r in by_m],
                                                      [r["seconds"] for r in by_m])
            slopes[f"{mode}: time vs m, largest {len(top)}"] = slope(
                [r["m"] for r in top], [r["seconds"] for r in top])
            slopes[f"{mode}: memory vs m, largest {len(top)}"] = slope(
                [r["m"] for r in top], [r["memory_mib"] for r in top])
            if all(r.get("xla_mib") for r in top):
                slopes[f"{mode}: XLA's buffers vs m, largest {len(top)}"] = slope(
                    [r["m"] for r in top], [r["xla_mib"]["total"] for r in top])
        if len(by_w) >= 2:
            top = by_w[-3:]
            slopes[f"{mode}: time vs weights P, largest {len(top)}"] = slope(
                [num_weights(r["dims"]) for r in top], [r["seconds"] for r in top])
    full = {r["m"]: r["seconds"] for r in results
            if r["axis"] == "m" and r["mode"] == "full" and r["status"] == "ok"}
    epoch_vs_full = {r["m"]: r["seconds"] / full[r["m"]] for r in results
                     if r["axis"] == "m" and r["mode"] == "minibatch" and r["status"] == "ok"
                     and r["m"] in full}
    failed = [r for r in results if r["status"] != "ok"]
    return {"problem": "growth", "points": results, "slopes": slopes, "batch_size": BATCH,
            "epoch_vs_full_batch": epoch_vs_full,
            "status": "ok" if len(failed) < len(results) else "failed",
            "reason": f"{len(failed)} points failed" if failed else None}


def plot(res: dict, path) -> None:
    """Time and memory against m, and time against the weights P, on log-log axes."""
    from experiments import common

    plt = common.plt
    ok = [r for r in res["points"] if r["status"] == "ok"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for mode, style in (("full", "o-"), ("minibatch", "s-")):
        unit = "iteration" if mode == "full" else "epoch"
        pts = [r for r in ok if r["axis"] == "m" and r["mode"] == mode]
        if pts:
            m = [r["m"] for r in pts]
            s = res["slopes"].get(f"{mode}: time vs m, largest {min(3, len(pts))}")
            label = f"{mode}: s / {unit}" + (f" (slope {s:.2f})" if s is not None else "")
            axes[0].loglog(m, [r["seconds"] for r in pts], style, label=label)
            axes[1].loglog(m, [r["memory_mib"] for r in pts], style, label=f"{mode}: measured")
            axes[1].loglog(m, [r["model_mib"]["total"] for r in pts], style[0] + ":",
                           label=f"{mode}: model")
            xla = [(r["m"], r["xla_mib"]["total"]) for r in pts if r.get("xla_mib")]
            if xla:
                axes[1].loglog(*zip(*xla), style[0] + "--", label=f"{mode}: XLA's buffers")
        pts = [r for r in ok if r["axis"] == "width" and r["mode"] == mode]
        if pts:
            P = [num_weights(r["dims"]) for r in pts]
            s = res["slopes"].get(f"{mode}: time vs weights P, largest {min(3, len(pts))}")
            axes[2].loglog(P, [r["seconds"] for r in pts], style,
                           label=f"{mode}: s / {unit}" + (f" (slope {s:.2f})" if s else ""))
    data = [r for r in ok if r["axis"] == "m" and r["mode"] == "full"]
    if data:
        axes[1].loglog([r["m"] for r in data],
                       [r["model_mib"]["data"] + r["model_mib"]["params"] for r in data], "k--",
                       label="data + params")
    axes[0].set(xlabel="examples m", ylabel="seconds",
                title=f"[{N_X}, {HIDDEN[0]}, {HIDDEN[1]}, 1]: time")
    axes[1].set(xlabel="examples m", ylabel="MiB", title="peak memory")
    axes[2].set(xlabel="weights P ([784, w, w, 1])", ylabel="seconds",
                title=f"width, m = {ok[-1]['m'] if ok else ''}")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
