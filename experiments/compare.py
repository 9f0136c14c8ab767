"""The course's numbers beside ours: agreement verdicts, course-vs-ours tables, and where the
course's single run falls among ours.

Accuracies over m examples are compared as counts of correct examples: the course prints
``count / m`` rounded, and ours may be a float32 mean one rounding away from ``count / m``, so two
accuracies agree when they are within half an example (``0.5 / m``) of each other.
"""

from __future__ import annotations

import math

import numpy as np

from experiments.results import add_table

COURSE_HEADERS = ("quantity", "course", "ours", "agreement")


def course_vs_ours(result: dict, title: str, rows, note: str | None = None) -> str:
    """A table of ``(quantity, course's number, our number, agreement)`` rows."""
    return add_table(result, title, COURSE_HEADERS, rows, note)


def agreement(course: float, ours: float, *, tol: float, exact_digits: int | None = None) -> str:
    """``"matches"`` within ``tol`` (absolute), else ``"differs by ..."``."""
    if course is None or ours is None or not (math.isfinite(course) and math.isfinite(ours)):
        return "n/a"
    diff = abs(course - ours)
    if diff <= tol:
        return "matches" + (f" ({exact_digits} digits)" if exact_digits else "")
    return f"differs by {diff:.3g}"


def accuracy_agreement(course: float, ours: float, m: int) -> str:
    """:func:`agreement` of two accuracies over ``m`` examples: the same count of correct
    examples, i.e. within ``0.5 / m``."""
    return agreement(course, ours, tol=0.5 / m)


def correct_counts(accuracies, m: int) -> np.ndarray:
    """Accuracies over ``m`` examples as integer counts of correct examples, ``round(acc * m)``."""
    return np.rint(np.asarray(accuracies, np.float64) * m).astype(np.int64)


def percentile(value: int, samples) -> float:
    """The share of ``samples`` below ``value``, in percent, ties counting half.

    Integers (counts) compare exactly: ``percentile(40, [38, 40, 40, 42]) == 50.0``
    (one below, two ties: (1 + 2 / 2) / 4).
    """
    s = np.asarray(samples)
    return float(100.0 * (np.sum(s < value) + 0.5 * np.sum(s == value)) / s.size)


def where_it_falls(course: float, accuracies, m: int) -> dict:
    """Where the course's accuracy falls among ours, all over ``m`` examples: the percentile of
    its count of correct examples among our counts (ties count half), the z-score and summary
    statistics (in accuracy units)."""
    s = np.asarray(accuracies, np.float64)
    std = float(np.std(s, ddof=1)) if s.size > 1 else 0.0
    return {
        "percentile": percentile(int(correct_counts(course, m)), correct_counts(s, m)),
        "z": (course - float(np.mean(s))) / std if std > 0 else float("nan"),
        "mean": float(np.mean(s)), "std": std, "min": float(np.min(s)), "max": float(np.max(s)),
        "median": float(np.median(s)),
    }


def last_printed(num_iterations: int, every: int) -> int:
    """The last iteration the course prints: the largest multiple of ``every`` below the end."""
    return ((num_iterations - 1) // every) * every
