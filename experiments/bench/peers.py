"""The peers: the same training written eight ways. ``PREPARE[peer](setup)`` returns ``(run,
warm_n)``: ``run(n)`` trains ``n`` iterations (epochs) from the initial params and returns the costs
``fit`` would report (the cost before each update; for minibatches each epoch's mean per example),
fetched after the clock stops; ``warm_n`` is the warm-up's length. Minibatch problems take epoch
``e``'s examples in ``setup.orders[e]``. A peer that cannot run here raises :class:`Skip`."""

from __future__ import annotations

import collections
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import jaxdnn
from experiments.bench.problems import batch_slices


class Skip(Exception):
    """A peer that cannot run here (a package is missing): reported, not fatal."""


# X (n_x, m), Y (n_L, m) float32; params [{"W", "b"}] NumPy; orders (epochs, m) or None
Setup = collections.namedtuple("Setup", "prob X Y params key orders cfg")


def host_loop(step, n: int, prob, orders) -> list:
    """``n`` iterations (epochs) of ``step(idx)``: an update on the columns ``idx`` of X, Y."""
    costs = []
    for e in range(n):
        total = 0.0
        for lo, hi in batch_slices(prob.m, prob.batch_size):
            J = step(orders[e, lo:hi] if prob.batch_size else slice(lo, hi))
            total = total + J * (hi - lo) if prob.batch_size else J
        costs.append(total / prob.m if prob.batch_size else total)
    return costs


def jaxdnn_fit(grad: str, s: Setup):
    X, Y, params = jax.device_put((s.X, s.Y, s.params))
    mb = {"batch_size": s.prob.batch_size, "key": s.key} if s.prob.batch_size else {}
    run = lambda n: jax.block_until_ready(jaxdnn.fit(
        params, X, Y, s.prob.activations, grad=grad, learning_rate=s.prob.learning_rate,
        num_iterations=n, chunk_size=n, progress=False, **mb))[1]
    return run, s.prob.iterations  # the compiled chunk is keyed on its length


def jax_cost(params, X, Y, activations):
    """The network's cost in plain ``jax.numpy``, independent of jaxdnn's: mean BCE or CE."""
    A = X
    for p, g in zip(params, activations):
        Z = p["W"] @ A + p["b"]  # (n_l, m)
        A = jnp.tanh(Z) if g == "tanh" else jax.nn.relu(Z)  # the output's A is not used
    if activations[-1] == "softmax":
        return -jnp.sum(Y * jax.nn.log_softmax(Z, axis=0)) / X.shape[1]  # categorical CE
    return jnp.sum(jax.nn.softplus(Z) - Z * Y) / X.shape[1]  # BCE from the logits


def gd_step(params, X, Y, idx, lr, activations):
    """``W -= lr dW`` by ``jax.value_and_grad(jax_cost)`` on the columns ``idx`` (None: all)."""
    if idx is not None:
        X, Y = jnp.take(X, idx, axis=1), jnp.take(Y, idx, axis=1)  # the minibatch, gathered
    J, g = jax.value_and_grad(jax_cost)(params, X, Y, activations)
    return jax.tree.map(lambda p, d: p - lr * d, params, g), J


def scan_train(params, X, Y, orders, lr, activations, n, batch_size):
    """``n`` iterations (or epochs over ``orders``) of :func:`gd_step` inside ``lax.scan``."""
    step = lambda p, idx: gd_step(p, X, Y, idx, lr, activations)
    if not batch_size:
        return jax.lax.scan(lambda p, _: step(p, None), params, None, length=n)
    n_full, rest = divmod(X.shape[1], batch_size)

    def epoch(p, order):
        p, J = jax.lax.scan(step, p, order[: n_full * batch_size].reshape(n_full, -1))
        total = jnp.sum(J) * batch_size
        if rest:
            p, J_rest = step(p, order[n_full * batch_size:])
            total = total + J_rest * rest
        return p, total / X.shape[1]
    return jax.lax.scan(epoch, params, orders[:n])


def jax_peer(scan: bool, s: Setup):
    prob, acts = s.prob, s.prob.activations
    orders = s.orders if s.orders is not None else np.zeros((1, 1))
    X, Y, orders, init = jax.device_put((s.X, s.Y, orders.astype(np.int32), s.params))
    lr = jnp.float32(prob.learning_rate)
    train = jax.jit(scan_train, static_argnums=(5, 6, 7), donate_argnums=0)
    step = jax.jit(gd_step, static_argnums=5, donate_argnums=0)

    def run(n):
        params = [jax.tree.map(jnp.copy, init)]  # fresh buffers to donate
        if scan:
            return jax.block_until_ready(train(params[0], X, Y, orders, lr, acts, n,
                                               prob.batch_size))[1]

        def update(idx):  # from Python: one dispatch per (mini)batch
            params[0], J = step(params[0], X, Y, idx if prob.batch_size else None, lr, acts)
            return J
        return jax.block_until_ready(host_loop(update, n, prob, orders))
    return run, prob.iterations if scan else min(prob.iterations, 2)


def numpy_step(params, X, Y, activations, learning_rate):
    """One gradient-descent update of ``params`` (``[(W, b)]``, in place) by the course's
    hand-derived backprop in NumPy, on ``X`` ``(n_x, m)``, ``Y`` ``(n_L, m)``; the cost before it.
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
        cost, AL = -np.sum(Y * log_p) / m, np.exp(log_p)  # categorical CE; softmax(Z_L)
    else:
        e = np.exp(-np.abs(Z))  # exp(-|Z_L|): the sigmoid and the log-sigmoid without overflow
        cost = np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(e)) / m  # BCE from the logits
        AL = np.where(Z >= 0, 1, e) / (1 + e)  # sigmoid(Z_L)
    dZ, grads = AL - Y, [None] * L  # dZ_L = A_L - Y, (n_L, m)
    for l in reversed(range(L)):
        A_prev, W = caches[l][0], params[l][0]
        grads[l] = (dZ @ A_prev.T / m, np.sum(dZ, axis=1, keepdims=True) / m)  # dW, db
        if l > 0:
            dA = W.T @ dZ  # dA_prev = W^T dZ: (n_{l-1}, m)
            if activations[l - 1] == "tanh":
                dZ = dA * (1 - A_prev * A_prev)  # tanh'(Z) = 1 - A^2
            else:
                dZ = np.where(caches[l - 1][1] > 0, dA, 0)  # relu'(Z) = 1[Z > 0]
    for (W, b), (dW, db) in zip(params, grads):
        W -= learning_rate * dW
        b -= learning_rate * db
    return cost


def numpy_peer(s: Setup):
    def run(n):
        params, X, Y, prob = [(p["W"].copy(), p["b"].copy()) for p in s.params], s.X, s.Y, s.prob
        return np.array(host_loop(lambda i: numpy_step(
            params, X[:, i], Y[:, i], prob.activations, prob.learning_rate), n, prob, s.orders))
    return run, min(s.prob.iterations, 1 if s.prob.batch_size else 2)


def torch_cost(params, X, Y, activations: tuple):
    """The network's cost in PyTorch from the logits (mean BCE or CE); params `[W1, b1, ...]`."""
    import torch

    A = X
    for l in range(len(params) // 2):
        Z = params[2 * l] @ A + params[2 * l + 1]  # (n_l, m)
        A = torch.tanh(Z) if activations[l] == "tanh" else torch.relu(Z)
    if activations[-1] == "softmax":
        return -(Y * torch.log_softmax(Z, dim=0)).sum() / Y.shape[1]  # categorical CE
    return torch.nn.functional.binary_cross_entropy_with_logits(Z, Y, reduction="sum") / Y.shape[1]


def torch_step(params, X, Y, lr: float, activations: tuple):
    """One update in eager PyTorch: the cost, autograd, ``W -= lr dW`` in place; the cost."""
    import torch

    J = torch_cost(params, X, Y, activations)
    J.backward()
    with torch.no_grad():
        for p in params:
            p.sub_(lr * p.grad)  # W -= lr * dW
            p.grad = None
    return J.detach()


def torch_compiled_step(params, X, Y, lr: float, activations: tuple):
    """The update as ``torch.compile`` takes it: the gradient from ``torch.func`` (no autograd
    state on the params), ``W -= lr dW`` in place; the cost. CUDA graphs replay an in-place update
    of inputs whose addresses are marked static (``torch._dynamo.mark_static_address``), and skip
    one whose inputs are not; a step returning new params instead would hand a graph's outputs to
    its next replay, which overwrites them."""
    import torch

    grads, J = torch.func.grad_and_value(torch_cost)(params, X, Y, activations)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p.sub_(lr * g)  # W -= lr * dW
    return J


def torch_peer(compiled: bool, s: Setup):
    try:
        import torch
    except ImportError as e:
        raise Skip(f"PyTorch is not installed ({e}); pip install 'jaxdnn[bench]'") from None
    prob, dev = s.prob, s.cfg.device
    if compiled and s.cfg.quick:
        raise Skip("--quick: torch.compile's first compilation alone takes 10-30 s per shape")
    torch.set_float32_matmul_precision("highest")  # float32 GEMMs, as JAX's
    X, Y = torch.from_numpy(s.X).to(dev), torch.from_numpy(s.Y).to(dev)
    init = [torch.from_numpy(p[k]).to(dev) for p in s.params for k in ("W", "b")]
    orders = torch.from_numpy(s.orders).to(dev) if s.orders is not None else None
    # forward, backward and update in one graph; on a GPU replayed as a CUDA graph, PyTorch's
    # mode for small batches. Compiled afresh: shapes met on an earlier problem of this process
    # would otherwise make it compile this one's with dynamic shapes
    if compiled:
        torch.compiler.reset()
        step = torch.compile(torch_compiled_step,
                             mode="reduce-overhead" if dev == "cuda" else None)
        static = [a.clone() for a in init]  # one set of params at fixed addresses for every run
        for a in static:
            torch._dynamo.mark_static_address(a)

    def run(n):
        if compiled:
            params = static
            for a, a0 in zip(static, init):
                a.copy_(a0)
        else:
            params = [a.clone().requires_grad_() for a in init]

        def update(idx):
            if not compiled:
                return torch_step(params, X[:, idx], Y[:, idx], prob.learning_rate,
                                  prob.activations)
            J = step(params, X[:, idx], Y[:, idx], prob.learning_rate, prob.activations)
            return J.clone() if dev == "cuda" else J  # a graph's replay overwrites its outputs
        costs = host_loop(update, n, prob, orders)
        if dev == "cuda":
            torch.cuda.synchronize()
        return costs
    return run, min(prob.iterations, 1 if prob.batch_size else 3)


def sklearn_peer(s: Setup):
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as e:
        raise Skip(f"scikit-learn is not installed ({e}); pip install scikit-learn") from None
    prob = s.prob
    Xt = np.ascontiguousarray(s.X.T)  # (m, n_x): scikit-learn puts examples in rows
    y = (np.argmax(s.Y, axis=0) if prob.output == "softmax" else s.Y[0]).astype(np.int64)
    # each epoch's examples in fit's order; shuffle=False keeps them so (made before the clock)
    epochs = [(np.ascontiguousarray(Xt[o]), y[o]) for o in s.orders] if prob.batch_size else []

    def run(n):
        clf = MLPClassifier(
            prob.dims[1:-1], activation=prob.hidden, solver="sgd", alpha=0.0,
            batch_size=prob.batch_size or prob.m, learning_rate_init=prob.learning_rate,
            momentum=0.0, nesterovs_momentum=False, max_iter=n, tol=0.0, n_iter_no_change=n + 1,
            shuffle=False, random_state=0)
        inits = [(p["W"].T.copy(), p["b"].ravel().copy()) for p in s.params]
        # start from our params, not Glorot's (scikit-learn's hook; checked below; the tests
        # also check that its costs are jaxdnn's)
        clf._init_coef = lambda fan_in, fan_out, dtype: [a.astype(dtype) for a in inits.pop(0)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for e in range(n if prob.batch_size else 0):  # an epoch a call, in its order
                clf.partial_fit(*epochs[e], classes=np.arange(max(prob.dims[-1], 2)))
            if not prob.batch_size:
                clf.fit(Xt, y)
        if inits:
            raise RuntimeError("MLPClassifier did not start from our params")
        return clf.loss_curve_
    return run, min(prob.iterations, 1 if prob.batch_size else 2)


PREPARE = {"jaxdnn-manual": partial(jaxdnn_fit, "manual"), "numpy": numpy_peer,
           "jaxdnn-autodiff": partial(jaxdnn_fit, "autodiff"), "sklearn": sklearn_peer,
           "jax-jit-loop": partial(jax_peer, False), "jax-scan-grad": partial(jax_peer, True),
           "torch-eager": partial(torch_peer, False), "torch-compile": partial(torch_peer, True)}
