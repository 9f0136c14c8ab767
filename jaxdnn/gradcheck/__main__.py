"""Command line: gradient-check the hand-derived passes on a random network.

    python -m jaxdnn.gradcheck --layers 5,4,3,1 --activations relu,tanh,sigmoid
    python -m jaxdnn.gradcheck --output softmax --layers 5,4,3 --l2 0.7 --keep-prob 0.8
    python -m jaxdnn.gradcheck --layers 12288,20,7,5,1 --m 64 --directions 4 --checks params,inputs
    python -m jaxdnn.gradcheck --dtype float32 --checks params,inputs,hessian --json
    python -m jaxdnn.gradcheck --layers 5,4,3,1 --batchnorm     # gamma, beta in the hidden layers

Builds a random network, runs :func:`jaxdnn.gradient_check` (``params``),
:func:`jaxdnn.gradcheck.input_gradient_check` (``inputs``, dJ/dX of ``cost_with_manual_vjp``) and
:func:`jaxdnn.gradcheck.hessian_check` (``hessian``) as asked, and prints each report as a table, or
with ``--json`` as one JSON object ``{"params": {...}, ...}``. Exits 0 when every leaf of every
check passes, 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

import jax

from jaxdnn.activations import OUTPUTS
from jaxdnn.gradcheck import DTYPES, gradient_check, hessian_check, input_gradient_check
from jaxdnn.initializers import METHODS, init_params
from jaxdnn.labels import one_hot

CHECKS = ("params", "inputs", "hessian")


def _number_or_auto(text: str):
    return text if text == "auto" else float(text)


def random_problem(dims, output: str, m: int, method: str, seed: int, dtype,
                   batchnorm: bool = False):
    """A random network and data: ``(params, X, Y)``, labels suited to the ``output``; with
    ``batchnorm``, hidden layers ``{"W", "gamma", "beta"}`` with ``gamma``, ``beta`` drawn around
    1 and 0 (not the initial 1 and 0, which would hide a mix-up of the two)."""
    return _random_problem(tuple(dims), output, m, method, jax.random.key(seed), dtype,
                           batchnorm)


@partial(jax.jit, static_argnums=(0, 1, 2, 3, 5, 6))  # one program, not one per primitive and shape
def _random_problem(dims, output, m, method, key, dtype, batchnorm):
    k_init, k_x, k_y, k_bn = jax.random.split(key, 4)
    params = init_params(k_init, dims, method, dtype, batchnorm=batchnorm)
    for p, k in zip(params, jax.random.split(k_bn, len(params))):
        if "gamma" in p:
            k_g, k_b = jax.random.split(k)
            p["gamma"] = 1 + 0.3 * jax.random.normal(k_g, p["gamma"].shape, dtype)
            p["beta"] = 0.3 * jax.random.normal(k_b, p["beta"].shape, dtype)
    X = jax.random.normal(k_x, (dims[0], m), dtype)
    if output == "softmax":
        Y = one_hot(jax.random.randint(k_y, (m,), 0, dims[-1]), dims[-1]).astype(dtype)
    elif output == "linear":
        Y = jax.random.normal(k_y, (dims[-1], m), dtype)
    else:
        Y = jax.random.bernoulli(k_y, 0.5, (dims[-1], m)).astype(dtype)
    return params, X, Y


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxdnn.gradcheck",
        description="Gradient-check the hand-derived backward pass on a random network.")
    parser.add_argument("--layers", default="5,4,3,1",
                        help="layer sizes n_x,n_1,...,n_L (default: %(default)s)")
    parser.add_argument("--activations", default=None,
                        help="one name per layer, comma-separated "
                             "(default: relu..., then --output)")
    parser.add_argument("--output", default=None, choices=OUTPUTS,
                        help="output activation, naming the cost (default: sigmoid, or the last "
                             "of --activations)")
    parser.add_argument("--m", type=int, default=10, help="number of examples (default: 10)")
    parser.add_argument("--init", default="xavier", choices=METHODS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batchnorm", action="store_true",
                        help="batch-normalise the hidden layers (gamma, beta instead of b)")
    parser.add_argument("--l2", type=float, default=0.0, help="L2 strength lambda (default: 0)")
    parser.add_argument("--keep-prob", type=float, default=None,
                        help="dropout keep probability of the hidden layers (default: none)")
    parser.add_argument("--dropout-seed", type=int, default=1, help="seed of the dropout masks")
    parser.add_argument("--directions", type=int, default=None, metavar="K",
                        help="K random directions per leaf instead of every coordinate "
                             "(the Hessian check uses K, or 4)")
    parser.add_argument("--dtype", default="float64", choices=sorted(DTYPES))
    parser.add_argument("--checks", default="params",
                        help=f"comma-separated, of {','.join(CHECKS)} (default: %(default)s)")
    parser.add_argument("--epsilon", type=_number_or_auto, default="auto",
                        help="finite-difference step (default: from the dtype)")
    parser.add_argument("--threshold", type=_number_or_auto, default="auto",
                        help="relative-difference threshold (default: from the dtype)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)

    try:
        dims = [int(s) for s in args.layers.split(",")]
    except ValueError:
        parser.error(f"--layers must be comma-separated ints, got {args.layers!r}")
    checks = tuple(args.checks.split(","))
    if not checks or any(c not in CHECKS for c in checks):
        parser.error(f"--checks must be a comma-separated subset of {','.join(CHECKS)}, "
                     f"got {args.checks!r}")
    if args.activations:
        acts = tuple(args.activations.split(","))
        if args.output and acts[-1] != args.output:
            parser.error(f"--output {args.output} contradicts the last of --activations "
                         f"{args.activations!r}")
    else:
        acts = ("relu",) * (len(dims) - 2) + (args.output or "sigmoid",)
    output = acts[-1] if acts[-1] in OUTPUTS else "sigmoid"
    dtype = DTYPES[args.dtype]
    options = dict(dtype=args.dtype, epsilon=args.epsilon, threshold=args.threshold)
    reports = {}
    with jax.enable_x64(args.dtype == "float64"):
        try:
            params, X, Y = random_problem(dims, output, args.m, args.init, args.seed, dtype,
                                          args.batchnorm)
            reg = dict(l2=args.l2)
            if args.keep_prob is not None:
                reg.update(keep_prob=args.keep_prob, key=jax.random.key(args.dropout_seed))
            if "params" in checks:
                reports["params"] = gradient_check(params, X, Y, acts,
                                                   num_directions=args.directions,
                                                   **reg, **options)
            if "inputs" in checks:
                reports["inputs"] = input_gradient_check(params, X, Y, acts,
                                                         num_directions=args.directions, **options)
            if "hessian" in checks:
                reports["hessian"] = hessian_check(params, X, Y, acts,
                                                   num_directions=args.directions or 4, **options)
        except (ValueError, TypeError) as e:
            parser.error(str(e))
    passed = all(r.passed for r in reports.values())
    if args.json:
        print(json.dumps({name: r.to_dict() for name, r in reports.items()} | {"passed": passed},
                         indent=1))
    else:
        print(f"network {dims}, activations {list(acts)}, m = {args.m}, init {args.init}, "
              f"seed {args.seed}{', batch norm' if args.batchnorm else ''}")
        for r in reports.values():
            print()
            print(r)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
