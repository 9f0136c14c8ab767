"""Speed: jaxdnn's ``fit`` side by side with its peers, and against the machine's physical floor.

Question: for the same network, the same data and the same number of full-batch gradient-descent
iterations (sigmoid output, binary cross-entropy, float32), how many seconds per iteration does
``jaxdnn.fit`` take, next to the other ways of writing that loop, and how far is the fastest from
what the hardware allows?

Problems (``--configs``):

| name | layers | hidden g | m | data |
| --- | --- | --- | --- | --- |
| planar | [2, 4, 1] | tanh | 400 | ``jaxdnn.data.planar_flower()`` (the course's flower) |
| cat | [12288, 20, 7, 5, 1] | relu | 209 | the course's cat training set when found, else random data of that shape (the result says which) |
| wide | [1024, 1024, 1024, 1] | relu | 4096 | random |
| sweep | 1024 planar models (init seeds), ``jax.vmap`` over ``fit``, one program | tanh | 400 | the flower |

Peers, each training from the same initial params (``jaxdnn.init_params``) for the same iterations:

- ``jaxdnn-manual``, ``jaxdnn-autodiff``: ``jaxdnn.fit(grad=...)`` with ``chunk_size =
  num_iterations`` (one compiled chunk) and ``progress=False``; repeated calls after the first
  (compiling) one are timed.
- ``jax-jit-loop``: a ``jax.jit`` step (``jax.value_and_grad(jaxdnn.cost)`` and the update,
  params donated) called from a Python loop.
- ``jax-scan-grad``: ``jax.value_and_grad(jaxdnn.cost)`` inside ``lax.scan``, jitted, written here.
- ``numpy``: the course's hand-derived backprop, vectorised NumPy in float32 (same equations);
  its final cost must equal jaxdnn's to float32 round-off, and the result reports the difference.
- ``torch-eager``: PyTorch autograd, eager, ``torch.set_num_threads(<cores>)``.
- ``torch-compile``: the same training step under ``torch.compile`` (CPU, inductor).
- ``sklearn``: ``MLPClassifier(solver="sgd", batch_size=m, momentum=0, alpha=0, tol=0)`` started
  from the same params; seconds per iteration = fit time / iterations.

A peer whose package is missing (or that fails) is reported as skipped (failed) with the reason.

Timing: every peer is warmed up (compiled), then the peers are timed round-robin, ``--repeats``
rounds, all in one process per problem, so that a busy moment of a shared machine falls on every
peer alike; a row shows the median seconds per iteration (and the spread over the rounds), its
ratio to the fastest peer and to the floor. The floor, measured in the same process, is::

    max(6 m P / (best float32 GEMM rate of jnp.dot: large squares and the problem's own shapes),
        m * sum(tanh units) / tanh rate + 2 m n_L / exp rate)      # transcendentals, measured in jax

where P is the number of weights (entries of the W's), and each rate is the fastest the probe ran
in any round (a floor must not sit above what the machine did). 6 m P counts dA_0 = W_1^T dZ_1,
which gradient descent never needs; the floor without it is reported too. Memory: the peak resident set of each
problem (and of each peer) beside the bytes of data + params; by default each problem runs in its
own subprocess.

Writes ``out/bench/NAME.json`` and ``out/bench/NAME.md`` (NAME: ``--name``, default the JAX
backend, e.g. ``cpu``) and prints the Markdown.

Commands::

    python -m experiments.bench                              # everything, a few minutes on 2 cores
    python -m experiments.bench --quick                      # a smoke run in seconds (smaller wide)
    python -m experiments.bench --configs cat,wide --repeats 5
    python -m experiments.bench --configs planar --peers jaxdnn-manual,jax-scan-grad,numpy
    python -m experiments.bench --iterations 50              # the same count for every problem
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from functools import partial

import numpy as np

PEERS = ("jaxdnn-manual", "jaxdnn-autodiff", "jax-jit-loop", "jax-scan-grad", "numpy",
         "torch-eager", "torch-compile", "sklearn")
"""Every peer, in the order the tables show them."""

PROBLEMS = ("planar", "cat", "wide", "sweep")

QUESTION = ("Same network, same data, same number of full-batch gradient-descent iterations "
            "(sigmoid output, BCE, float32): seconds per iteration of jaxdnn.fit beside its peers, "
            "and against the physical floor of this machine.")

_PROJECT = pathlib.Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------------------------
# configuration


@dataclasses.dataclass(frozen=True)
class Config:
    """The benchmark's settings; every field is a command-line option (``--repeats 5``)."""

    configs: tuple[str, ...] = PROBLEMS  # problems to run, of PROBLEMS
    peers: tuple[str, ...] = PEERS  # peers to time; the others are reported as not selected
    repeats: int = 5  # timed rounds after the warm-up; the median is reported
    iterations: int | None = None  # one count for every problem (None: each problem's default)
    out: str = "out/bench"  # folder for NAME.json and NAME.md
    name: str | None = None  # NAME; None: the JAX backend ("cpu", "gpu", "tpu")
    quick: bool = False  # a smoke run: few iterations, a smaller wide net, no torch.compile
    sweep_models: int = 1024  # models trained at once by the vmapped planar sweep
    isolate: bool | None = None  # one subprocess per problem (per-problem peak memory); None: not quick
    torch_threads: int | None = None  # None: the number of cores this process may use

    QUICK = {"repeats": 2}


_HELP = {
    "configs": f"comma-separated problems, of {','.join(PROBLEMS)}",
    "peers": f"comma-separated peers, of {','.join(PEERS)}",
    "repeats": "timed rounds after the warm-up; the median is reported",
    "iterations": "one iteration count for every problem (default: planar 2000, cat 200, "
                  "wide 6, sweep 100; with --quick 10, 2, 2, 5)",
    "out": "folder for NAME.json and NAME.md",
    "name": "file name stem NAME (default: the JAX backend, e.g. cpu)",
    "quick": "smoke run: few iterations, wide shrunk to [256, 256, 256, 1] with m = 512, "
             "torch.compile skipped (its first compilation alone takes 10-30 s per shape)",
    "sweep_models": "models in the vmapped planar sweep",
    "isolate": "run each problem in its own subprocess, for per-problem peak memory "
               "(default: yes, except with --quick)",
    "torch_threads": "torch.set_num_threads (default: the cores this process may use)",
}


def _csv(kind, allowed):
    def parse(text):
        items = tuple(s.strip() for s in text.split(",") if s.strip())
        bad = [s for s in items if s not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {bad or text!r}; expected a comma-separated subset of "
                f"{','.join(allowed)}")
        return items
    return parse


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value}")
    return value


def parse_args(argv=None) -> Config:
    """``argv`` (default ``sys.argv[1:]``) as a :class:`Config`; ``--quick`` applies ``QUICK``."""
    p = argparse.ArgumentParser(prog="python -m experiments.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    types = {"configs": _csv("problem", PROBLEMS), "peers": _csv("peer", PEERS),
             "repeats": _positive_int, "iterations": _positive_int, "out": str, "name": str,
             "sweep_models": _positive_int, "torch_threads": _positive_int}
    for f in dataclasses.fields(Config):
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("quick", "isolate"):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=_HELP[f.name])
        else:
            shown = ",".join(f.default) if isinstance(f.default, tuple) else f.default
            p.add_argument(flag, dest=f.name, type=types[f.name], default=argparse.SUPPRESS,
                           help=f"{_HELP[f.name]} (default: {shown})")
    p.add_argument("--child", dest="child", default=None, help=argparse.SUPPRESS)
    given = vars(p.parse_args(argv))
    child = given.pop("child", None)
    values = {f.name: f.default for f in dataclasses.fields(Config)}
    if given.get("quick", False):
        values.update(Config.QUICK)
    values.update(given)
    if values["isolate"] is None:
        values["isolate"] = not values["quick"]
    cfg = Config(**values)
    return (cfg, child) if child is not None else cfg


# ----------------------------------------------------------------------------------------------
# the problems


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str
    dims: tuple[int, ...]
    hidden: str  # hidden-layer activation; the output is sigmoid
    m: int
    learning_rate: float
    init: str  # jaxdnn.init_params method
    iterations: int
    quick_iterations: int


_PROBLEMS = {
    # the course's planar exercise: n_h = 4, lr 1.2, W ~ 0.01 N(0, 1)
    "planar": Problem("planar", (2, 4, 1), "tanh", 400, 1.2, "small", 2000, 10),
    # the course's 4-layer cat model: lr 0.0075, W ~ N(0, 1) / sqrt(n_{l-1})
    "cat": Problem("cat", (12288, 20, 7, 5, 1), "relu", 209, 0.0075, "xavier", 100, 2),
    "wide": Problem("wide", (1024, 1024, 1024, 1), "relu", 4096, 0.0075, "he", 6, 2),
    "sweep": Problem("sweep", (2, 4, 1), "tanh", 400, 1.2, "small", 100, 5),
}
_QUICK_WIDE = dataclasses.replace(_PROBLEMS["wide"], dims=(256, 256, 256, 1), m=512)


def problem(name: str, cfg: Config) -> Problem:
    prob = _QUICK_WIDE if (cfg.quick and name == "wide") else _PROBLEMS[name]
    n = cfg.iterations or (prob.quick_iterations if cfg.quick else prob.iterations)
    return dataclasses.replace(prob, iterations=n)


def activations(prob: Problem) -> tuple[str, ...]:
    return (prob.hidden,) * (len(prob.dims) - 2) + ("sigmoid",)


def num_weights(dims) -> int:
    """P: the entries of all the W's."""
    return sum(a * b for a, b in zip(dims[:-1], dims[1:]))


def make_data(prob: Problem):
    """``(X, Y, source)``: float32 ``(n_x, m)`` and ``(1, m)`` NumPy arrays, and where they came from."""
    from jaxdnn import data

    rs = np.random.RandomState(0)
    if prob.name in ("planar", "sweep"):
        X, Y = data.planar_flower(prob.m)
        source = f"jaxdnn.data.planar_flower(m={prob.m}): the course's flower"
    elif prob.name == "cat":
        try:
            cat = data.load_catvnoncat()
            X, Y = cat.train_x, cat.train_y
            source = f"the course's training set, {data.find_cat_dir()}"
        except (FileNotFoundError, ImportError, ValueError) as e:
            X = rs.uniform(0, 1, (prob.dims[0], prob.m))
            Y = (rs.uniform(0, 1, (1, prob.m)) < 0.35).astype(np.float64)
            source = f"random U(0, 1) data of the training set's shape (cat data not found: {e})"
    else:
        X = rs.standard_normal((prob.dims[0], prob.m))
        Y = (rs.uniform(0, 1, (1, prob.m)) < 0.5).astype(np.float64)
        source = "random: X ~ N(0, 1), Y ~ Bernoulli(0.5)"
    return np.ascontiguousarray(X, np.float32), np.ascontiguousarray(Y, np.float32), source


# ----------------------------------------------------------------------------------------------
# memory: peak resident set, per problem and per peer


class PeakRSS:
    """Peak resident set of this process, per segment and in total.

    On Linux, writing 5 to ``/proc/self/clear_refs`` resets the peak mark (``VmHWM``, which is also
    what ``ru_maxrss`` reports), so each peer's peak is measured on its own. Elsewhere every segment
    reports the process's ``ru_maxrss`` so far.
    """

    def __init__(self):
        self.total, self.at_start = 0.0, _rss_now_mib()
        self.resettable = self._reset()
        self.method = ("VmHWM after /proc/self/clear_refs" if self.resettable
                       else "ru_maxrss (whole process)")

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _peak() -> float:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024  # bytes on macOS, else KiB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def start(self) -> None:
        """Begin a segment."""
        self.total = max(self.total, self._peak())
        if self.resettable:
            self._reset()
        self.at_start = _rss_now_mib()

    def growth(self) -> float:
        """How far (MiB) the peak of this segment rose above the RSS at its start."""
        return max(0.0, self._peak() - self.at_start)

    def segment(self) -> float:
        """Peak RSS (MiB) since :meth:`start`."""
        peak = self._peak()
        self.total = max(self.total, peak)
        return peak


def _rss_now_mib() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------------------------
# the peers: each `prepare` returns (run, warm_iterations); run(n) trains n iterations from the
# initial params and returns its costs (costs[i] before update i, as jaxdnn.fit), in whatever form
# the peer keeps them; `_as_curve` turns them into a NumPy array after the clock has stopped


def _as_curve(costs) -> np.ndarray:
    """A peer's costs as a float64 NumPy array (jax or torch scalars, lists or arrays)."""
    if isinstance(costs, (list, tuple)):
        return np.array([float(c) for c in costs], np.float64)
    return np.asarray(costs, np.float64).ravel()


class Skip(Exception):
    """A peer that cannot run here (its package is missing): reported with the reason."""


def _jaxdnn_fit(grad, ctx):
    import jax
    import jaxdnn

    def run(n):
        params, costs = jaxdnn.fit(ctx["params"], ctx["X"], ctx["Y"], ctx["acts"],
                                   learning_rate=ctx["lr"], num_iterations=n, grad=grad,
                                   chunk_size=n, progress=False)
        jax.block_until_ready(params)
        return costs

    return run, ctx["n"]  # the compiled chunk is keyed on its length: warm up with the full run


def _gd_step(params, X, Y, lr, activations):
    """``jax.value_and_grad(jaxdnn.cost)`` and ``W -= lr dW``: one iteration."""
    import jax
    import jaxdnn

    J, g = jax.value_and_grad(jaxdnn.cost)(params, X, Y, activations)
    return jax.tree.map(lambda p, d: p - lr * d, params, g), J


def _jax_jit_loop(ctx):
    import jax
    import jax.numpy as jnp

    step = jax.jit(_gd_step, static_argnames="activations", donate_argnums=0)
    lr = jnp.asarray(ctx["lr"], jnp.float32)

    def run(n):
        params = jax.tree.map(jnp.copy, ctx["params"])
        costs = []
        for _ in range(n):
            params, J = step(params, ctx["X"], ctx["Y"], lr, activations=ctx["acts"])
            costs.append(J)
        jax.block_until_ready(params)
        return costs  # device scalars: fetched after the clock stops

    return run, min(ctx["n"], 3)


def _scan_train(params, X, Y, lr, activations, n):
    import jax

    def body(p, _):
        return _gd_step(p, X, Y, lr, activations)

    return jax.lax.scan(body, params, None, length=n)


def _jax_scan_grad(ctx):
    import jax
    import jax.numpy as jnp

    train = jax.jit(_scan_train, static_argnames=("activations", "n"), donate_argnums=0)
    lr = jnp.asarray(ctx["lr"], jnp.float32)

    def run(n):
        params = jax.tree.map(jnp.copy, ctx["params"])
        params, costs = train(params, ctx["X"], ctx["Y"], lr, activations=ctx["acts"], n=n)
        jax.block_until_ready((params, costs))
        return costs

    return run, ctx["n"]


def numpy_train(params, X, Y, activations, learning_rate, num_iterations):
    """The course's gradient descent with its hand-derived backprop, vectorised NumPy, in place.

    Same equations as :mod:`jaxdnn.backward`: the cost from the logits (log-sigmoid form),
    ``dZ_L = A_L - Y``, ``dW = dZ A_prev^T / m``, ``db = sum(dZ) / m``, ``dA_prev = W^T dZ``,
    ``dZ = dA * g'(Z)`` with ``tanh' = 1 - A^2`` and ``relu' = 1[Z > 0]``, then ``W -= lr dW``.

    Args:
      params: list of ``(W, b)`` NumPy arrays, updated in place.
      X: ``(n_x, m)``; Y: ``(1, m)``; all of one dtype (float32 here).

    Returns:
      ``costs``: ``(num_iterations,)``, ``costs[i]`` the cost before update ``i``.
    """
    L, m = len(params), X.shape[1]
    costs = np.empty(num_iterations, X.dtype)
    for i in range(num_iterations):
        caches, A = [], X
        for l, (W, b) in enumerate(params):
            Z = W @ A + b  # (n_l, m)
            caches.append((A, Z))
            if l < L - 1:
                A = np.tanh(Z) if activations[l] == "tanh" else np.maximum(Z, 0)
        e = np.exp(-np.abs(Z))  # exp(-|Z_L|): the sigmoid and the log-sigmoid without overflow
        costs[i] = np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(e)) / m  # BCE from the logits
        AL = np.where(Z >= 0, 1, e) / (1 + e)  # sigmoid(Z_L)
        dZ = AL - Y  # dZ_L = A_L - Y, (n_L, m)
        grads = [None] * L
        for l in reversed(range(L)):
            A_prev, W = caches[l][0], params[l][0]
            grads[l] = (dZ @ A_prev.T / m, np.sum(dZ, axis=1, keepdims=True) / m)  # dW, db
            if l > 0:
                dA = W.T @ dZ  # (n_{l-1}, m)
                if activations[l - 1] == "tanh":
                    dZ = dA * (1 - A_prev * A_prev)  # tanh'(Z) = 1 - A^2
                else:
                    dZ = np.where(caches[l - 1][1] > 0, dA, 0)  # relu'(Z) = 1[Z > 0]
        for (W, b), (dW, db) in zip(params, grads):
            W -= learning_rate * dW
            b -= learning_rate * db
    return costs


def _numpy(ctx):
    def run(n):
        params = [(p["W"].copy(), p["b"].copy()) for p in ctx["np_params"]]
        return numpy_train(params, ctx["np_X"], ctx["np_Y"], ctx["acts"], ctx["lr"], n)

    return run, min(ctx["n"], 2)


def _import_torch(threads):
    try:
        import torch
    except ImportError as e:
        raise Skip(f"PyTorch is not installed ({e}); pip install 'jaxdnn[bench]'") from None
    torch.set_num_threads(threads)
    return torch


def _torch_step(params, X, Y, lr: float, activations: tuple):
    """One iteration in PyTorch: forward, BCE from the logits, autograd, ``W -= lr dW``."""
    import torch
    import torch.nn.functional as F

    A = X
    for l in range(len(params) // 2):
        Z = params[2 * l] @ A + params[2 * l + 1]  # (n_l, m)
        A = torch.tanh(Z) if activations[l] == "tanh" else torch.relu(Z)
    J = F.binary_cross_entropy_with_logits(Z, Y, reduction="sum") / Y.shape[1]
    J.backward()
    with torch.no_grad():
        for p in params:
            p.sub_(lr * p.grad)  # W -= lr * dW
            p.grad = None
    return J.detach()


def _torch(ctx, compiled):
    torch = _import_torch(ctx["torch_threads"])
    if compiled and ctx["quick"]:
        raise Skip("--quick: torch.compile's first compilation alone takes 10-30 s per shape")
    X, Y = torch.from_numpy(ctx["np_X"]), torch.from_numpy(ctx["np_Y"])
    init = [a for p in ctx["np_params"] for a in (p["W"], p["b"])]
    step = _torch_step
    if compiled:
        # one graph for forward, backward and update where this PyTorch can trace .backward()
        if hasattr(torch._dynamo.config, "trace_autograd_ops"):
            torch._dynamo.config.trace_autograd_ops = True
        step = torch.compile(_torch_step)

    def run(n):
        params = [torch.from_numpy(a.copy()).requires_grad_() for a in init]
        costs = []
        for _ in range(n):
            costs.append(step(params, X, Y, ctx["lr"], ctx["acts"]))
        return costs

    return run, min(ctx["n"], 3)


def _sklearn(ctx):
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as e:
        raise Skip(f"scikit-learn is not installed ({e}); pip install scikit-learn") from None
    Xt = np.ascontiguousarray(ctx["np_X"].T)  # (m, n_x): scikit-learn puts examples in rows
    y = ctx["np_Y"].ravel().astype(np.int64)
    dims = ctx["dims"]

    def run(n):
        clf = MLPClassifier(
            hidden_layer_sizes=dims[1:-1], activation=ctx["acts"][0], solver="sgd",
            batch_size=Xt.shape[0], learning_rate="constant", learning_rate_init=ctx["lr"],
            momentum=0.0, nesterovs_momentum=False, alpha=0.0, max_iter=n, tol=0.0,
            n_iter_no_change=n + 1, shuffle=False, early_stopping=False, random_state=0)
        inits = iter([(p["W"].T.copy(), p["b"].ravel().copy()) for p in ctx["np_params"]])
        used = []

        def init_coef(fan_in, fan_out, dtype):  # start from our params, not Glorot's
            W, b = next(inits)
            used.append((fan_in, fan_out))
            return W.astype(dtype), b.astype(dtype)

        clf._init_coef = init_coef  # a private hook: checked below, else reported
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xt, y)
        if clf.n_iter_ != n:
            raise RuntimeError(f"MLPClassifier ran {clf.n_iter_} iterations, not {n}")
        ctx["sklearn_same_init"] = len(used) == len(dims) - 1
        ctx["sklearn_dtype"] = str(clf.coefs_[0].dtype)
        return clf.loss_curve_

    return run, min(ctx["n"], 2)


_PREPARE = {
    "jaxdnn-manual": partial(_jaxdnn_fit, "manual"),
    "jaxdnn-autodiff": partial(_jaxdnn_fit, "autodiff"),
    "jax-jit-loop": _jax_jit_loop,
    "jax-scan-grad": _jax_scan_grad,
    "numpy": _numpy,
    "torch-eager": partial(_torch, compiled=False),
    "torch-compile": partial(_torch, compiled=True),
    "sklearn": _sklearn,
}

_DESCRIBE = {
    "jaxdnn-manual": "jaxdnn.fit(grad='manual'), one compiled chunk",
    "jaxdnn-autodiff": "jaxdnn.fit(grad='autodiff'), one compiled chunk",
    "jax-jit-loop": "jax.jit step (value_and_grad(cost), donated) from a Python loop",
    "jax-scan-grad": "jax.value_and_grad(cost) inside lax.scan, jitted",
    "numpy": "NumPy float32, the course's hand-derived backprop",
    "torch-eager": "PyTorch eager autograd",
    "torch-compile": "torch.compile of the training step (inductor, CPU)",
    "sklearn": "scikit-learn MLPClassifier, sgd, batch = m, same init",
}

# ----------------------------------------------------------------------------------------------
# the floor: the best GEMM rate and the transcendentals' throughput, measured in jax


def _floor_probes(prob: Problem, quick: bool):
    """``{label: (work, fn)}``: GEMMs (work in FLOPs) and transcendentals (work in elements)."""
    import jax
    import jax.numpy as jnp

    probes = {}
    key = jax.random.key(1)
    for n in ((256,) if quick else (512, 1024, 2048)):
        a = jax.random.normal(key, (n, n), jnp.float32)
        probes[f"gemm {n}^3"] = (2.0 * n**3, partial(jax.jit(jnp.dot), a, a))

    dims, m = prob.dims, prob.m
    Ws = [jax.random.normal(key, (b, a), jnp.float32) for a, b in zip(dims[:-1], dims[1:])]
    As = [jax.random.normal(key, (a, m), jnp.float32) for a in dims[:-1]]
    dZs = [jax.random.normal(key, (b, m), jnp.float32) for b in dims[1:]]

    @jax.jit
    def own(Ws, As, dZs):  # the 3 L GEMMs of one iteration, as the course writes them
        return [(W @ A, dZ @ A.T, W.T @ dZ) for W, A, dZ in zip(Ws, As, dZs)]

    probes["gemm own shapes"] = (6.0 * m * num_weights(dims), partial(own, Ws, As, dZs))
    size = 2**18 if quick else 2**22
    x = jnp.linspace(-4, 4, size, dtype=jnp.float32)
    probes["tanh"] = (float(size), partial(jax.jit(jnp.tanh), x))
    probes["exp"] = (float(size), partial(jax.jit(jnp.exp), x))
    return probes


def _floor(prob: Problem, probes: dict, probe_times: dict) -> dict:
    """The floor in seconds per iteration from the probes' median times."""
    dims, m = prob.dims, prob.m
    P = num_weights(dims)
    # a floor must not sit above what the machine did: each probe's fastest round
    rates = {k: w / float(np.min(probe_times[k])) for k, (w, _) in probes.items()}
    gemm = {k: v for k, v in rates.items() if k.startswith("gemm")}
    best = max(gemm, key=gemm.get)
    tanh_units = sum(n for n, g in zip(dims[1:-1], activations(prob)[:-1]) if g == "tanh")
    tanh_count = m * tanh_units  # one tanh per hidden unit and example; its derivative reuses A
    exp_count = 2 * m * dims[-1]  # exp(-|Z_L|) and log1p: sigmoid and log-sigmoid of the output
    gemm_s = 6.0 * m * P / gemm[best]
    elementwise_s = tanh_count / rates["tanh"] + exp_count / rates["exp"]
    needed = 6.0 * m * P - 2.0 * m * dims[0] * dims[1]  # dA_0 = W_1^T dZ_1 is never needed
    return {
        "seconds_per_iteration": max(gemm_s, elementwise_s),
        "bound": "gemm" if gemm_s >= elementwise_s else "elementwise",
        "gemm_seconds": gemm_s, "elementwise_seconds": elementwise_s,
        "weights_P": P, "gemm_flops": 6.0 * m * P, "gemm_flops_needed": needed,
        "floor_needed_flops_seconds": max(needed / gemm[best], elementwise_s),
        "gemm_flops_per_s": {k: v for k, v in gemm.items()}, "best_gemm": best,
        "tanh_per_s": rates["tanh"], "exp_per_s": rates["exp"],
        "tanh_count": tanh_count, "exp_count": exp_count,
    }


# ----------------------------------------------------------------------------------------------
# measuring one problem (runs in the child process)


_T0 = time.perf_counter()


def _log(msg):
    print(f"bench {time.perf_counter() - _T0:6.1f}s: {msg}", file=sys.stderr, flush=True)


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _first_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def _time_probes(probes: dict, probe_times: dict) -> None:
    """One round of the floor probes: each the fastest of up to 3 calls (0.2 s at most)."""
    import jax

    for k, (_, fn) in probes.items():
        best, spent = math.inf, 0.0
        for _ in range(3):
            dt, _ = _time(lambda: jax.block_until_ready(fn()))  # noqa: B023
            best, spent = min(best, dt), spent + dt
            if spent > 0.2:
                break
        probe_times[k].append(best)


def _compare_curves(ref: np.ndarray, other: np.ndarray, rtol: float = 1e-4) -> dict:
    """How two cost curves of the same run agree: at the end, at worst, and until when."""
    rel = np.abs(other - ref) / np.maximum(np.abs(ref), 1e-30)
    apart = np.flatnonzero(rel > rtol)
    first = int(apart[0]) if apart.size else None
    before = rel if first is None else rel[:first]
    return {"final": float(rel[-1]), "max": float(rel.max()), "first_iteration_apart": first,
            "max_before_apart": float(before.max()) if before.size else 0.0}


def measure_problem(name: str, cfg: Config) -> dict:
    """Time every selected peer on one problem, round-robin, beside the floor."""
    import jax
    import jax.numpy as jnp
    import jaxdnn

    prob = problem(name, cfg)
    n, acts = prob.iterations, activations(prob)
    _log(f"[{name}] layers {list(prob.dims)}, m = {prob.m}, {n} iterations")
    load_before = _loadavg()
    rss_base = _rss_now_mib()
    rss = PeakRSS()
    X, Y, source = make_data(prob)
    params = jaxdnn.init_params(jax.random.key(0), prob.dims, prob.init, dtype=jnp.float32)
    np_params = [{k: np.asarray(v) for k, v in p.items()} for p in params]
    ctx = {"params": params, "X": jnp.asarray(X), "Y": jnp.asarray(Y), "acts": acts,
           "lr": prob.learning_rate, "n": n, "np_params": np_params, "np_X": X, "np_Y": Y,
           "dims": prob.dims, "quick": cfg.quick,
           "torch_threads": cfg.torch_threads or cores()}
    data_bytes = X.nbytes + Y.nbytes + sum(a.nbytes for p in np_params for a in p.values())

    peers = {p: {"status": "skipped", "reason": "not selected by --peers"} for p in PEERS}
    runs, curves = {}, {}
    for peer in cfg.peers:
        try:
            run, warm_n = _PREPARE[peer](ctx)
            rss.start()
            warm_s, _ = _time(partial(run, warm_n))
            peers[peer] = {"status": "ok", "warmup_iterations": warm_n, "warmup_seconds": warm_s,
                           "times": [], "final_costs": [], "peak_rss_mib": rss.segment(),
                           "rss_growth_mib": rss.growth()}
            runs[peer] = run
            _log(f"[{name}] {peer}: warm-up ({warm_n} iterations) {warm_s:.2f} s")
        except Skip as e:
            peers[peer] = {"status": "skipped", "reason": str(e)}
            _log(f"[{name}] {peer}: skipped: {e}")
        except Exception as e:  # noqa: BLE001 (a failing peer is reported, not fatal)
            peers[peer] = {"status": "failed", "reason": _first_line(e)}
            _log(f"[{name}] {peer}: FAILED: {traceback.format_exc()}")

    probes = _floor_probes(prob, cfg.quick)
    for fn in (fn for _, fn in probes.values()):
        jax.block_until_ready(fn())  # compile
    probe_times = {k: [] for k in probes}

    for r in range(cfg.repeats):  # round-robin: a busy moment of the machine hits every peer
        for peer, run in list(runs.items()):
            rss.start()
            try:
                dt, costs = _time(partial(run, n))
                curve = _as_curve(costs)
            except Exception as e:  # noqa: BLE001
                peers[peer] = {"status": "failed", "reason": _first_line(e)}
                runs.pop(peer)
                _log(f"[{name}] {peer}: FAILED: {traceback.format_exc()}")
                continue
            rec = peers[peer]
            rec["times"].append(dt)
            rec["final_costs"].append(float(curve[-1]))
            rec["peak_rss_mib"] = max(rec["peak_rss_mib"], rss.segment())
            rec["rss_growth_mib"] = max(rec["rss_growth_mib"], rss.growth())
            curves[peer] = curve
        _time_probes(probes, probe_times)
        _log(f"[{name}] round {r + 1}/{cfg.repeats}: " + ", ".join(
            f"{p} {peers[p]['times'][-1] / n:.3g}" for p in runs) + " s/iteration")

    floor = _floor(prob, probes, probe_times)
    ok = {p: rec for p, rec in peers.items() if rec["status"] == "ok"}
    for p, rec in ok.items():
        per_it = np.asarray(rec["times"]) / n
        rec["seconds_per_iteration"] = float(np.median(per_it))
        rec["min_seconds_per_iteration"] = float(per_it.min())
        rec["max_seconds_per_iteration"] = float(per_it.max())
        rec["final_cost"] = rec["final_costs"][-1]
        rec["deterministic"] = len(set(rec["final_costs"])) == 1
        rec["description"] = _DESCRIBE[p]
    fastest = min(ok, key=lambda p: ok[p]["seconds_per_iteration"]) if ok else None
    for rec in ok.values():
        rec["ratio_to_fastest"] = rec["seconds_per_iteration"] / ok[fastest]["seconds_per_iteration"]
        rec["ratio_to_floor"] = rec["seconds_per_iteration"] / floor["seconds_per_iteration"]
        rec["compile_seconds"] = max(0.0, rec["warmup_seconds"]
                                     - rec["warmup_iterations"] * rec["seconds_per_iteration"])
    if "sklearn" in ok:
        ok["sklearn"]["same_init"] = bool(ctx.get("sklearn_same_init"))
        ok["sklearn"]["dtype"] = ctx.get("sklearn_dtype")

    agreement = {}  # every curve against jaxdnn-manual's, iteration by iteration
    if "jaxdnn-manual" in curves:
        for peer, curve in curves.items():
            if peer != "jaxdnn-manual" and len(curve) == len(curves["jaxdnn-manual"]):
                agreement[peer] = _compare_curves(curves["jaxdnn-manual"], curve)
    rss.start()
    return {
        "problem": name, "layers": list(prob.dims), "activations": list(acts), "m": prob.m,
        "iterations": n, "learning_rate": prob.learning_rate, "init": prob.init,
        "data": source, "dtype": "float32", "repeats": cfg.repeats,
        "peers": peers, "fastest": fastest, "floor": floor,
        "floor_probe_seconds": {k: float(np.median(v)) for k, v in probe_times.items()},
        "cost_agreement_with_jaxdnn_manual": agreement,
        "load_average": {"before": load_before, "after": _loadavg()},
        "memory": {"data_params_mib": data_bytes / 2**20, "rss_before_data_mib": rss_base,
                   "peak_rss_mib": rss.total, "method": rss.method},
    }


def measure_sweep(cfg: Config) -> dict:
    """``cfg.sweep_models`` planar models in one program: ``jax.jit(jax.vmap(fit))`` over inits."""
    import jax
    import jax.numpy as jnp
    import jaxdnn

    prob = problem("sweep", cfg)
    n, acts, M = prob.iterations, activations(prob), cfg.sweep_models
    _log(f"[sweep] {M} planar models, {n} iterations")
    load_before = _loadavg()
    rss_base = _rss_now_mib()
    rss = PeakRSS()
    Xn, Yn, source = make_data(prob)
    X, Y = jnp.asarray(Xn), jnp.asarray(Yn)
    keys = jax.random.split(jax.random.key(0), M)
    batch = jax.vmap(lambda k: jaxdnn.init_params(k, prob.dims, prob.init))(keys)
    single = jax.tree.map(lambda a: a[0], batch)

    def train(p):
        return jaxdnn.fit(p, X, Y, acts, learning_rate=prob.learning_rate, num_iterations=n,
                          progress=False)

    sweep = jax.jit(jax.vmap(train))

    def run_sweep():
        params, costs = sweep(batch)
        jax.block_until_ready(params)
        return costs

    def run_single():
        params, costs = jaxdnn.fit(single, X, Y, acts, learning_rate=prob.learning_rate,
                                   num_iterations=n, chunk_size=n, progress=False)
        jax.block_until_ready(params)
        return costs

    warm_sweep, costs = _time(run_sweep)
    warm_single, costs1 = _time(run_single)
    sweep_peak = rss.segment()
    probes = _floor_probes(prob, cfg.quick)
    for fn in (fn for _, fn in probes.values()):
        jax.block_until_ready(fn())
    t_sweep, t_single, probe_times = [], [], {k: [] for k in probes}
    for r in range(cfg.repeats):
        rss.start()
        t_sweep.append(_time(run_sweep)[0])
        sweep_peak = max(sweep_peak, rss.segment())
        rss.start()
        t_single.append(_time(run_single)[0])
        _time_probes(probes, probe_times)
        _log(f"[sweep] round {r + 1}/{cfg.repeats}: {t_sweep[-1] / (M * n):.3g} s per "
             f"model-iteration, single model {t_single[-1] / n:.3g} s/iteration")
    floor = _floor(prob, probes, probe_times)
    per_model_it = float(np.median(t_sweep)) / (M * n)
    single_it = float(np.median(t_single)) / n
    costs, costs1 = np.asarray(costs), np.asarray(costs1)
    return {
        "problem": "sweep", "layers": list(prob.dims), "activations": list(acts), "m": prob.m,
        "models": M, "iterations": n, "learning_rate": prob.learning_rate, "init": prob.init,
        "data": source, "dtype": "float32", "repeats": cfg.repeats,
        "seconds_per_model_iteration": per_model_it,
        "single_model_seconds_per_iteration": single_it,
        "ratio_to_single": per_model_it / single_it,
        "ratio_to_floor": per_model_it / floor["seconds_per_iteration"],
        "seconds_per_call": float(np.median(t_sweep)), "times": t_sweep, "single_times": t_single,
        "compile_seconds": max(0.0, warm_sweep - float(np.median(t_sweep))),
        "model0_matches_single_fit": bool(np.allclose(costs[0], costs1, rtol=1e-4, atol=0)),
        "final_cost_min_median_max": [float(costs[:, -1].min()), float(np.median(costs[:, -1])),
                                      float(costs[:, -1].max())],
        "floor": floor,
        "floor_probe_seconds": {k: float(np.median(v)) for k, v in probe_times.items()},
        "load_average": {"before": load_before, "after": _loadavg()},
        "memory": {"data_params_mib": (Xn.nbytes + Yn.nbytes + sum(
            a.nbytes for a in jax.tree.leaves(batch))) / 2**20,
            "rss_before_data_mib": rss_base, "peak_rss_mib": sweep_peak,
            "method": rss.method},
    }


_ENV_VARS = ("XLA_FLAGS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS",
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
    try:
        import numpy as _np  # noqa: F401
        blas = _np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except Exception:  # noqa: BLE001
        blas = None
    dev = jax.devices()[0]
    return {
        "cpu": cpu, "cores": cores(), "os_cpu_count": os.cpu_count(),
        "platform": platform.platform(), "backend": jax.default_backend(),
        "device": f"{dev.platform}: {dev.device_kind}", "devices": [str(d) for d in jax.devices()],
        "versions": versions, "numpy_blas": blas,
        "torch_threads": cfg.torch_threads or cores(),
        "environment": {k: os.environ[k] for k in _ENV_VARS if k in os.environ},
    }


def _child(cfg: Config, spec_path: str) -> None:
    """Child process: measure the problems named in the spec file and write their results."""
    spec = json.loads(pathlib.Path(spec_path).read_text())
    out = {"machine": machine(cfg), "problems": {}}
    try:  # import before measuring, so that import memory is not charged to a problem
        import torch  # noqa: F401
        import sklearn.neural_network  # noqa: F401
    except ImportError:
        pass
    for name in spec["problems"]:
        t0 = time.perf_counter()
        try:
            res = measure_sweep(cfg) if name == "sweep" else measure_problem(name, cfg)
        except Exception as e:  # noqa: BLE001
            _log(f"[{name}] FAILED: {traceback.format_exc()}")
            res = {"problem": name, "status": "failed", "reason": _first_line(e)}
        res.setdefault("status", "ok")
        res["wall_seconds"] = time.perf_counter() - t0
        out["problems"][name] = res
    pathlib.Path(spec["result"]).write_text(json.dumps(out, indent=1))


# ----------------------------------------------------------------------------------------------
# the parent: one child per problem (or one for all), then the report


def _run_children(cfg: Config) -> dict:
    groups = [[p] for p in cfg.configs] if cfg.isolate else [list(cfg.configs)]
    merged = {"machine": None, "problems": {}}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_PROJECT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # compile in-process: no idle workers
    argv = _argv(cfg)
    with tempfile.TemporaryDirectory(prefix="jaxdnn-bench-") as tmp:
        for i, group in enumerate(groups):
            spec = pathlib.Path(tmp) / f"spec{i}.json"
            result = pathlib.Path(tmp) / f"result{i}.json"
            spec.write_text(json.dumps({"problems": group, "result": str(result)}))
            cmd = [sys.executable, "-m", "experiments.bench", *argv, "--child", str(spec)]
            proc = subprocess.run(cmd, env=env, cwd=str(_PROJECT))
            if proc.returncode != 0 or not result.exists():
                for name in group:
                    merged["problems"][name] = {
                        "problem": name, "status": "failed",
                        "reason": f"the child process exited with status {proc.returncode}"}
                continue
            got = json.loads(result.read_text())
            merged["machine"] = merged["machine"] or got["machine"]
            merged["problems"].update(got["problems"])
    return merged


def _argv(cfg: Config) -> list[str]:
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


def goals(problems: dict) -> list[dict]:
    """The issue's goals, measured: met (True/False), or None where not measured."""
    out = []
    timed = {k: v for k, v in problems.items() if k != "sweep" and v.get("status") == "ok"}

    def t(res, peer):
        rec = res["peers"].get(peer, {})
        return rec.get("seconds_per_iteration") if rec.get("status") == "ok" else None

    for name, res in timed.items():
        mine = t(res, "jaxdnn-manual")
        others = {p: t(res, p) for p in PEERS if not p.startswith("jaxdnn") and t(res, p)}
        if mine is None or not others:
            out.append({"goal": f"{name}: jaxdnn the fastest peer", "met": None,
                        "detail": "not measured"})
            continue
        best = min(others, key=others.get)
        out.append({"goal": f"{name}: jaxdnn the fastest peer", "met": mine <= others[best],
                    "detail": f"jaxdnn-manual {mine:.3g} s vs fastest other {best} "
                              f"{others[best]:.3g} s: x{mine / others[best]:.2f}"})
    for name in ("cat", "wide"):
        res = timed.get(name)
        mine = t(res, "jaxdnn-manual") if res else None
        if mine is None:
            out.append({"goal": f"{name}: within 1.1x of the floor", "met": None,
                        "detail": "not measured"})
            continue
        f = res["floor"]
        r = mine / f["seconds_per_iteration"]
        out.append({"goal": f"{name}: within 1.1x of the floor", "met": r <= 1.1,
                    "detail": f"x{r:.2f} of the floor ({f['bound']}-bound, "
                              f"{f['seconds_per_iteration']:.3g} s); "
                              f"x{mine / f['floor_needed_flops_seconds']:.2f} of the floor "
                              f"counting only the needed GEMMs"})
    res = timed.get("planar")
    mine, scan = (t(res, "jaxdnn-manual"), t(res, "jax-scan-grad")) if res else (None, None)
    out.append({"goal": "planar: jaxdnn ahead of lax.scan + jax.grad",
                "met": None if not (mine and scan) else mine < scan,
                "detail": "not measured" if not (mine and scan) else
                f"jaxdnn-manual {mine:.3g} s vs jax-scan-grad {scan:.3g} s: x{mine / scan:.2f}"})
    sw = problems.get("sweep")
    ok = sw is not None and sw.get("status") == "ok"
    out.append({"goal": "sweep: vmapped planar models within 2x of the floor per model-iteration",
                "met": sw["ratio_to_floor"] <= 2 if ok else None,
                "detail": (f"{sw['seconds_per_model_iteration']:.3g} s per model-iteration: "
                           f"x{sw['ratio_to_floor']:.2f} of the floor, x{sw['ratio_to_single']:.3f}"
                           f" of one model's iteration") if ok else "not measured"})
    return out


# ----------------------------------------------------------------------------------------------
# Markdown


def _s(x) -> str:
    """Seconds, readably."""
    if x is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} s"


def _md_table(headers, rows) -> str:
    cell = lambda x: str(x).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(cell, r)) + " |" for r in rows])


def markdown(result: dict) -> str:
    mach = result["machine"] or {}
    v = mach.get("versions", {})
    lines = [f"# jaxdnn speed benchmark: {result['name']}", "", f"**Question.** {QUESTION}", "",
             _md_table(["machine", ""], [
                 ["CPU", mach.get("cpu")], ["cores", mach.get("cores")],
                 ["device (jax)", mach.get("device")], ["platform", mach.get("platform")],
                 ["versions", ", ".join(f"{k} {val}" for k, val in v.items() if val)],
                 ["NumPy BLAS", mach.get("numpy_blas")],
                 ["torch threads", mach.get("torch_threads")],
                 ["environment", ", ".join(f"{k}={val}" for k, val in
                                           (mach.get("environment") or {}).items()) or "(none)"],
                 ["date", result["date"]], ["command", f"`{result['command']}`"],
                 ["wall time", f"{result['wall_seconds']:.0f} s"]]), ""]
    if result["config"]["quick"]:
        lines += ["**--quick run**: few iterations and a smaller `wide`; not a measurement.", ""]
    lines += ["Median seconds per iteration over the timed rounds (peers timed round-robin after a "
              "warm-up, in one process per problem); `x fastest` and `x floor` are ratios; "
              "compile is the warm-up's time beyond its iterations.", ""]
    for name, res in result["problems"].items():
        if name == "sweep":
            continue
        lines += [f"## {name}", ""]
        if res.get("status") != "ok":
            lines += [f"**{res.get('status', 'failed').upper()}**: {res.get('reason')}", ""]
            continue
        f, mem = res["floor"], res["memory"]
        lines += [f"layers {res['layers']}, {', '.join(res['activations'])}; m = {res['m']}; "
                  f"{res['iterations']} iterations, lr {res['learning_rate']}, init "
                  f"`{res['init']}`, float32, {res['repeats']} rounds. Data: {res['data']}.", ""]
        rows = []
        for peer in PEERS:
            rec = res["peers"][peer]
            if rec["status"] != "ok":
                rows.append([peer, f"{rec['status']}: {rec['reason']}"] + [""] * 7)
                continue
            bold = "**" if peer == res["fastest"] else ""
            rows.append([
                f"{bold}{peer}{bold}", f"{bold}{_s(rec['seconds_per_iteration'])}{bold}",
                f"{_s(rec['min_seconds_per_iteration'])} - {_s(rec['max_seconds_per_iteration'])}",
                f"{rec['ratio_to_fastest']:.2f}", f"{rec['ratio_to_floor']:.2f}",
                f"{rec['final_cost']:.6g}", _s(rec["compile_seconds"]),
                f"{rec['peak_rss_mib']:.0f} (+{rec['rss_growth_mib']:.0f})", rec["description"]])
        rows.append(["*floor*", _s(f["seconds_per_iteration"]), "", "", "1.00", "", "", "",
                     f"{f['bound']}-bound: 6mP = {f['gemm_flops']:.3g} FLOPs at "
                     f"{f['gemm_flops_per_s'][f['best_gemm']] / 1e9:.0f} GFLOP/s "
                     f"({f['best_gemm']}) = {_s(f['gemm_seconds'])}; transcendentals "
                     f"{_s(f['elementwise_seconds'])}"])
        lines += [_md_table(["peer", "s / iteration", "spread", "x fastest", "x floor",
                             "final cost", "compile", "peak RSS MiB (+ growth)", "what"], rows), ""]
        rates = ", ".join(f"{k} {val / 1e9:.3g}" for k, val in f["gemm_flops_per_s"].items())
        lines += [f"- Floor probes (jax): GEMM GFLOP/s {rates}; tanh {f['tanh_per_s'] / 1e9:.2f} "
                  f"G/s, exp {f['exp_per_s'] / 1e9:.2f} G/s. Counting only the GEMMs that "
                  f"gradient descent needs (no dA_0 = W_1^T dZ_1) the floor is "
                  f"{_s(f['floor_needed_flops_seconds'])}."]
        agree = res["cost_agreement_with_jaxdnn_manual"]
        if agree:
            parts = []
            for peer, a in agree.items():
                apart = ("never apart by more than 1e-4" if a["first_iteration_apart"] is None
                         else f"apart by more than 1e-4 from iteration {a['first_iteration_apart']}"
                         f" (until then at most {a['max_before_apart']:.1e})")
                parts.append(f"{peer} {a['final']:.1e} ({apart})")
            lines.append("- Cost curves against jaxdnn-manual, relative difference of the final "
                         "cost: " + "; ".join(parts) + ".")
        load = res.get("load_average") or {}
        lines += [f"- Memory: data + params {mem['data_params_mib']:.1f} MiB; RSS before the data "
                  f"{mem['rss_before_data_mib']:.0f} MiB (interpreter and libraries); peak RSS "
                  f"{mem['peak_rss_mib']:.0f} MiB ({mem['method']}); `+ growth` is how far a "
                  f"peer's runs raised the RSS above what it found.",
                  f"- Load average (1, 5, 15 min) before / after: {load.get('before')} / "
                  f"{load.get('after')}.", ""]
    sw = result["problems"].get("sweep")
    if sw is not None:
        lines += ["## sweep: many planar models in one program", ""]
        if sw.get("status") != "ok":
            lines += [f"**{sw.get('status', 'failed').upper()}**: {sw.get('reason')}", ""]
        else:
            f, mem = sw["floor"], sw["memory"]
            lines += [f"`jax.jit(jax.vmap(fit))` over {sw['models']} initial params (init "
                      f"`{sw['init']}`, different seeds), layers {sw['layers']}, m = {sw['m']}, "
                      f"{sw['iterations']} iterations, beside one `fit` of the same length.", "",
                      _md_table(["", "s / model-iteration", "x single model", "x floor"], [
                          [f"sweep of {sw['models']}", _s(sw["seconds_per_model_iteration"]),
                           f"{sw['ratio_to_single']:.3f}", f"{sw['ratio_to_floor']:.1f}"],
                          ["one model", _s(sw["single_model_seconds_per_iteration"]), "1",
                           f"{sw['single_model_seconds_per_iteration'] / f['seconds_per_iteration']:.1f}"],
                          ["*floor*", _s(f["seconds_per_iteration"]), "", "1.0"]]), "",
                      f"- One call: {_s(sw['seconds_per_call'])} (compile {_s(sw['compile_seconds'])})"
                      f"; model 0 of the sweep equals the single fit: "
                      f"{sw['model0_matches_single_fit']}; final costs min / median / max "
                      + " / ".join(f"{c:.4f}" for c in sw["final_cost_min_median_max"]) + ".",
                      f"- Floor per model-iteration: {f['bound']}-bound, GEMM {_s(f['gemm_seconds'])}, "
                      f"transcendentals {_s(f['elementwise_seconds'])} (tanh "
                      f"{f['tanh_per_s'] / 1e9:.2f} G/s, exp {f['exp_per_s'] / 1e9:.2f} G/s).",
                      f"- Memory: data + params {mem['data_params_mib']:.2f} MiB; peak RSS "
                      f"{mem['peak_rss_mib']:.0f} MiB, RSS before the data "
                      f"{mem['rss_before_data_mib']:.0f} MiB.", ""]
    lines += ["## Goals", "", _md_table(["goal", "met", "measured"], [
        [g["goal"], {True: "yes", False: "**no**", None: "-"}[g["met"]], g["detail"]]
        for g in result["goals"]]), ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------


def main(argv=None) -> dict:
    """Run the benchmark; write ``OUT/NAME.json`` and ``OUT/NAME.md``; return the result."""
    parsed = parse_args(argv)
    if isinstance(parsed, tuple):  # the child process
        cfg, spec = parsed
        _child(cfg, spec)
        return {}
    cfg = parsed
    t0 = time.perf_counter()
    got = _run_children(cfg)
    name = cfg.name or (got["machine"] or {}).get("backend") or "cpu"
    problems = {p: got["problems"].get(p, {"problem": p, "status": "failed",
                                           "reason": "no result"}) for p in cfg.configs}
    result = {
        "name": name, "question": QUESTION,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m experiments.bench " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "config": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in dataclasses.asdict(cfg).items()},
        "machine": got["machine"], "problems": problems, "goals": goals(problems),
        "wall_seconds": time.perf_counter() - t0,
    }
    out = pathlib.Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    md = markdown(result)
    (out / f"{name}.md").write_text(md + "\n")
    print(md, flush=True)
    return result


if __name__ == "__main__":
    main()
