"""The course's vectorisation lesson, measured: explicit loops vs NumPy vs jax.vmap vs jax.jit.

Question: how much faster is the same computation written (a) as explicit Python loops, (b) as
vectorised NumPy, (c) per example with ``jax.vmap`` and (d) compiled whole with ``jax.jit``? Three
computations: the course's dot and outer products of two vectors; one forward + backward pass of
logistic regression over m examples (the course's "two for loops" and "one for loop" versions
against the vectorised one); and one forward + backward pass of the L-layer cat network. Each
timing is the median of several runs after a warm-up, with ``block_until_ready`` on JAX results;
every method's result is checked against vectorised NumPy.

    python -m experiments.vectorization
    python -m experiments.vectorization --n-dot 1000000 --repeats 7
    python -m experiments.vectorization --quick             # small sizes, a smoke test
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxdnn
from experiments.cli import option
from experiments.environment import environment
from experiments.plots import add_plot
from experiments.results import add_table, finish, start


@dataclasses.dataclass(frozen=True)
class Config:
    out: str = option("out/vectorization", "output folder")
    n_dot: int = option(1_000_000, "length of the vectors of the dot product")
    n_outer: int = option(1000, "length of the vectors of the outer product")
    n_x: int = option(12288, "features of the logistic-regression problem (cat images)")
    m: int = option(209, "examples (the cat training set's size)")
    layer_dims: tuple[int, ...] = option((12288, 20, 7, 5, 1), "the L-layer network")
    repeats: int = option(7, "timed runs of the fast methods (median reported)")
    loop_repeats: int = option(3, "timed runs of the explicit-loop methods")
    seed: int = option(0, "seed of the random data")
    quick: bool = option(False, "small sizes, a two-layer network, few repeats")

    # eager JAX compiles each op at each new shape: two layers are half the compiles of four
    QUICK: ClassVar[dict] = {"out": "out/quick/vectorization",
                             "n_dot": 20_000, "n_outer": 100, "n_x": 300, "m": 40,
                             "layer_dims": (300, 8, 1), "repeats": 3, "loop_repeats": 1}


QUESTION = ("How much faster than explicit Python loops are vectorised NumPy, jax.vmap and "
            "jax.jit, on the course's dot/outer products and on one forward + backward pass?")
F64 = jnp.float64


def _block(x):
    for leaf in jax.tree.leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


def timeit(fn, repeats: int, warmup: int = 1):
    """Median wall time of ``fn()`` over ``repeats`` runs, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        _block(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _block(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def blas_threads(n: int | None):
    """A context that runs NumPy's BLAS (OpenBLAS, MKL) on ``n`` threads; a no-op without
    threadpoolctl (a scikit-learn dependency) or for ``n=None``."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return contextlib.nullcontext() if n is None else threadpool_limits(n, user_api="blas")


def default_blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


def max_diff(a, b) -> float:
    la = [np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(a)]
    lb = [np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(b)]
    return max(float(np.max(np.abs(x - y))) for x, y in zip(la, lb))


# ----------------------------------------------------------------------------------------------
# logistic regression, forward + backward: the course's three versions and the JAX ones


def lr_two_loops(w, b, X, Y):
    """The course's "two for loops" version: over examples, then over features."""
    n_x, m = X.shape
    J, dw, db = 0.0, [0.0] * n_x, 0.0
    w_l, X_l, Y_l = w.ravel().tolist(), X.T.tolist(), Y.ravel().tolist()
    for i in range(m):
        x, z = X_l[i], b
        for j in range(n_x):
            z += w_l[j] * x[j]
        a = 1.0 / (1.0 + np.exp(-z))
        J += -(Y_l[i] * np.log(a) + (1 - Y_l[i]) * np.log(1 - a))
        dz = a - Y_l[i]
        for j in range(n_x):
            dw[j] += x[j] * dz
        db += dz
    return J / m, np.array(dw).reshape(n_x, 1) / m, db / m


def lr_one_loop(w, b, X, Y):
    """The course's "one for loop" version: over examples, vectorised over features."""
    n_x, m = X.shape
    J, dw, db = 0.0, np.zeros((n_x, 1)), 0.0
    for i in range(m):
        x = X[:, i:i + 1]  # (n_x, 1)
        a = 1.0 / (1.0 + np.exp(-(w.T @ x + b).item()))
        J += -(Y[0, i] * np.log(a) + (1 - Y[0, i]) * np.log(1 - a))
        dz = a - Y[0, i]
        dw += x * dz
        db += dz
    return J / m, dw / m, db / m


def lr_numpy(w, b, X, Y):
    """Vectorised NumPy: no loop."""
    m = X.shape[1]
    A = 1.0 / (1.0 + np.exp(-(w.T @ X + b)))  # (1, m)
    J = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m
    dZ = A - Y
    return J, X @ dZ.T / m, np.sum(dZ) / m


# ----------------------------------------------------------------------------------------------
# L-layer network, forward + backward in NumPy: per example, and vectorised


def deep_numpy(params, X, Y):
    """The course's vectorised L-layer forward and backward pass in NumPy (relu..., sigmoid)."""
    L, m = len(params), X.shape[1]
    A, caches = X, []
    for l, p in enumerate(params):
        Z = p["W"] @ A + p["b"]
        caches.append((A, Z))
        A = 1 / (1 + np.exp(-Z)) if l == L - 1 else np.maximum(Z, 0)
    J = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m
    dZ, grads = A - Y, [None] * L
    for l in reversed(range(L)):
        A_prev, _ = caches[l]
        grads[l] = {"W": dZ @ A_prev.T / m, "b": np.sum(dZ, axis=1, keepdims=True) / m}
        if l:
            dZ = (params[l]["W"].T @ dZ) * (caches[l - 1][1] > 0)
    return J, grads


def deep_loop(params, X, Y):
    """The same, one example at a time (a Python loop over the columns), summed."""
    m = X.shape[1]
    J_sum, g_sum = 0.0, None
    for i in range(m):
        J, g = deep_numpy(params, X[:, i:i + 1], Y[:, i:i + 1])
        J_sum += J
        g_sum = g if g_sum is None else jax.tree.map(np.add, g_sum, g)
    return J_sum / m, jax.tree.map(lambda x: x / m, g_sum)


def with_blas(n, fn, *args):
    with blas_threads(n):
        return fn(*args)


def per_example_vmap(params, X, Y, acts):
    """jax.vmap of the per-example cost and gradient over the columns, then the mean."""

    def one(x, y):  # x: (n_x,), y: (1,)
        return jax.value_and_grad(jaxdnn.cost)(params, x[:, None], y[:, None], acts)

    J, g = jax.vmap(one, in_axes=(1, 1))(X, Y)
    return jnp.mean(J), jax.tree.map(lambda t: jnp.mean(t, axis=0), g)


# ----------------------------------------------------------------------------------------------


def main(argv=None) -> dict:
    cfg, result = start("vectorization", Config, argv, __doc__, QUESTION)
    rs = np.random.RandomState(cfg.seed)
    sections = {}

    def section(key, title, methods, reference):
        """Time every (name, fn, repeats, warmup) and check it against ``reference``'s result."""
        ref_value = reference()
        rows = []
        for name, fn, repeats, warmup in methods:
            t = timeit(fn, repeats, warmup)
            rows.append({"method": name, "seconds": t, "max_abs_diff": max_diff(fn(), ref_value)})
        t_loop = rows[0]["seconds"]
        t_np = next(r["seconds"] for r in rows if r["method"].startswith("NumPy, vectorised"))
        sections[key] = {"title": title, "rows": rows}
        add_table(
            result, title, ("method", "median time", "speed-up vs the loop",
                     "time / vectorised NumPy", "max abs diff vs NumPy"),
            [(r["method"], f"{1e3 * r['seconds']:.3f} ms", f"{t_loop / r['seconds']:,.3g}x",
              f"{r['seconds'] / t_np:.3g}", f"{r['max_abs_diff']:.1e}") for r in rows])

    # NumPy's BLAS on one thread: its default threads spin against XLA's own thread pool and any
    # other load on the machine; one row below shows the default, and the note its measured ratio.
    n_blas = default_blas_threads()

    def measure_all():
        # 1. the course's dot and outer products
        a, b = rs.rand(cfg.n_dot), rs.rand(cfg.n_dot)
        a_l, b_l = a.tolist(), b.tolist()
        ja, jb = jnp.asarray(a, F64), jnp.asarray(b, F64)
        jdot = jax.jit(jnp.dot)
        vdot_jit = jax.jit(lambda x, y: jnp.sum(jax.vmap(jnp.multiply)(x, y)))

        def dot_loop():
            s = 0.0
            for i in range(cfg.n_dot):
                s += a_l[i] * b_l[i]
            return np.float64(s)

        section("dot", f"Dot product of two vectors of {cfg.n_dot:,} (float64)", [
            ("Python loop", dot_loop, cfg.loop_repeats, 0),
            ("NumPy, vectorised: np.dot", lambda: np.dot(a, b), cfg.repeats, 1),
            ("jax.vmap(multiply) then sum, jitted", lambda: vdot_jit(ja, jb), cfg.repeats, 1),
            ("jax.jit(jnp.dot)", lambda: jdot(ja, jb), cfg.repeats, 1),
        ], lambda: np.dot(a, b))

        u, v = rs.rand(cfg.n_outer), rs.rand(cfg.n_outer)
        u_l, v_l = u.tolist(), v.tolist()
        ju, jv = jnp.asarray(u, F64), jnp.asarray(v, F64)
        outer_vmap = jax.vmap(lambda ui, v: ui * v, in_axes=(0, None))  # one row per element of u
        outer_vmap_jit = jax.jit(outer_vmap)
        jouter = jax.jit(jnp.outer)

        def outer_loop():
            n = cfg.n_outer
            return np.array([[u_l[i] * v_l[j] for j in range(n)] for i in range(n)])

        section("outer", f"Outer product of two vectors of {cfg.n_outer:,} (float64)", [
            ("Python loops", outer_loop, cfg.loop_repeats, 0),
            ("NumPy, vectorised: np.outer", lambda: np.outer(u, v), cfg.repeats, 1),
            ("jax.vmap over rows, eager", lambda: outer_vmap(ju, jv), cfg.repeats, 1),
            ("jax.vmap over rows, jitted", lambda: outer_vmap_jit(ju, jv), cfg.repeats, 1),
            ("jax.jit(jnp.outer)", lambda: jouter(ju, jv), cfg.repeats, 1),
        ], lambda: np.outer(u, v))

        # 2. logistic regression: one forward + backward pass over m examples
        X = rs.rand(cfg.n_x, cfg.m)
        Y = (rs.rand(1, cfg.m) > 0.5).astype(np.float64)
        w, bias = rs.randn(cfg.n_x, 1) * 0.01, 0.0
        jX, jY = jnp.asarray(X, F64), jnp.asarray(Y, F64)
        lr_params = [{"W": jnp.asarray(w.T, F64), "b": jnp.zeros((1, 1), F64)}]
        acts1 = ("sigmoid",)
        vg_jit = jax.jit(jaxdnn.manual_value_and_grad, static_argnames="activations")
        vmap_jit = jax.jit(per_example_vmap, static_argnames="acts")
        as_np = lambda r: (r[0], r[1][0]["W"].T, r[1][0]["b"])
        section("logistic", f"Logistic regression, forward + backward over m = {cfg.m} examples of "
                            f"n_x = {cfg.n_x} features", [
            ("Python loops (the course's two for loops)", lambda: lr_two_loops(w, bias, X, Y),
             cfg.loop_repeats, 0),
            ("one loop over examples, NumPy per example", lambda: lr_one_loop(w, bias, X, Y),
             cfg.loop_repeats, 1),
            ("NumPy, vectorised", lambda: lr_numpy(w, bias, X, Y), cfg.repeats, 1),
            ("jaxdnn.manual_value_and_grad, eager (op by op)",
             lambda: as_np(jaxdnn.manual_value_and_grad(lr_params, jX, jY, acts1)), cfg.repeats, 1),
            ("jax.vmap of per-example jax.grad, jitted",
             lambda: as_np(vmap_jit(lr_params, jX, jY, acts1)), cfg.repeats, 1),
            ("jax.jit(jaxdnn.manual_value_and_grad)",
             lambda: as_np(vg_jit(lr_params, jX, jY, activations=acts1)), cfg.repeats, 1),
        ], lambda: lr_numpy(w, bias, X, Y))

        # 3. the L-layer network: one forward + backward pass
        dims = list(cfg.layer_dims)
        Xd = rs.rand(dims[0], cfg.m)
        np_params = [{"W": rs.randn(n, n_prev) / np.sqrt(n_prev), "b": np.zeros((n, 1))}
                     for n_prev, n in zip(dims[:-1], dims[1:])]
        j_params = jax.tree.map(lambda x: jnp.asarray(x, F64), np_params)
        jXd = jnp.asarray(Xd, F64)
        acts = ("relu",) * (len(dims) - 2) + ("sigmoid",)
        section("deep", f"L-layer network {'-'.join(map(str, dims))}, forward + backward over m = "
                        f"{cfg.m} examples", [
            ("one loop over examples, NumPy per example", lambda: deep_loop(np_params, Xd, Y),
             cfg.loop_repeats, 1),
            ("NumPy, vectorised", lambda: deep_numpy(np_params, Xd, Y), cfg.repeats, 1),
            *([(f"NumPy, vectorised, BLAS on its default {n_blas} threads",
                lambda: with_blas(n_blas, deep_numpy, np_params, Xd, Y), cfg.repeats, 1)]
              if n_blas and n_blas > 1 else []),
            ("jaxdnn.manual_value_and_grad, eager (op by op)",
             lambda: jaxdnn.manual_value_and_grad(j_params, jXd, jY, acts), cfg.repeats, 1),
            ("jax.vmap of per-example jax.grad, jitted",
             lambda: vmap_jit(j_params, jXd, jY, acts), cfg.repeats, 1),
            ("jax.jit(jaxdnn.manual_value_and_grad)",
             lambda: vg_jit(j_params, jXd, jY, activations=acts), cfg.repeats, 1),
        ], lambda: deep_numpy(np_params, Xd, Y))

    with blas_threads(1):
        measure_all()
    result["data"] = {"sections": sections, "blas_default_threads": n_blas}
    deep = {r["method"]: r["seconds"] for r in sections["deep"]["rows"]}
    default = [t for method, t in deep.items() if "BLAS on its default" in method]
    env = environment()
    result["notes"].append(
        f"*Note.* Medians over {cfg.repeats} runs ({cfg.loop_repeats} for the loops) after one "
        "warm-up (none for the pure-Python loops). NumPy's BLAS runs on one thread "
        "(threadpoolctl)"
        + (f"; on its default {n_blas} threads, competing with XLA's thread pool and the machine's "
           f"other load, it took {default[0] / deep['NumPy, vectorised']:.2f}x the one-thread time "
           f"of the L-layer network here (its row 'BLAS on its default {n_blas} threads')"
           if default else "")
        + ". The "
        "per-example jax.vmap materialises one gradient per example (m copies of W1), so it "
        "loses where W1 is large. Run on "
        f"{env['backend']} with {env['cpu_count']} logical CPUs "
        "shared with other work, so ratios are indicative. The course's notebooks print times of "
        "their own machine, and course_results.md holds no number for this lesson: the course's "
        "point is the ratio, vectorised code being hundreds of times faster than explicit loops. "
        "'max abs diff' checks that every method computes the same numbers as vectorised NumPy.")

    ncols = 2
    nrows = -(-len(sections) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(15, 3.6 * nrows), squeeze=False)
    for ax, s in zip(axes.ravel(), sections.values()):
        names = [r["method"] for r in s["rows"]][::-1]
        ms = np.array([1e3 * r["seconds"] for r in s["rows"]][::-1])
        base = ms.min() / 4  # bars start here: a log axis has no zero
        colors = ["C1" if n.startswith("NumPy, vectorised") and "default" not in n else "C0"
                  for n in names]
        ax.barh(range(len(ms)), ms - base, left=base, color=colors)
        for y, t in enumerate(ms):
            ax.text(t * 1.08, y, f"{t:.3g} ms", va="center", fontsize=8)
        ax.set_yticks(range(len(ms)), names, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlim(base, ms.max() * 6)
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_title(s["title"], fontsize=10)
        ax.set_xlabel("median time per call (ms, log scale)")
    for ax in axes.ravel()[len(sections):]:
        ax.axis("off")
    add_plot(result, fig, "timings.png",
             "Vectorisation: median time of the same computation written as loops, "
             "vectorised NumPy (orange), jax.vmap and jax.jit (log scale).", tight_layout=True)
    return finish(result)


if __name__ == "__main__":
    main()
