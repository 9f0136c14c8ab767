"""Command line: ``python -m jaxdnn.gradcheck --layers 5,4,3,1 --activations relu,tanh,sigmoid``.

Builds a random network in float64, runs :func:`jaxdnn.gradient_check` on it and prints the per-leaf
report. Exits 0 when every leaf passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp

from jaxdnn.gradcheck import EPSILON, THRESHOLD, gradient_check
from jaxdnn.initializers import METHODS, init_params


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxdnn.gradcheck",
        description="Gradient-check the hand-derived backward pass on a random network.")
    parser.add_argument("--layers", default="5,4,3,1",
                        help="layer sizes n_x,n_1,...,n_L (default: %(default)s)")
    parser.add_argument("--activations", default=None,
                        help="one name per layer, comma-separated (default: relu..., sigmoid)")
    parser.add_argument("--m", type=int, default=10, help="number of examples (default: 10)")
    parser.add_argument("--init", default="xavier", choices=METHODS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epsilon", type=float, default=EPSILON)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    args = parser.parse_args(argv)

    try:
        dims = [int(s) for s in args.layers.split(",")]
    except ValueError:
        parser.error(f"--layers must be comma-separated ints, got {args.layers!r}")
    acts = (tuple(args.activations.split(",")) if args.activations
            else ("relu",) * (len(dims) - 2) + ("sigmoid",))
    with jax.enable_x64(True):
        k_init, k_x, k_y = jax.random.split(jax.random.key(args.seed), 3)
        try:
            params = init_params(k_init, dims, args.init, jnp.float64)
            X = jax.random.normal(k_x, (dims[0], args.m), jnp.float64)
            Y = jax.random.bernoulli(k_y, 0.5, (dims[-1], args.m)).astype(jnp.float64)
            report = gradient_check(params, X, Y, acts, epsilon=args.epsilon,
                                    threshold=args.threshold)
        except (ValueError, TypeError) as e:
            parser.error(str(e))
    print(f"network {dims}, activations {list(acts)}, m = {args.m}, init {args.init}, "
          f"seed {args.seed}\n")
    print(report)
    return 0 if report.passed else 1




if __name__ == "__main__":
    sys.exit(main())
