"""The course's experiments, reproduced with jaxdnn and taken further.

One script per question; each runs as ``python -m experiments.NAME`` (``--help`` lists its
options), writes ``out/NAME/results.json`` and its plots, prints a Markdown table with the course's
published number beside ours, and exposes ``main(argv=None) -> dict``.
``python -m experiments.reproduce`` runs them all and writes ``out/report.md``.
"""

EXPERIMENTS = (
    "logistic_regression",
    "planar",
    "deep_cat",
    "initialization",
    "optimizers_moons",
    "gradient_check",
    "seeds",
    "vectorization",
    "multiclass",
    "batchnorm",
)
"""The experiment modules, in the order ``reproduce`` runs them and the report shows them."""
