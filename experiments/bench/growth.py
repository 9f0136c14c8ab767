"""Growth: time and peak memory of ``fit`` for [784, 128, 64, 1], full batch and minibatches of
256, as m goes from 10^3 to 10^6, and for [784, w, w, 1] as w goes from 64 to 2048 (m = 10^4), each
point in a process of its own; memory set against a model (data + params + caches of Z, A of each
layer over a batch + fit's working copies) and against XLA's account of the compiled chunk. A
minibatch point also times a run's later epochs (two epochs a call, less one): the first epoch of
a run also makes its examples-first copy of X."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

import jaxdnn
from experiments.bench.measure import device_peak_mib, rss_mib, timed
from experiments.bench.problems import num_weights

BATCH, LR, ACTS = 256, 0.05, ("relu", "relu", "sigmoid")


def points(cfg) -> list[dict]:
    ms, widths, width_m = ((256, 1024), (), 512) if cfg.quick else (
        (1_000, 10_000, 60_000, 100_000, 1_000_000), (64, 128, 256, 512, 1024, 2048), 10_000)
    return [{"axis": axis, "mode": mode, "m": m, "dims": dims, "P": num_weights(dims)}
            for mode in ("full", "minibatch")
            for axis, m, dims in [("m", m, (784, 128, 64, 1)) for m in ms]
            + [("width", width_m, (784, w, w, 1)) for w in widths]]


def model_mib(dims, m: int, mode: str) -> dict:
    """The memory model's terms, MiB (float32)."""
    data, batch = (dims[0] + dims[-1]) * m * 4 / 2**20, BATCH if mode == "minibatch" else m
    copies = data * (mode == "minibatch")  # fit's one examples-first copy of X, minibatches only
    terms = {"data": data, "params": (num_weights(dims) + sum(dims[1:])) * 4 / 2**20,
             "caches": 2 * sum(dims[1:]) * batch * 4 / 2**20, "working_copies": copies}
    return {**terms, "total": sum(terms.values())}


@functools.partial(jax.jit, static_argnums=(0, 1))
def make(dims: tuple, m: int):
    """A point's data and params, on the device in one compiled call (once per size)."""
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    X = jax.random.normal(kx, (dims[0], m), jnp.float32)  # (n_x, m)
    Y = (jax.random.uniform(ky, (1, m)) < 0.5).astype(jnp.float32)  # (1, m)
    return X, Y, jaxdnn.init_params(kp, dims, "he", dtype=jnp.float32)


def measure_point(cfg, point: dict) -> dict:
    """Time and peak memory of one ``fit`` (n full-batch iterations, or one epoch) at one size."""
    dims, m, mode = point["dims"], point["m"], point["mode"]
    rss_before = rss_mib()
    X, Y, params = jax.block_until_ready(make(dims, m))
    rss_data, batch = rss_mib() - rss_before, BATCH if mode == "minibatch" else None
    # full batch: about 2e10 multiply-adds a call, 1 to 50 iterations (--quick: at most 5)
    n = 1 if batch else int(np.clip(2e10 // (m * point["P"]), 1, 5 if cfg.quick else 50))
    fit = lambda n=n: jax.block_until_ready(jaxdnn.fit(
        params, X, Y, ACTS, learning_rate=LR, num_iterations=n, chunk_size=n, progress=False,
        batch_size=batch, key=jax.random.key(2)))[1]
    warm, costs = timed(fit)  # compiled and warmed up
    rss_start = rss_mib(reset=True)
    repeats = 2 if cfg.quick or m >= 1_000_000 else 3
    times = [timed(fit)[0] / n for _ in range(repeats)]
    growth, device = max(0.0, rss_mib(peak=True) - rss_start), device_peak_mib()
    later = None
    if batch:  # a run's later epochs: two epochs a call less one (the examples-first copy of X
        fit(2)  # and the call are made once per run, not per epoch)
        later = min(timed(fit, 2)[0] for _ in range(repeats)) - min(times)
    opt = jaxdnn.gradient_descent(LR)  # XLA's account of the chunk fit runs, layout included
    chunk = lambda state, X, Y, key: jaxdnn.train_steps(jaxdnn.TrainConfig(
        ACTS, opt.update, "manual", batch), n, state, jaxdnn.examples_first(X, Y), key)
    mem = jax.jit(chunk).lower(jaxdnn.TrainState(params, opt.init(params), jnp.int32(0)), X, Y,
                               jax.random.key(2)).compile().memory_analysis()
    return {**point, "units": n, "seconds": min(times), "warmup_seconds": warm,
            "later_epoch_seconds": later,
            "final_cost": float(costs[-1]), "rss_data_mib": rss_data, "rss_growth_mib": growth,
            "memory_mib": device if device is not None else rss_data + growth,
            "model_mib": model_mib(dims, m, mode), "xla_mib": (mem.argument_size_in_bytes
                                                               + mem.temp_size_in_bytes) / 2**20}


def slope(x, y) -> float:
    """Least-squares slope of log y against log x (NaN where some y is not positive)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0]) if np.all(np.array(y) > 0) else np.nan


def measure(cfg, run_point, log) -> dict:
    """Every point, each by ``run_point(point)`` (None: it failed), and the fitted slopes."""
    results = []
    for p in points(cfg):
        got = run_point(p)
        results.append({**p, "status": "failed"} if got is None else {**got, "status": "ok"})
        log(f"[growth] {p['mode']} {p['dims']} m = {p['m']}: {got and got['seconds']} s")
    ok, slopes = [r for r in results if r["status"] == "ok"], {}
    for mode in ("full", "minibatch"):
        by_m = [r for r in ok if r["axis"] == "m" and r["mode"] == mode]
        top, by_w = by_m[-3:], [r for r in ok if r["axis"] == "width" and r["mode"] == mode][-3:]
        for what, rows, x, y in [("time vs m, all", by_m, "m", "seconds"),
                                 (f"time vs m, largest {len(top)}", top, "m", "seconds"),
                                 (f"memory vs m, largest {len(top)}", top, "m", "memory_mib"),
                                 (f"XLA's buffers vs m, largest {len(top)}", top, "m", "xla_mib"),
                                 (f"time vs weights P, largest {len(by_w)}", by_w, "P", "seconds")]:
            if len(rows) >= 2:
                slopes[f"{mode}: {what}"] = slope([r[x] for r in rows], [r[y] for r in rows])
    full = {r["m"]: r["seconds"] for r in ok if r["axis"] == "m" and r["mode"] == "full"}
    return {"points": results, "slopes": slopes, "batch_size": BATCH,
            "status": "ok" if ok else "failed", "reason": f"{len(results) - len(ok)} failed",
            **{key: {r["m"]: r[what] / full[r["m"]] for r in ok if r["axis"] == "m"
                     and r["mode"] == "minibatch" and r["m"] in full}
               for key, what in (("epoch_vs_full_batch", "seconds"),
                                 ("later_epoch_vs_full_batch", "later_epoch_seconds"))}}


def plot(res: dict, path, quick: bool = False) -> None:
    """Time and memory against m, and time against the weights P, on log-log axes (``quick``: at
    30 dpi, as laid out: smoke output)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for mode, style in (("full", "o-"), ("minibatch", "s-")):
        pts = [r for r in res["points"] if r["status"] == "ok" and r["mode"] == mode]
        for ax, axis, ys, line, label in [
                (0, "m", "seconds", style, "s / iteration (epoch)"),
                (1, "m", "memory_mib", style, "measured"), (1, "m", "xla_mib", style[0] + "--",
                                                            "XLA's buffers"),
                (1, "m", "model", style[0] + ":", "model"), (2, "width", "seconds", style, "s")]:
            got = [r for r in pts if r["axis"] == axis]
            s = res["slopes"].get(f"{mode}: time vs {'weights P' if ax == 2 else 'm'}, largest 3")
            axes[ax].loglog([r["P" if ax == 2 else "m"] for r in got], [
                r["model_mib"]["total"] if ys == "model" else r[ys] for r in got], line,
                label=f"{mode}: {label}" + (f" (slope {s:.2f})" if s and ys == "seconds" else ""))
    for ax, x, y, title in zip(axes, ("examples m", "examples m", "weights P ([784, w, w, 1])"),
                               ("seconds", "MiB", "seconds"), ("time", "peak memory", "width")):
        ax.set(xlabel=x, ylabel=y, title=title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if not quick:
        fig.tight_layout()
    fig.savefig(path, dpi=30 if quick else 100)
    plt.close(fig)
