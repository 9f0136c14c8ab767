"""``python -m experiments.bench``: see :mod:`experiments.bench`."""

from experiments.bench.runner import main

main()
