"""Backpropagation by hand, with the course's equations, and the same gradient by ``jax.grad``.

For the sigmoid output with the binary cross-entropy cost, and for l = L, ..., 1::

    dZ_L = A_L - Y                                  # (n_L, m)
    dW_l = dZ_l A_{l-1}^T / m  [+ lambd / m W_l]    # (n_l, n_{l-1})
    db_l = sum(dZ_l, axis=1, keepdims=True) / m     # (n_l, 1)
    dA_{l-1} = W_l^T dZ_l  [* D_{l-1} / keep_prob] # (n_{l-1}, m)
    dZ_{l-1} = dA_{l-1} * g'_{l-1}(Z_{l-1})          # (n_{l-1}, m)

``manual_value_and_grad`` has exactly the signature and result of ``jax.value_and_grad(cost)``
(:func:`autodiff_value_and_grad`): same value, same tree structure, so a trainer takes either and
``jax.tree.map`` compares them. :func:`cost_with_manual_vjp` is the cost whose ``jax.custom_vjp``
backward is this hand-derived pass, so ``jax.grad``, ``jit`` and ``vmap`` compose with it.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxdnn import activations as _act
from jaxdnn.checks import check_problem
from jaxdnn.forward import _forward
from jaxdnn.loss import _cost_from_logits, cost
from jaxdnn.regularization import check_regularization


def backward(params, caches, Y, activations, *, l2=0.0):
    """The hand-derived backward pass.

    Args:
      params: list of L ``{"W", "b"}`` dicts, as given to :func:`jaxdnn.forward`.
      caches: the caches returned by :func:`jaxdnn.forward` for these params.
      Y: ``(n_L, m)`` labels, of the params' dtype.
      activations: L names; the last must be ``"sigmoid"``.
      l2: L2 regularisation strength lambda.

    Returns:
      ``grads``: same structure as ``params`` (keys ``"W"`` and ``"b"``).
    """
    grads, _ = _backward(params, caches, Y, activations, l2)
    return grads


def _backward(params, caches, Y, activations, l2=0.0):
    """Returns ``(grads, dX)`` where ``dX = dJ/dX`` (used by the custom VJP)."""
    L = len(params)
    m = Y.shape[1]
    ZL = caches[-1]["Z"]
    e = jnp.exp(jnp.where(ZL > 0, -ZL, ZL))  # exp(-|Z_L|): the same exp the cost uses, shared
    dZ = jnp.where(ZL > 0, jnp.ones_like(ZL), e) / (1 + e) - Y  # dZ_L = A_L - Y, (n_L, m)
    grads = [None] * L
    for l in reversed(range(L)):
        A_prev, W = caches[l]["A_prev"], params[l]["W"]
        if dZ.shape[0] == 1:  # a one-unit layer: the same products without copying A_prev^T
            dW = (A_prev @ dZ.T).T / m  # (1, n_{l-1})
        else:
            dW = dZ @ A_prev.T / m  # (n_l, n_{l-1})
        if l2:
            dW = dW + (l2 / m) * W  # L2: dW += lambd / m * W
        db = jnp.sum(dZ, axis=1, keepdims=True) / m  # (n_l, 1)
        grads[l] = {"W": dW, "b": db}
        # dA_prev = W^T dZ. The barrier makes XLA materialise W^T (small) so that its CPU backend
        # runs a plain GEMM rather than its slow transposed-operand path (wide net: 96 -> 49 ms).
        dA_prev = jax.lax.optimization_barrier(W.T) @ dZ  # (n_{l-1}, m)
        if l > 0:
            if "D" in caches[l - 1]:
                dA_prev = dA_prev * caches[l - 1]["D"]  # dropout: dA * D / keep_prob
            dZ = dA_prev * _act.derivative(activations[l - 1])(caches[l - 1]["Z"])  # (n_{l-1}, m)
    dX = dA_prev / m  # dJ/dX: the course's dA_0 carries no 1/m
    return type(params)(grads), dX  # the params' own container (list or tuple)


def manual_value_and_grad(params, X, Y, activations, *, l2=0.0, keep_prob=None, key=None):
    """Cost and its gradient by the hand-derived backward pass.

    Same signature and result as :func:`autodiff_value_and_grad`.

    Returns:
      ``(J, grads)``: the scalar cost of :func:`jaxdnn.cost` and a params-shaped gradient tree.
    """
    X, Y, acts = check_problem(params, X, Y, activations)
    check_regularization(l2, keep_prob, key, len(params))
    _, caches = _forward(params, X, acts, keep_prob, key)
    J = _cost_from_logits(params, caches[-1]["Z"], Y, l2)
    return J, backward(params, caches, Y, acts, l2=l2)


def autodiff_value_and_grad(params, X, Y, activations, *, l2=0.0, keep_prob=None, key=None):
    """``jax.value_and_grad(cost)``: the automatic reference for :func:`manual_value_and_grad`."""
    check_problem(params, X, Y, activations)  # before jax.grad sees the params
    return jax.value_and_grad(cost)(params, X, Y, activations, l2=l2, keep_prob=keep_prob, key=key)


def cost_with_manual_vjp(params, X, Y, activations):
    """:func:`jaxdnn.cost` whose reverse-mode gradient is the hand-derived backward pass.

    A ``jax.custom_vjp`` function: ``jax.grad``, ``jit`` and ``vmap`` use :func:`backward` for
    ``d/dparams``, ``dJ/dX = W_1^T dZ_1 / m`` and ``dJ/dY = -Z_L / m``. Per-example gradients are
    ``jax.vmap(jax.grad(cost_with_manual_vjp), in_axes=(None, 1, 1, None))`` over columns reshaped to
    ``(n, 1)``. Forward-mode (``jax.jvp``) is not defined for custom VJPs.
    """
    X, Y, acts = check_problem(params, X, Y, activations)
    return _manual_vjp_cost(params, X, Y, acts)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _manual_vjp_cost(params, X, Y, activations):
    _, caches = _forward(params, X, activations)
    return _cost_from_logits(params, caches[-1]["Z"], Y)


def _manual_vjp_fwd(params, X, Y, activations):
    _, caches = _forward(params, X, activations)
    ZL = caches[-1]["Z"]
    return _cost_from_logits(params, ZL, Y), (params, caches, Y)


def _manual_vjp_bwd(activations, residuals, g):
    params, caches, Y = residuals
    grads, dX = _backward(params, caches, Y, activations)
    dY = -caches[-1]["Z"] / Y.shape[1]  # dJ/dY = -Z_L / m
    scale = lambda t: jax.tree.map(lambda x: g * x, t)  # noqa: E731
    return scale(grads), scale(dX), scale(dY)


_manual_vjp_cost.defvjp(_manual_vjp_fwd, _manual_vjp_bwd)
