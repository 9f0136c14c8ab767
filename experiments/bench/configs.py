"""The benchmark's settings (one frozen dataclass, parsed from the command line) and its problems.

A problem is a network, its data and its training: full-batch gradient descent for ``iterations``
steps, or minibatch gradient descent for ``iterations`` epochs (``batch_size`` set). Every peer
trains the same problem from the same initial params, in the same minibatch order.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar

import numpy as np

from experiments import common

PEERS = ("jaxdnn-manual", "jaxdnn-autodiff", "jax-jit-loop", "jax-scan-grad", "numpy",
         "torch-eager", "torch-compile", "sklearn")
"""Every peer, in the order the tables show them."""

TIMED = ("planar", "cat", "wide", "mnist", "softmax", "softmax-mb")
"""The problems every peer is timed on."""

PROBLEMS = TIMED + ("sweep", "growth")
"""Every problem: the timed ones, the vmapped planar sweep, and time and memory as m and width
grow."""


@dataclasses.dataclass(frozen=True)
class Config:
    """``python -m experiments.bench`` settings; every field is an option (``--repeats 5``)."""

    configs: tuple[str, ...] = common.option(PROBLEMS, "problems to run", choices=PROBLEMS)
    peers: tuple[str, ...] = common.option(PEERS, "peers to time (the others are listed as not "
                                           "selected)", choices=PEERS)
    repeats: int = common.option(5, "timed rounds after the warm-up; the median is reported")
    iterations: int | None = common.option(None, "one count of iterations (epochs, for minibatch "
                                           "problems) for every problem; default: each problem's")
    device: str = common.option("cpu", "PyTorch's device; JAX uses its default backend (set "
                                "JAX_PLATFORMS=cuda to match --device cuda)",
                                choices=("cpu", "cuda"))
    matmul_precision: str = common.option(
        "float32", "float32 GEMMs in JAX and PyTorch: true float32, or TensorFloat-32 on GPUs "
        "that have it (no effect on CPUs)", choices=("float32", "tf32"))
    out: str = common.option("out/bench", "folder for NAME.json, NAME.md and NAME-growth.png")
    name: str | None = common.option(
        None, "file name stem NAME (default: the JAX backend, e.g. cpu)")
    quick: bool = common.option(False, "smoke run: small shapes, few iterations, one process, "
                                "XLA without LLVM's optimisations (faster compiles), no "
                                "torch.compile (its first compilation takes 10-30 s per shape)")
    sweep_models: int = common.option(1024, "models in the vmapped planar sweep")
    isolate: bool = common.option(True, "run each problem (and each growth point) in its own "
                                  "process, for its own peak memory")
    torch_threads: int | None = common.option(None, "torch.set_num_threads (default: the cores "
                                              "this process may use)")
    child: str | None = common.option(None, "internal: measure the problems of this spec file")

    # wide is left out of the smoke run: planar and cat already take its code path
    QUICK: ClassVar[dict] = {"repeats": 1, "isolate": False,
                             "configs": tuple(p for p in PROBLEMS if p != "wide")}

    def __post_init__(self):
        for name in ("repeats", "iterations", "sweep_models", "torch_threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive int, got {value}")


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str
    dims: tuple[int, ...]
    hidden: str  # hidden-layer activation
    output: str  # "sigmoid" (binary cross-entropy) or "softmax" (categorical cross-entropy)
    m: int
    learning_rate: float
    init: str  # jaxdnn.init_params method
    iterations: int  # full-batch iterations, or epochs with batch_size
    batch_size: int | None = None
    data: str = "random"  # "flower", "cat" or "random"

    @property
    def activations(self) -> tuple[str, ...]:
        return (self.hidden,) * (len(self.dims) - 2) + (self.output,)

    @property
    def unit(self) -> str:
        """What one timed step is: an ``iteration`` (full batch) or an ``epoch``."""
        return "epoch" if self.batch_size else "iteration"

    @property
    def batches(self) -> int:
        """Updates per unit: ``ceil(m / batch_size)``, or 1."""
        return -(-self.m // self.batch_size) if self.batch_size else 1


_MNIST = (784, 128, 64)

_PROBLEMS = {
    # the course's planar exercise: n_h = 4, lr 1.2, W ~ 0.01 N(0, 1)
    "planar": Problem("planar", (2, 4, 1), "tanh", "sigmoid", 400, 1.2, "small", 2000,
                      data="flower"),
    # the course's 4-layer cat model: lr 0.0075, W ~ N(0, 1) / sqrt(n_{l-1})
    "cat": Problem("cat", (12288, 20, 7, 5, 1), "relu", "sigmoid", 209, 0.0075, "xavier", 100,
                   data="cat"),
    "wide": Problem("wide", (1024, 1024, 1024, 1), "relu", "sigmoid", 4096, 0.0075, "he", 6),
    # the workload most users run: an MNIST-shaped minibatch epoch (synthetic data of that shape)
    "mnist": Problem("mnist", _MNIST + (1,), "relu", "sigmoid", 60_000, 0.05, "he", 1,
                     batch_size=256),
    # 10 classes, softmax output, one-hot Y (10, m): full batch and minibatch
    "softmax": Problem("softmax", _MNIST + (10,), "relu", "softmax", 10_000, 0.1, "he", 10),
    "softmax-mb": Problem("softmax-mb", _MNIST + (10,), "relu", "softmax", 60_000, 0.05, "he", 1,
                          batch_size=256),
    "sweep": Problem("sweep", (2, 4, 1), "tanh", "sigmoid", 400, 1.2, "small", 100, data="flower"),
}

_QUICK = {  # smoke-test sizes: seconds in all
    "planar": {"iterations": 10},
    "cat": {"iterations": 2},
    "wide": {"dims": (256, 256, 256, 1), "m": 512, "iterations": 2},
    "mnist": {"m": 1000, "iterations": 2},  # 3 full minibatches and one of 232, as softmax-mb
    "softmax": {"m": 500, "iterations": 2},
    "softmax-mb": {"m": 1000, "iterations": 2},  # 3 full minibatches and one of 232
    "sweep": {"iterations": 5},
}


def problem(name: str, cfg: Config) -> Problem:
    """The problem ``name`` as ``cfg`` sets it (``--quick`` sizes, ``--iterations``)."""
    prob = _PROBLEMS[name]
    if cfg.quick:
        prob = dataclasses.replace(prob, **_QUICK[name])
    if cfg.iterations:
        prob = dataclasses.replace(prob, iterations=cfg.iterations)
    return prob


def num_weights(dims) -> int:
    """P: the entries of all the W's."""
    return sum(a * b for a, b in zip(dims[:-1], dims[1:]))


def make_data(prob: Problem):
    """``(X, Y, source)``: float32 ``(n_x, m)`` and ``(n_L, m)`` NumPy arrays, and their origin.

    For a softmax output ``Y`` is one-hot, one column per example.
    """
    from jaxdnn import data

    rs = np.random.RandomState(0)
    n_x, n_L, m = prob.dims[0], prob.dims[-1], prob.m
    source = None
    if prob.data == "flower":
        X, Y = data.planar_flower(m)
        source = f"jaxdnn.data.planar_flower(m={m}): the course's flower"
    elif prob.data == "cat":
        cat, reason = common.load_cat(None)
        if cat is not None:
            X, Y = cat.train_x, cat.train_y
            source = f"the course's training set, {data.find_cat_dir()}"
        else:
            X = rs.uniform(0, 1, (n_x, m))
            Y = (rs.uniform(0, 1, (1, m)) < 0.35).astype(np.float64)
            source = f"random U(0, 1) data of the training set's shape ({reason})"
    if source is None:
        X = rs.standard_normal((n_x, m))
        if prob.output == "softmax":  # labels from a random linear map: a learnable problem
            labels = np.argmax(rs.standard_normal((n_L, n_x)) @ X, axis=0)
            Y = np.eye(n_L)[:, labels]  # one-hot, (n_L, m)
            source = f"random: X ~ N(0, 1), labels argmax(R X) with R ~ N(0, 1) ({n_L}, {n_x})"
        else:
            Y = (rs.uniform(0, 1, (1, m)) < 0.5).astype(np.float64)
            source = "random: X ~ N(0, 1), Y ~ Bernoulli(0.5)"
    return np.ascontiguousarray(X, np.float32), np.ascontiguousarray(Y, np.float32), source


def shuffle_orders(key, epochs: int, m: int) -> np.ndarray:
    """``(epochs, m)``: the example order of each epoch, as ``jaxdnn.fit`` draws it from ``key``.

    ``fit`` splits ``key`` into a shuffle key and a dropout key and takes epoch ``e``'s order as
    ``jax.random.permutation(fold_in(shuffle_key, e), m)``. The peers train on these orders, so
    their minibatches are ``fit``'s; the tests' cost comparison fails if the two ever part.
    """
    # one compiled call (the split too), and one compile per (epochs, m) for the whole run
    return np.array(_orders(m)(key, np.arange(epochs)))


@functools.cache
def _orders(m: int):
    import jax

    def draw(key, epochs):  # epochs: (E,) ints
        k_shuffle, _ = jax.random.split(key)
        return jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(k_shuffle, e), m))(
            epochs)

    return jax.jit(draw)


def init_params(seed: int, prob: Problem) -> list[dict]:
    """The problem's initial params, float32: ``W_l`` a ``N(0, 1)`` draw times the scale
    ``jaxdnn.init_params`` gives ``prob.init`` (``jaxdnn.initializers.SCALES``), ``b_l = 0``.

    Drawn with NumPy from ``seed``: every peer starts from these params, and a JAX draw compiles
    the random-number generator once per problem's shapes (seconds each on 2 cores).
    """
    import jax

    from jaxdnn.initializers import SCALES

    rs = np.random.RandomState(seed)
    params = [{"W": (SCALES[prob.init](n_prev) * rs.standard_normal((n, n_prev))  # (n_l, n_{l-1})
                     ).astype(np.float32),
               "b": np.zeros((n, 1), np.float32)}  # (n_l, 1)
              for n_prev, n in zip(prob.dims[:-1], prob.dims[1:])]
    return jax.device_put(params)


def batch_slices(m: int, batch_size: int | None):
    """The ``(start, stop)`` of each minibatch: full ones, then the ``m % batch_size`` rest."""
    bs = batch_size or m
    return [(lo, min(lo + bs, m)) for lo in range(0, m, bs)]
