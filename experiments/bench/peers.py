"""The peers: the same training written eight ways.

Each peer's ``prepare(setup)`` returns ``(run, warm_n)``: ``run(n)`` trains ``n`` iterations
(epochs, for a minibatch problem) from the initial params and returns its costs in whatever form the
peer keeps them (``costs[i]`` before update ``i``, or the mean per-example cost of epoch ``i`` over
its minibatches, each taken before that minibatch's update, as ``jaxdnn.fit`` reports it);
:func:`as_curve` turns them into NumPy after the clock has stopped. ``warm_n`` is what the warm-up
runs (a peer whose compiled program is keyed on ``n`` warms up with the full run).

Minibatch problems: every peer takes epoch ``e``'s examples in ``setup.orders[e]``, the order
``jaxdnn.fit`` draws from ``setup.key``, in batches of ``batch_size`` and a last one of the rest, so
all peers do the same training. A peer that cannot run here raises :class:`Skip` with the reason.
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import numpy as np

from experiments.bench.configs import Problem, batch_slices


class Skip(Exception):
    """A peer that cannot run here (a package or a jaxdnn feature is missing): reported, not
    fatal."""


@dataclasses.dataclass
class Setup:
    """One problem's inputs, shared by the peers (NumPy arrays and their JAX copies)."""

    prob: Problem
    X: np.ndarray  # (n_x, m) float32
    Y: np.ndarray  # (n_L, m) float32; one-hot for softmax
    params: list  # jaxdnn.init_params(...): list of {"W", "b"} jax arrays
    key: object  # jaxdnn.fit's key (minibatch order)
    orders: np.ndarray | None  # (epochs, m) int: each epoch's example order, or None
    quick: bool
    device: str  # PyTorch's device
    torch_threads: int
    precision: str = "float32"  # float32 GEMMs, or "tf32"
    info: dict = dataclasses.field(default_factory=dict)  # what peers report beside their costs

    @property
    def np_params(self):
        return [{k: np.asarray(v) for k, v in p.items()} for p in self.params]

    @property
    def labels(self) -> np.ndarray:
        """``(m,)`` integer labels: the class index (softmax) or the 0/1 label."""
        return (np.argmax(self.Y, axis=0) if self.prob.output == "softmax"
                else self.Y[0]).astype(np.int64)


def as_curve(costs) -> np.ndarray:
    """A peer's costs as a float64 NumPy array (jax or torch scalars, lists or arrays)."""
    if isinstance(costs, (list, tuple)):
        return np.array([float(c) for c in costs], np.float64)
    return np.asarray(costs, np.float64).ravel()


# ----------------------------------------------------------------------------------------------
# jaxdnn itself


def jaxdnn_fit(grad: str, s: Setup):
    import jax

    import jaxdnn

    if s.prob.output not in jaxdnn.ACTIVATIONS:
        raise Skip(f"this jaxdnn has no {s.prob.output!r} output (jaxdnn.ACTIVATIONS: "
                   f"{', '.join(sorted(jaxdnn.ACTIVATIONS))})")
    X, Y = jax.device_put(s.X), jax.device_put(s.Y)
    mb = {"batch_size": s.prob.batch_size, "key": s.key} if s.prob.batch_size else {}

    def run(n):
        params, costs = jaxdnn.fit(s.params, X, Y, s.prob.activations,
                                   learning_rate=s.prob.learning_rate, num_iterations=n,
                                   grad=grad, chunk_size=n, progress=False, **mb)
        jax.block_until_ready(params)
        return costs

    return run, s.prob.iterations  # the compiled chunk is keyed on its length


# ----------------------------------------------------------------------------------------------
# plain JAX: the cost written here, jax.grad, and a loop from Python or lax.scan


def jax_cost(params, X, Y, activations):
    """The network's cost in plain ``jax.numpy`` (independent of jaxdnn's): mean BCE or CE."""
    import jax
    import jax.numpy as jnp

    A = X
    for p, g in zip(params, activations):
        Z = p["W"] @ A + p["b"]  # (n_l, m)
        A = jnp.tanh(Z) if g == "tanh" else jax.nn.relu(Z)  # the output's A is not used
    if activations[-1] == "softmax":
        return -jnp.sum(Y * jax.nn.log_softmax(Z, axis=0)) / X.shape[1]  # categorical CE
    return jnp.sum(jax.nn.softplus(Z) - Z * Y) / X.shape[1]  # BCE from the logits


def _gd_step(params, X, Y, lr, activations):
    """``jax.value_and_grad`` of :func:`jax_cost` and ``W -= lr dW``: one update."""
    import jax

    J, g = jax.value_and_grad(jax_cost)(params, X, Y, activations)
    return jax.tree.map(lambda p, d: p - lr * d, params, g), J


def _batch_step(params, X, Y, idx, lr, activations):
    """One minibatch update on the columns ``idx`` of ``X`` and ``Y`` (gathered here)."""
    import jax.numpy as jnp

    return _gd_step(params, jnp.take(X, idx, axis=1), jnp.take(Y, idx, axis=1), lr, activations)


def jax_jit_loop(s: Setup):
    import jax
    import jax.numpy as jnp

    own_copy = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))

    prob = s.prob
    X, Y = jax.device_put(s.X), jax.device_put(s.Y)
    lr = jnp.asarray(prob.learning_rate, jnp.float32)
    if prob.batch_size:
        step = jax.jit(_batch_step, static_argnames="activations", donate_argnums=0)
        orders = jax.device_put(s.orders.astype(np.int32))
        slices = batch_slices(prob.m, prob.batch_size)

        def epoch(params, e):
            costs = []
            for lo, hi in slices:
                params, J = step(params, X, Y, orders[e, lo:hi], lr, activations=prob.activations)
                costs.append(J * (hi - lo))
            return params, sum(costs) / prob.m
    else:
        step = jax.jit(_gd_step, static_argnames="activations", donate_argnums=0)

        def epoch(params, e):
            return step(params, X, Y, lr, activations=prob.activations)

    def run(n):
        params = own_copy(s.params)  # fresh buffers to donate, one compiled call
        costs = []
        for e in range(n):
            params, J = epoch(params, e)
            costs.append(J)
        jax.block_until_ready((params, costs))
        return costs  # device scalars: fetched after the clock stops

    return run, min(prob.iterations, 2)


def _scan_train(params, X, Y, orders, lr, activations, n, batch_size):
    """``n`` iterations (or epochs over ``orders``) of :func:`_gd_step` inside ``lax.scan``."""
    import jax
    import jax.numpy as jnp

    if not batch_size:
        return jax.lax.scan(lambda p, _: _gd_step(p, X, Y, lr, activations), params, None,
                            length=n)
    m = X.shape[1]
    n_full, rest = divmod(m, batch_size)

    def epoch(p, order):
        def minibatch(p, idx):  # idx: (batch_size,) example indices, gathered per batch
            return _batch_step(p, X, Y, idx, lr, activations)

        p, J = jax.lax.scan(minibatch, p, order[: n_full * batch_size].reshape(n_full, -1))
        total = jnp.sum(J) * batch_size
        if rest:
            p, J_rest = _batch_step(p, X, Y, order[n_full * batch_size:], lr, activations)
            total = total + J_rest * rest
        return p, total / m

    return jax.lax.scan(epoch, params, orders[:n])


def jax_scan_grad(s: Setup):
    import jax
    import jax.numpy as jnp

    own_copy = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))

    prob = s.prob
    train = jax.jit(_scan_train, static_argnames=("activations", "n", "batch_size"),
                    donate_argnums=0)
    X, Y = jax.device_put(s.X), jax.device_put(s.Y)
    orders = jax.device_put(
        (s.orders if s.orders is not None else np.zeros((1, 1))).astype(np.int32))
    lr = jnp.asarray(prob.learning_rate, jnp.float32)

    def run(n):
        params = own_copy(s.params)  # fresh buffers to donate, one compiled call
        params, costs = train(params, X, Y, orders, lr, activations=prob.activations, n=n,
                              batch_size=prob.batch_size)
        jax.block_until_ready((params, costs))
        return costs

    return run, prob.iterations


# ----------------------------------------------------------------------------------------------
# NumPy: the course's hand-derived backprop


def numpy_step(params, X, Y, activations, learning_rate):
    """One gradient-descent update with the course's hand-derived backprop, NumPy, in place.

    Same equations as :mod:`jaxdnn.backward`: the cost from the logits (log-sigmoid or
    log-softmax form), ``dZ_L = A_L - Y``, ``dW = dZ A_prev^T / m``, ``db = sum(dZ) / m``,
    ``dA_prev = W^T dZ``, ``dZ = dA * g'(Z)`` with ``tanh' = 1 - A^2`` and ``relu' = 1[Z > 0]``,
    then ``W -= lr dW``.

    Args:
      params: list of ``(W, b)`` NumPy arrays, updated in place.
      X: ``(n_x, m)``; Y: ``(n_L, m)``, one-hot for a softmax output; all of one dtype.
      activations: hidden ``"tanh"`` or ``"relu"``; output ``"sigmoid"`` or ``"softmax"``.

    Returns:
      the cost before the update.
    """
    L, m = len(params), X.shape[1]
    caches, A = [], X
    for l, (W, b) in enumerate(params):
        Z = W @ A + b  # (n_l, m)
        caches.append((A, Z))
        if l < L - 1:
            A = np.tanh(Z) if activations[l] == "tanh" else np.maximum(Z, 0)
    if activations[-1] == "softmax":
        shifted = Z - Z.max(axis=0, keepdims=True)
        log_p = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))  # log softmax
        cost = -np.sum(Y * log_p) / m  # categorical CE
        AL = np.exp(log_p)  # softmax(Z_L)
    else:
        e = np.exp(-np.abs(Z))  # exp(-|Z_L|): the sigmoid and the log-sigmoid without overflow
        cost = np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(e)) / m  # BCE from the logits
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
    return cost


def numpy_train(params, X, Y, activations, learning_rate, num_iterations, *, orders=None,
                batch_size=None):
    """``num_iterations`` full-batch updates, or epochs of minibatches in ``orders[e]``, in place.

    Returns:
      ``costs``: ``(num_iterations,)`` as ``jaxdnn.fit`` reports them.
    """
    m = X.shape[1]
    costs = np.empty(num_iterations, np.float64)
    for e in range(num_iterations):
        if not batch_size:
            costs[e] = numpy_step(params, X, Y, activations, learning_rate)
            continue
        total = 0.0
        for lo, hi in batch_slices(m, batch_size):
            idx = orders[e, lo:hi]
            total += (numpy_step(params, X[:, idx], Y[:, idx], activations, learning_rate)
                      * (hi - lo))
        costs[e] = total / m
    return costs


def numpy_peer(s: Setup):
    init = s.np_params

    def run(n):
        params = [(p["W"].copy(), p["b"].copy()) for p in init]
        return numpy_train(params, s.X, s.Y, s.prob.activations, s.prob.learning_rate, n,
                           orders=s.orders, batch_size=s.prob.batch_size)

    return run, min(s.prob.iterations, 1 if s.prob.batch_size else 2)


# ----------------------------------------------------------------------------------------------
# PyTorch


def import_torch(threads: int, device: str, precision: str):
    try:
        import torch
    except ImportError as e:
        raise Skip(f"PyTorch is not installed ({e}); pip install 'jaxdnn[bench]'") from None
    torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise Skip("--device cuda, but this PyTorch sees no CUDA device")
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    return torch


def torch_step(params, X, Y, lr: float, activations: tuple):
    """One update in PyTorch: forward, the cost from the logits, autograd, ``W -= lr dW``."""
    import torch
    import torch.nn.functional as F

    A = X
    for l in range(len(params) // 2):
        Z = params[2 * l] @ A + params[2 * l + 1]  # (n_l, m)
        A = torch.tanh(Z) if activations[l] == "tanh" else torch.relu(Z)
    if activations[-1] == "softmax":
        J = -(Y * torch.log_softmax(Z, dim=0)).sum() / Y.shape[1]  # categorical CE
    else:
        J = F.binary_cross_entropy_with_logits(Z, Y, reduction="sum") / Y.shape[1]
    J.backward()
    with torch.no_grad():
        for p in params:
            p.sub_(lr * p.grad)  # W -= lr * dW
            p.grad = None
    return J.detach()


def torch_peer(s: Setup, compiled: bool):
    torch = import_torch(s.torch_threads, s.device, s.precision)
    if compiled and s.quick:
        raise Skip("--quick: torch.compile's first compilation alone takes 10-30 s per shape")
    prob, dev = s.prob, torch.device(s.device)
    X, Y = torch.from_numpy(s.X).to(dev), torch.from_numpy(s.Y).to(dev)
    init = [torch.from_numpy(np.array(a)).to(dev) for p in s.np_params for a in (p["W"], p["b"])]
    step = torch_step
    if compiled:
        # one graph for forward, backward and update where this PyTorch can trace .backward()
        if hasattr(torch._dynamo.config, "trace_autograd_ops"):
            torch._dynamo.config.trace_autograd_ops = True
        step = torch.compile(torch_step)
    orders = torch.from_numpy(s.orders).to(dev) if s.orders is not None else None
    slices = batch_slices(prob.m, prob.batch_size)

    def epoch(params, e):
        if not prob.batch_size:
            return step(params, X, Y, prob.learning_rate, prob.activations)
        total = 0.0
        for lo, hi in slices:
            idx = orders[e, lo:hi]  # this minibatch's columns, gathered per batch
            total = total + step(params, X[:, idx], Y[:, idx], prob.learning_rate,
                                 prob.activations) * (hi - lo)
        return total / prob.m

    def run(n):
        params = [a.clone().requires_grad_() for a in init]
        costs = [epoch(params, e) for e in range(n)]
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return costs

    return run, min(prob.iterations, 1 if prob.batch_size else 3)


# ----------------------------------------------------------------------------------------------
# scikit-learn


def sklearn_peer(s: Setup):
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as e:
        raise Skip(f"scikit-learn is not installed ({e}); pip install scikit-learn") from None
    prob = s.prob
    if prob.hidden not in ("tanh", "relu"):
        raise Skip(f"MLPClassifier has no {prob.hidden!r} activation")
    Xt = np.ascontiguousarray(s.X.T)  # (m, n_x): scikit-learn puts examples in rows
    y = s.labels
    # each epoch's examples in fit's order; shuffle=False keeps them so (made before the clock)
    epochs = ([(np.ascontiguousarray(Xt[o]), y[o]) for o in s.orders]
              if prob.batch_size else None)

    def run(n):
        clf = MLPClassifier(
            hidden_layer_sizes=prob.dims[1:-1], activation=prob.hidden, solver="sgd",
            batch_size=prob.batch_size or prob.m, learning_rate="constant",
            learning_rate_init=prob.learning_rate, momentum=0.0, nesterovs_momentum=False,
            alpha=0.0, max_iter=n, tol=0.0, n_iter_no_change=n + 1, shuffle=False,
            early_stopping=False, random_state=0)
        inits = iter([(p["W"].T.copy(), p["b"].ravel().copy()) for p in s.np_params])
        used = []

        def init_coef(fan_in, fan_out, dtype):  # start from our params, not Glorot's
            W, b = next(inits)
            used.append((fan_in, fan_out))
            return W.astype(dtype), b.astype(dtype)

        clf._init_coef = init_coef  # a private hook: checked below, else reported
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if prob.batch_size:  # one partial_fit per epoch: one pass over that epoch's order
                for e in range(n):
                    clf.partial_fit(*epochs[e], classes=np.arange(max(prob.dims[-1], 2)))
            else:
                clf.fit(Xt, y)
        if len(clf.loss_curve_) != n:
            raise RuntimeError(f"MLPClassifier ran {len(clf.loss_curve_)} epochs, not {n}")
        s.info["sklearn_same_init"] = len(used) == len(prob.dims) - 1
        s.info["sklearn_dtype"] = str(clf.coefs_[0].dtype)
        return clf.loss_curve_

    return run, min(prob.iterations, 1 if prob.batch_size else 2)


PREPARE = {
    "jaxdnn-manual": partial(jaxdnn_fit, "manual"),
    "jaxdnn-autodiff": partial(jaxdnn_fit, "autodiff"),
    "jax-jit-loop": jax_jit_loop,
    "jax-scan-grad": jax_scan_grad,
    "numpy": numpy_peer,
    "torch-eager": partial(torch_peer, compiled=False),
    "torch-compile": partial(torch_peer, compiled=True),
    "sklearn": sklearn_peer,
}

DESCRIBE = {
    "jaxdnn-manual": "jaxdnn.fit(grad='manual'), one compiled chunk",
    "jaxdnn-autodiff": "jaxdnn.fit(grad='autodiff'), one compiled chunk",
    "jax-jit-loop": "jax.jit step (value_and_grad of a plain jnp cost, donated) from a Python "
                    "loop; minibatch columns gathered inside the step",
    "jax-scan-grad": "value_and_grad of a plain jnp cost inside lax.scan, jitted; minibatch "
                     "columns gathered per batch (jnp.take)",
    "numpy": "NumPy float32, the course's hand-derived backprop; X[:, idx] per minibatch",
    "torch-eager": "PyTorch eager autograd; X[:, idx] per minibatch",
    "torch-compile": "torch.compile of the update (inductor)",
    "sklearn": "scikit-learn MLPClassifier, sgd, same init; minibatch: partial_fit per epoch "
               "on the epoch's order",
}
