"""The floor: how fast the machine could do one iteration (epoch) of a problem, measured in JAX.

Two floors, each ``max(GEMM time, transcendental time)``:

- **best rate**: ``6 m P`` FLOPs (``P`` weights; forward ``W A``, ``dW = dZ A^T``,
  ``dA = W^T dZ`` for every layer) at the best float32 GEMM rate ``jnp.dot`` reached, on large
  squares or on the problem's own shapes;
- **own shapes**: the time of one compiled program of exactly the GEMMs gradient descent needs
  (the ``3 L - 1`` products of one update at the problem's batch width; no ``dA_0 = W_1^T dZ_1``),
  times the updates per epoch. This is what XLA itself does with these shapes: narrow layers (cat's
  20, 7, 5 units) run far below the large-square rate.

Transcendentals: one ``tanh`` per tanh unit and example (its derivative reuses ``A``), and for the
output ``2 n_L`` exp-like calls per example (sigmoid: ``exp(-|Z|)`` and ``log1p``) or ``n_L + 1``
(softmax: ``exp`` per class and one ``log``), at the measured ``tanh`` and ``exp`` throughput.
Every rate is the fastest round of its probe: a floor must not sit above what the machine did.
"""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np

from experiments.bench.configs import Problem, num_weights


def probes(prob: Problem, quick: bool) -> dict:
    """``{label: (work, fn)}``: GEMMs (work in FLOPs) and transcendentals (work in elements)."""
    import jax
    import jax.numpy as jnp

    out = {}
    rs = np.random.RandomState(1)  # host random numbers: no compilation per shape

    def normal(*shape):
        return jax.device_put(rs.standard_normal(shape).astype(np.float32))

    for n in ((256,) if quick else (512, 1024, 2048)):
        a = normal(n, n)
        out[f"gemm {n}^3"] = (2.0 * n**3, partial(jax.jit(jnp.dot), a, a))

    dims, width = prob.dims, prob.batch_size or prob.m
    Ws = [normal(b, a) for a, b in zip(dims[:-1], dims[1:])]
    As = [normal(a, width) for a in dims[:-1]]
    dZs = [normal(b, width) for b in dims[1:]]

    @jax.jit
    def own(Ws, As, dZs):  # the 3 L - 1 GEMMs of one update, as the course writes them
        fwd = [W @ A for W, A in zip(Ws, As)]  # Z = W A_prev
        dW = [dZ @ A.T for A, dZ in zip(As, dZs)]  # dW = dZ A_prev^T
        dA = [W.T @ dZ for W, dZ in zip(Ws[1:], dZs[1:])]  # dA_prev = W^T dZ, not for layer 1
        return fwd, dW, dA

    needed = 6.0 * width * num_weights(dims) - 2.0 * width * dims[0] * dims[1]
    out["gemm own shapes"] = (needed, partial(own, Ws, As, dZs))
    size = 2**18 if quick else 2**22
    x = jax.device_put(np.linspace(-4, 4, size, dtype=np.float32))
    out["tanh"] = (float(size), partial(jax.jit(jnp.tanh), x))
    out["exp"] = (float(size), partial(jax.jit(jnp.exp), x))
    return out


def compile_probes(found: dict) -> None:
    import jax

    for _, fn in found.values():
        jax.block_until_ready(fn())


def time_probes(found: dict, times: dict) -> None:
    """One round of the probes: each the fastest of up to 3 calls (0.2 s at most)."""
    import jax

    for k, (_, fn) in found.items():
        best, spent = math.inf, 0.0
        for _ in range(3):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            dt = time.perf_counter() - t0
            best, spent = min(best, dt), spent + dt
            if spent > 0.2:
                break
        times.setdefault(k, []).append(best)


def floor(prob: Problem, found: dict, times: dict) -> dict:
    """The floors in seconds per unit (iteration or epoch) from the probes' fastest rounds."""
    dims, m = prob.dims, prob.m
    P = num_weights(dims)
    rates = {k: w / float(np.min(times[k])) for k, (w, _) in found.items()}
    gemm = {k: v for k, v in rates.items() if k.startswith("gemm")}
    best = max(gemm, key=gemm.get)
    acts = prob.activations
    tanh_count = m * sum(n for n, g in zip(dims[1:-1], acts[:-1]) if g == "tanh")
    exp_count = m * (dims[-1] + 1 if prob.output == "softmax" else 2 * dims[-1])
    elementwise_s = tanh_count / rates["tanh"] + exp_count / rates["exp"]
    gemm_s = 6.0 * m * P / gemm[best]
    own_s = float(np.min(times["gemm own shapes"])) * m / (prob.batch_size or m)
    return {
        "seconds": max(gemm_s, elementwise_s),
        "bound": "gemm" if gemm_s >= elementwise_s else "elementwise",
        "gemm_seconds": gemm_s, "elementwise_seconds": elementwise_s,
        "own_shapes_seconds": max(own_s, elementwise_s), "own_shapes_gemm_seconds": own_s,
        "weights_P": P, "gemm_flops": 6.0 * m * P,
        "gemm_flops_per_s": gemm, "best_gemm": best,
        "tanh_per_s": rates["tanh"], "exp_per_s": rates["exp"],
        "tanh_count": tanh_count, "exp_count": exp_count,
    }
