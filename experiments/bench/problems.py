"""The command line and the problems: each a network, its data and its training (full-batch
gradient descent for ``iterations`` steps, or ``iterations`` epochs of minibatches)."""

from __future__ import annotations

import argparse
import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn import data
from jaxdnn.initializers import SCALES

PEERS = ("jaxdnn-manual", "jaxdnn-autodiff", "jax-jit-loop", "jax-scan-grad", "numpy",
         "torch-eager", "torch-compile", "sklearn")
TIMED = ("planar", "cat", "wide", "mnist", "softmax", "softmax-mb")  # every peer is timed on these
PROBLEMS = TIMED + ("sweep", "overhead", "resume", "mixed", "growth")
PROFILES = {  # the defaults of --configs, --peers, --repeats, --isolate; --quick: every code
    # path but wide's. On a GPU each process pays for starting CUDA in JAX and PyTorch and for
    # PyTorch's compile workers: the cuda profile runs its problems in one process
    "cpu": dict(configs=PROBLEMS, peers=PEERS, repeats=5, isolate=True),
    "quick": dict(configs=tuple(p for p in PROBLEMS if p != "wide"), peers=PEERS, repeats=1,
                  isolate=False),
    "cuda": dict(configs=tuple(p for p in PROBLEMS if p != "growth"), repeats=3, isolate=False,
                 peers=("jaxdnn-manual", "jaxdnn-autodiff", "jax-scan-grad", "torch-eager",
                        "torch-compile"))}


def parse_args(argv=None, doc=None) -> argparse.Namespace:
    """The settings from the command line, with the profile's defaults filled in."""
    p = argparse.ArgumentParser("python -m experiments.bench", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add, names = p.add_argument, lambda text: tuple(text.split(","))
    add("--configs", type=names, help=f"some of {','.join(PROBLEMS)}")
    add("--peers", type=names, help=f"some of {','.join(PEERS)}")
    add("--repeats", type=int, help="timed rounds (the median is reported)")
    add("--device", choices=("cpu", "cuda"), default="cpu", help="PyTorch's device, the profile")
    add("--out", default="out/bench", help="folder for NAME.json, NAME.md")
    add("--name", help="file name stem (default: the JAX backend)")
    add("--isolate", action=argparse.BooleanOptionalAction, help="each problem in a process of "
        "its own, with its own peak memory (default: on CPU; the cuda profile runs its problems "
        "in one process but for resume, whose XLA flag is read at start-up)")
    add("--quick", action="store_true", help="a smoke run: small shapes, one process, XLA "
        "without LLVM's optimisations, no torch.compile (10-30 s per shape)")
    cfg = p.parse_args(argv)
    for k, v in PROFILES["quick" if cfg.quick else cfg.device].items():
        setattr(cfg, k, v if getattr(cfg, k) is None else getattr(cfg, k))
    if set(cfg.configs) - set(PROBLEMS) or set(cfg.peers) - set(PEERS) or cfg.repeats < 1:
        p.error(f"expected --configs from {','.join(PROBLEMS)}, --peers from {','.join(PEERS)}"
                f" and --repeats >= 1; got {cfg.configs}, {cfg.peers}, {cfg.repeats}")
    return cfg


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str
    dims: tuple[int, ...]
    hidden: str  # the hidden layers' activation
    output: str  # "sigmoid" (binary cross-entropy) or "softmax" (categorical cross-entropy)
    m: int
    learning_rate: float
    init: str  # a jaxdnn.init_params method
    iterations: int  # full-batch iterations, or epochs of minibatches of batch_size
    batch_size: int | None = None
    data: str = "random"  # or "flower", "cat"

    activations = property(lambda self: (self.hidden,) * (len(self.dims) - 2) + (self.output,))


MNIST = (784, 128, 64)
_PROBLEMS = {p.name: p for p in (  # planar and cat: the course's, with its settings
    Problem("planar", (2, 4, 1), "tanh", "sigmoid", 400, 1.2, "small", 2000, None, "flower"),
    Problem("cat", (12288, 20, 7, 5, 1), "relu", "sigmoid", 209, 0.0075, "xavier", 100, None,
            "cat"),
    Problem("wide", (1024, 1024, 1024, 1), "relu", "sigmoid", 4096, 0.0075, "he", 6),
    Problem("mnist", MNIST + (1,), "relu", "sigmoid", 60_000, 0.05, "he", 1, 256),
    Problem("softmax", MNIST + (10,), "relu", "softmax", 10_000, 0.1, "he", 10),
    Problem("softmax-mb", MNIST + (10,), "relu", "softmax", 60_000, 0.05, "he", 1, 256),
    Problem("sweep", (2, 4, 1), "tanh", "sigmoid", 400, 1.2, "small", 100, None, "flower"),
    Problem("overhead", (2, 4, 1), "tanh", "sigmoid", 400, 1.2, "small", 10, None, "flower"),
    Problem("resume", MNIST + (1,), "relu", "sigmoid", 60_000, 0.05, "he", 4, 256),
    Problem("mixed", MNIST + (1,), "relu", "sigmoid", 60_000, 0.05, "he", 5))}
# --quick: small shapes and few iterations; where problems can share a compiled program they do:
# sweep's single fit is planar's (and overhead's), 10 iterations of the same network and data;
# resume's chunk of one epoch is growth's minibatch point at m = 1024 (same network, m, batch)
_QUICK = {"planar": dict(iterations=10), "cat": dict(iterations=2), "sweep": dict(iterations=10),
          "wide": dict(dims=(256, 256, 256, 1), m=512, iterations=2),
          "mnist": dict(m=1000, iterations=2), "softmax": dict(m=500, iterations=2),
          "softmax-mb": dict(m=1000, iterations=2),  # 3 full minibatches and one of 232
          "overhead": {}, "resume": dict(m=1024, iterations=2), "mixed": dict(m=1000, iterations=2)}


def problem(name: str, cfg) -> Problem:
    """The problem ``name``, at ``--quick`` sizes where asked."""
    return dataclasses.replace(_PROBLEMS[name], **(_QUICK[name] if cfg.quick else {}))


def num_weights(dims) -> int:
    """P: the entries of all the W's."""
    return sum(a * b for a, b in zip(dims[:-1], dims[1:]))


def make_data(prob: Problem):
    """``(X, Y, source)``: float32 ``(n_x, m)``, ``(n_L, m)`` (one-hot for softmax); random data
    is ``N(0, 1)`` with Bernoulli(0.5) labels, or a random linear map's argmax for softmax."""
    rs, (n_x, n_L, m) = np.random.RandomState(0), (prob.dims[0], prob.dims[-1], prob.m)
    source = prob.data
    if prob.data == "flower":
        X, Y = data.planar_flower(m)
    elif prob.data == "cat":
        try:
            (X, Y, *_), source = data.load_catvnoncat(), f"cat: {data.find_cat_dir()}"
        except (FileNotFoundError, ImportError, ValueError) as e:
            X, Y = rs.uniform(size=(n_x, m)), rs.uniform(size=(1, m)) < 0.35
            source = f"random U(0, 1) of the cat set's shape (no cat data: {e})"
    elif prob.output == "softmax":  # labels from a random linear map: a learnable problem
        X = rs.standard_normal((n_x, m))
        Y = np.eye(n_L)[:, np.argmax(rs.standard_normal((n_L, n_x)) @ X, axis=0)]  # (n_L, m)
    else:
        X, Y = rs.standard_normal((n_x, m)), rs.uniform(size=(1, m)) < 0.5  # Bernoulli(0.5)
    return np.ascontiguousarray(X, np.float32), np.ascontiguousarray(Y, np.float32), source


def init_params(seed: int, prob: Problem) -> list[dict]:
    """Float32 NumPy params drawn as ``jaxdnn.init_params(..., prob.init)`` draws them."""
    rs = np.random.RandomState(seed)
    return [{"W": (SCALES[prob.init](a) * rs.standard_normal((b, a))).astype(np.float32),
             "b": np.zeros((b, 1), np.float32)} for a, b in zip(prob.dims[:-1], prob.dims[1:])]


def shuffle_orders(key, epochs: int, m: int) -> np.ndarray:
    """``(epochs, m)``: each epoch's example order, as ``jaxdnn.fit`` draws it from ``key``."""
    return np.array(_orders(key, epochs, m))  # a writable copy, as torch.from_numpy wants


@partial(jax.jit, static_argnums=(1, 2))  # one program, not each random op compiled eagerly
def _orders(key, epochs: int, m: int):
    k_shuffle = jax.random.split(key)[0]
    return jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(k_shuffle, e), m))(
        jnp.arange(epochs))


def batch_slices(m: int, batch_size: int | None) -> list[tuple[int, int]]:
    """The ``(start, stop)`` of each minibatch: full ones, then the ``m % batch_size`` rest."""
    return [(lo, min(lo + (batch_size or m), m)) for lo in range(0, m, batch_size or m)]
