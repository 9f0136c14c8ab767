"""Backpropagation by hand, with the course's equations, and the same gradient by ``jax.grad``.

The pass is a loop of :func:`jaxdnn.linear_activation_backward` from the output layer down: for
l = L, ..., 1::

    dW_l = dZ_l A_{l-1}^T / m  [+ lambd / m W_l]    # (n_l, n_{l-1})
    db_l = sum(dZ_l, axis=1, keepdims=True) / m     # (n_l, 1)
    dA_{l-1} = W_l^T dZ_l  [* D_{l-1} / keep_prob] # (n_{l-1}, m)
    dZ_{l-1} = dA_{l-1} * g'_{l-1}(Z_{l-1})          # (n_{l-1}, m)

A batch-normalised layer has ``dgamma_l``, ``dbeta_l`` instead of ``db_l``, and its ``dZ_l`` comes
through the normalisation (:func:`jaxdnn.batchnorm.batchnorm_activation_backward`).

It starts from the output in one of two ways. :func:`backward` starts from the course's
``dZ_L = A_L - Y``, the derivative of the cost that the output activation names (see
:mod:`jaxdnn.loss`). :func:`backward_from` starts from any ``dA_L = dL/dA_L`` of each example's
loss, so a loss the library does not know composes with the hand-derived pass.

``manual_value_and_grad`` has exactly the signature and result of ``jax.value_and_grad(cost)``
(:func:`autodiff_value_and_grad`): same value, same tree structure, so a trainer takes either and
``jax.tree.map`` compares them. :func:`cost_with_manual_vjp` is the cost whose ``jax.custom_vjp``
backward is this hand-derived pass, so ``jax.grad``, ``jit`` and ``vmap`` compose with it.
"""

from __future__ import annotations

from functools import partial

import jax

from jaxdnn import activations as act
from jaxdnn.batchnorm import batchnorm_activation_backward, is_batchnorm
from jaxdnn.checks import (
    check_activations,
    check_compute_dtype,
    check_params,
    check_problem,
    check_regularization,
    check_Y,
    is_array,
)
from jaxdnn.forward import forward
from jaxdnn.layers import as_layer_cache, linear_activation_backward, linear_backward
from jaxdnn.loss import cost, cost_from_logits, label_gradient, output_dZ
from jaxdnn.regularization import has_l2, l2_gradient


def backward_from_dZ(params, caches, dZL, activations, l2=0.0):
    """The pass from the output layer's ``dZ_L`` down: ``(grads, dA_0)``.

    ``dA_0 = W_1^T dZ_1`` is the derivative of each example's loss with respect to its input column
    (``dJ/dX = dA_0 / m``). Inputs are not checked here: :func:`backward` and :func:`backward_from`
    check them and call this. Under mixed precision the caches hold the compute dtype's copies of
    the params: the products run in it, and ``dW``, ``db`` are accumulated in the params' dtype.
    """
    L = len(params)
    m = dZL.shape[1]
    grads = [None] * L
    dA_prev, dW, db = linear_backward(dZL, caches[-1].linear, grad_dtype=params[-1]["W"].dtype)
    for l in reversed(range(L)):
        if l < L - 1:
            dA = dA_prev
            if caches[l].D is not None:
                dA = dA * caches[l].D  # dropout: dA_l * D_l / keep_prob
            if is_batchnorm(params[l]):  # dZ_tilde = dA * g'(Z_tilde), then through BN
                dA_prev, dW, dgamma, dbeta = batchnorm_activation_backward(dA, caches[l],
                                                                           activations[l])
            else:
                dA_prev, dW, db = linear_activation_backward(dA, caches[l], activations[l],
                                                             grad_dtype=params[l]["W"].dtype)
        if has_l2(l2):
            dW = dW + l2_gradient(params[l]["W"], m, l2)  # L2: dW += lambd / m * W
        grads[l] = ({"W": dW, "gamma": dgamma, "beta": dbeta} if is_batchnorm(params[l])
                    else {"W": dW, "b": db})
    return type(params)(grads), dA_prev  # the params' own container (list or tuple)


def check_caches(params, caches, activations, *, output: bool):
    """``caches`` of :func:`jaxdnn.forward` for these params (one per layer, each matching its
    layer); return ``(dims, dtype, caches, activations, m)``."""
    dims, dtype = check_params(params)
    acts = check_activations(activations, len(params), output=output)
    if not isinstance(caches, (list, tuple)) or len(caches) != len(params):
        got = (f"{len(caches)} caches" if isinstance(caches, (list, tuple))
               else type(caches).__name__)
        raise ValueError(f"caches must be the list of {len(params)} layer caches that forward "
                         f"returned, got {got}")
    caches = [as_layer_cache(c, f"caches[{l}]") for l, c in enumerate(caches)]
    m = caches[0].linear.A_prev.shape[1]
    for l, (c, p) in enumerate(zip(caches, params)):
        if c.linear.W.shape != p["W"].shape or c.linear.A_prev.shape[1] != m:
            raise ValueError(
                f"caches[{l}] belongs to another network or batch: its W is {c.linear.W.shape} and "
                f"its input {c.linear.A_prev.shape}, expected W {p['W'].shape} as in "
                f"params[{l}] and m = {m} columns")
        if c.linear.W.dtype != dtype:
            raise TypeError(f"caches[{l}] has dtype {c.linear.W.dtype}, the params {dtype}")
        if is_batchnorm(p) and c.bn is None:
            raise ValueError(f"caches[{l}] has no batch statistics: the backward pass needs the "
                             "caches of forward in training mode (without batch_stats)")
    return dims, dtype, caches, acts, m


def backward(params, caches, Y, activations, *, l2=0.0):
    """The hand-derived backward pass of the cost, from ``dZ_L = A_L - Y``.

    Args:
      params: list of L ``{"W", "b"}`` dicts, as given to :func:`jaxdnn.forward`.
      caches: the caches returned by :func:`jaxdnn.forward` for these params.
      Y: `(n_L, m)` labels suited to the output (see :func:`jaxdnn.cost`).
      activations: L names; the last one of ``"sigmoid"``, ``"softmax"``, ``"linear"``.
      l2: L2 regularisation strength lambda.

    Returns:
      ``grads``: same structure as ``params`` (keys ``"W"`` and ``"b"``).
    """
    dims, dtype, caches, activations, m = check_caches(params, caches, activations, output=True)
    Y = check_Y(Y, dims[-1], m, dtype, activations[-1])
    check_regularization(l2, None, None, len(params))
    dZL = output_dZ(caches[-1].Z, Y, activations[-1])  # (n_L, m)
    return backward_from_dZ(params, caches, dZL, activations, l2)[0]


def backward_from(params, caches, dAL, activations, *, l2=0.0):
    """The hand-derived backward pass from any upstream gradient ``dA_L``.

    With ``dAL = dL/dA_L``, the derivative of each example's loss ``L(A_L, y)`` with respect to its
    output column, this returns the gradient of the mean cost ``J = (1/m) sum L`` (plus the L2
    term), as the course's ``L_model_backward`` does: ``dZ_L = dA_L * g_L'(Z_L)`` (for softmax its
    hand-written Jacobian-vector product), then the same loop as :func:`backward`.

    Args:
      params: list of L ``{"W", "b"}`` dicts.
      caches: the caches returned by :func:`jaxdnn.forward` for these params.
      dAL: `(n_L, m)` derivative of each example's loss with respect to ``A_L`` (no ``1/m``).
      activations: L names; any last activation.
      l2: L2 regularisation strength lambda.

    Returns:
      ``grads``: same structure as ``params``.
    """
    dims, dtype, caches, activations, m = check_caches(params, caches, activations, output=False)
    if not (is_array(dAL) and dAL.shape == (dims[-1], m)
            and dAL.dtype == dtype):
        raise ValueError(f"dAL must have shape {(dims[-1], m)} (dL/dA_L of each example: n_L = "
                         f"{dims[-1]} outputs by m = {m} examples), got "
                         f"{getattr(dAL, 'shape', type(dAL).__name__)} of dtype "
                         f"{getattr(dAL, 'dtype', None)}; expected dtype {dtype}")
    check_regularization(l2, None, None, len(params))
    dZL = act.activation_backward(activations[-1])(dAL, caches[-1].Z)  # (n_L, m)
    return backward_from_dZ(params, caches, dZL, activations, l2)[0]


def manual_value_and_grad(params, X, Y, activations, *, l2=0.0, keep_prob=None, key=None,
                          compute_dtype=None):
    """Cost and its gradient by the hand-derived backward pass.

    Same signature and result as :func:`autodiff_value_and_grad`.

    ``compute_dtype`` (e.g. ``jnp.bfloat16``) is mixed precision: the forward and backward products
    and the activations run in it, on copies of the params and X cast to it; the cost and
    ``dZ_L = A_L - Y`` are computed from ``Z_L`` widened back to the params' dtype, and ``dW``,
    ``db`` are accumulated in the params' dtype (float32), as accelerator training does.

    Returns:
      ``(J, grads)``: the scalar cost of :func:`jaxdnn.cost` and a params-shaped gradient tree, both
      in the params' dtype.
    """
    X, Y, activations = check_problem(params, X, Y, activations, l2, keep_prob, key)
    compute = check_compute_dtype(compute_dtype, Y.dtype)
    _, caches = forward(*_in_compute_dtype(compute, params, X), activations, keep_prob=keep_prob,
                        key=key)
    ZL = caches[-1].Z.astype(Y.dtype)  # (n_L, m), in the params' dtype
    J = cost_from_logits(params, ZL, Y, activations[-1], l2)
    dZL = output_dZ(ZL, Y, activations[-1]).astype(caches[-1].Z.dtype)  # (n_L, m)
    return J, backward_from_dZ(params, caches, dZL, activations, l2)[0]


def autodiff_value_and_grad(params, X, Y, activations, *, l2=0.0, keep_prob=None, key=None,
                            compute_dtype=None):
    """``jax.value_and_grad(cost)``: the automatic reference for :func:`manual_value_and_grad`
    (with ``compute_dtype``, of the same mixed-precision cost)."""
    X, Y, activations = check_problem(params, X, Y, activations, l2, keep_prob, key)
    compute = check_compute_dtype(compute_dtype, Y.dtype)
    if compute is None:
        return jax.value_and_grad(cost)(params, X, Y, activations, l2=l2, keep_prob=keep_prob,
                                        key=key)

    def mixed_cost(params):  # the cast's transpose brings the gradient back to the params' dtype
        _, caches = forward(*_in_compute_dtype(compute, params, X), activations,
                            keep_prob=keep_prob, key=key)
        return cost_from_logits(params, caches[-1].Z.astype(Y.dtype), Y, activations[-1], l2)

    return jax.value_and_grad(mixed_cost)(params)


def _in_compute_dtype(compute, params, X):
    """``(params, X)`` cast to the compute dtype (as they are when it is None)."""
    if compute is None:
        return params, X
    return jax.tree.map(lambda a: a.astype(compute), params), X.astype(compute)


def cost_with_manual_vjp(params, X, Y, activations):
    """:func:`jaxdnn.cost` whose reverse-mode gradient is the hand-derived backward pass.

    A ``jax.custom_vjp`` function: ``jax.grad``, ``jit`` and ``vmap`` use :func:`backward` for
    ``d/dparams``, ``dJ/dX = W_1^T dZ_1 / m`` and the cost's ``dJ/dY`` (``-Z_L / m`` for sigmoid).
    Per-example gradients are ``jax.vmap(jax.grad(cost_with_manual_vjp), in_axes=(None, 1, 1,
    None))`` over columns reshaped to ``(n, 1)``. The backward rule is itself written in
    differentiable JAX, so reverse-over-reverse (Hessian-vector products) works; forward mode
    (``jax.jvp``) is not defined for custom VJPs.
    """
    X, Y, activations = check_problem(params, X, Y, activations)
    return _manual_vjp_cost(params, X, Y, activations)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _manual_vjp_cost(params, X, Y, activations):
    return _manual_vjp_fwd(params, X, Y, activations)[0]


def _manual_vjp_fwd(params, X, Y, activations):
    _, caches = forward(params, X, activations)
    return cost_from_logits(params, caches[-1].Z, Y, activations[-1]), (params, caches, Y)


def _manual_vjp_bwd(activations, residuals, g):
    params, caches, Y = residuals
    ZL, m = caches[-1].Z, Y.shape[1]
    grads, dA0 = backward_from_dZ(params, caches, output_dZ(ZL, Y, activations[-1]), activations)
    dX = dA0 / m  # dJ/dX: the course's dA_0 carries no 1/m
    dY = label_gradient(ZL, Y, activations[-1])
    scale = lambda t: jax.tree.map(lambda x: g * x, t)
    return scale(grads), scale(dX), scale(dY)


_manual_vjp_cost.defvjp(_manual_vjp_fwd, _manual_vjp_bwd)
