"""Run every experiment and write one report: ``out/report.md``.

Question: does jaxdnn reproduce every number of the course's reference table, and what do the
experiments that go beyond the course show? One command runs them all, in order, into
``OUT/NAME/`` and collects their tables and plots (relative image links), the course's number
beside ours, with the run's configuration (library versions, device, date, each script's config).
When the cat data is missing, the experiments that need it are skipped, and the report and stdout
say so and how to point at the data. After each experiment it prints the time it took and an
estimate of the time left (from the previous run's times in the same folder, if there is one).

    python -m experiments.reproduce                               # everything, full settings
    python -m experiments.reproduce --data-dir PATH --out out
    python -m experiments.reproduce --only planar,gradient_check
    python -m experiments.reproduce --quick                        # a smoke test, into out/quick
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pathlib
import shlex
import sys
import time
import traceback
from typing import ClassVar

from experiments import EXPERIMENTS
from experiments.catdata import CAT_DIR_HELP
from experiments.cli import option, parse_config
from experiments.compare import COURSE_HEADERS
from experiments.environment import environment
from experiments.markdown import markdown_table, result_markdown
from experiments.results import config_dict, output_dir, to_jsonable, write_json


@dataclasses.dataclass(frozen=True)
class Config:
    out: str = option("out", "output folder: OUT/report.md and OUT/NAME/ per experiment")
    data_dir: str | None = option(None, CAT_DIR_HELP)
    only: tuple[str, ...] = option(EXPERIMENTS, "experiments to run, comma-separated",
                                   choices=EXPERIMENTS)
    quick: bool = option(False, "much fewer iterations and seeds everywhere: a smoke test whose "
                                "numbers will not match the course, in its own folder")

    QUICK: ClassVar[dict] = {"out": "out/quick"}


def _argv_for(module, cfg, out_dir) -> list[str]:
    fields = {f.name for f in dataclasses.fields(module.Config)}
    argv = ["--out", str(out_dir)]
    if cfg.quick:
        argv.append("--quick")
    if cfg.data_dir is not None and "data_dir" in fields:
        argv += ["--data-dir", str(cfg.data_dir)]
    return argv


def _course_rows(result) -> tuple[int, int, int, int]:
    """(rows that match, rows compared, expected differences, placed) over the course-vs-ours
    tables.

    A row compares when its agreement is not "n/a"; "expected difference" rows (a difference the
    table's note explains, such as the course's inf) and "placed" rows (the course's single run
    placed within our distribution over seeds) are counted apart.
    """
    matched = compared = expected = placed = 0
    for t in result.get("tables", []):
        if t.get("headers") != list(COURSE_HEADERS):
            continue
        for row in t["rows"]:
            verdict = row[3]
            if verdict.startswith("n/a"):
                continue
            if verdict.startswith("expected difference"):
                expected += 1
                continue
            if verdict.startswith("placed"):  # a single run placed in our distribution
                placed += 1
                continue
            compared += 1
            matched += ("matches" in verdict and "differs" not in verdict) or "inside" in verdict
    return matched, compared, expected, placed


def _headline(result) -> str:
    if result["status"] == "skipped":
        return "skipped: " + result["reason"]
    if result["status"] == "error":
        return "error: " + result["reason"]
    matched, compared, expected, placed = _course_rows(result)
    if placed and not compared:
        return f"{placed} course numbers placed within our distributions over seeds"
    if not compared:
        return "no course number compared (quick run or beyond the course)"
    return (f"{matched} of {compared} compared course numbers match"
            + (f" (+{expected} expected difference, explained in the note)" if expected else ""))


def previous_seconds(root: pathlib.Path) -> dict:
    """Each experiment's run time in the previous run into ``root`` (its ``reproduce.json``), or
    ``{}`` where there is none."""
    try:
        previous = json.loads((root / "reproduce.json").read_text())["experiments"]
        return {n: float(e["seconds"]) for n, e in previous.items() if e.get("seconds")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def time_left(done: dict, remaining, previous: dict) -> str:
    """An estimate of the time the ``remaining`` experiments take: each one's time in the
    previous run where known, else the mean time of those ``done`` in this run."""
    if not remaining:
        return "none left"
    guessed = [n for n in remaining if n not in previous]
    if guessed and not done:
        return "no estimate before the first experiment ends"
    mean = sum(done.values()) / max(len(done), 1)
    seconds = sum(previous.get(n, mean) for n in remaining)
    basis = ("the previous run's times" if not guessed else
             f"this run's mean for {', '.join(guessed)}" if len(guessed) < len(remaining) else
             "this run's mean per experiment")
    span = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
    return f"about {span} left for {len(remaining)} (estimate from {basis})"


def run_one(name: str, argv: list[str], out_dir: pathlib.Path) -> dict:
    """``experiments.NAME.main(argv)``'s result; a failure becomes an "error" result (written to
    ``out_dir/results.json``), so that one failure does not hide the other experiments."""
    module = importlib.import_module(f"experiments.{name}")
    t0 = time.perf_counter()
    try:
        return module.main(argv)
    except Exception as e:  # noqa: BLE001 - one failure must not hide the other experiments
        res = {"name": name, "question": module.__doc__.strip().splitlines()[0],
               "status": "error", "reason": f"{type(e).__name__}: {e}", "tables": [],
               "plots": [], "notes": ["```\n" + traceback.format_exc() + "```"],
               "config": {"argv": argv}, "seconds": time.perf_counter() - t0}
        write_json(output_dir(out_dir) / "results.json", res)
        print(f"reproduce: {name} FAILED: {res['reason']}", file=sys.stderr, flush=True)
        return res


def main(argv=None) -> dict:
    cfg = parse_config(Config, argv, doc=__doc__, prog="python -m experiments.reproduce")
    root = output_dir(cfg.out)
    previous = previous_seconds(root)
    t0 = time.perf_counter()
    results, seconds = {}, {}
    print(f"=== reproduce: {len(cfg.only)} experiments into {root}; "
          f"{time_left({}, cfg.only, previous)}", file=sys.stderr, flush=True)
    for i, name in enumerate(cfg.only):
        argv_i = _argv_for(importlib.import_module(f"experiments.{name}"), cfg, root / name)
        print(f"\n=== reproduce [{i + 1}/{len(cfg.only)}]: python -m experiments.{name} "
              f"{shlex.join(argv_i)}", file=sys.stderr, flush=True)
        t_i = time.perf_counter()
        results[name] = run_one(name, argv_i, root / name)
        results[name]["argv"] = argv_i
        seconds[name] = time.perf_counter() - t_i
        print(f"=== reproduce: {name} {results[name]['status']} in {seconds[name]:.1f} s; "
              f"{time.perf_counter() - t0:.0f} s so far, "
              f"{time_left(seconds, cfg.only[i + 1:], previous)}", file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    env = environment()
    report = render(cfg, results, seconds, env, total, argv)
    (root / "report.md").write_text(report)
    summary = {"report": str(root / "report.md"), "seconds": total, "quick": cfg.quick,
               "environment": env, "config": config_dict(cfg),
               "experiments": {n: {"status": r["status"], "reason": r.get("reason"),
                                   "seconds": seconds[n], "headline": _headline(r)}
                               for n, r in results.items()},
               "results": results}
    write_json(root / "reproduce.json", {k: v for k, v in summary.items() if k != "results"})

    print("\n# reproduce: summary\n")
    print(markdown_table(("experiment", "status", "time (s)", "result"),
                         [(n, r["status"], f"{seconds[n]:.1f}", _headline(r))
                          for n, r in results.items()]))
    skipped = [n for n, r in results.items() if r["status"] == "skipped"]
    if skipped:
        print(f"\nSKIPPED {', '.join(skipped)}: the cat / non-cat data was not found. Point at the "
              "folder holding train_catvnoncat.h5 and test_catvnoncat.h5 with --data-dir PATH or "
              "JAXDNN_DATA=PATH.")
    if cfg.quick:
        print("\nThis was a --quick run: few iterations and seeds, so the numbers will not match "
              "the course.")
    print(f"\nreport: {root / 'report.md'}  ({total:.0f} s)")
    return summary


def render(cfg, results, seconds, env, total, argv) -> str:
    """The whole report as Markdown; ``seconds``: each experiment's wall time."""
    cmd = "python -m experiments.reproduce" + (" " + shlex.join(argv) if argv else "")
    lines = ["# jaxdnn: the course's experiments, reproduced and gone beyond", ""]
    if cfg.quick:
        lines += ["> **This is a --quick run** (smoke test): iterations, epochs and seeds are cut "
                  "down everywhere, so the numbers below will **not** match the course's. Run "
                  "`python -m experiments.reproduce` for the real comparison.", ""]
    skipped = {n: r for n, r in results.items() if r["status"] == "skipped"}
    errors = {n: r for n, r in results.items() if r["status"] == "error"}
    if skipped:
        lines += ["> **Skipped** (data missing): " + ", ".join(skipped) + ". "
                  + next(iter(skipped.values()))["reason"], ""]
    if errors:
        lines += ["> **Failed:** " + ", ".join(f"{n} ({r['reason']})" for n, r in errors.items()),
                  ""]
    lines += [
        "Every table puts the course's published number (from the course's notebooks, as listed in "
        "the project's reference table) beside ours. Plots are ours; the course's own figures are "
        "not redistributed here, its numbers stand in for them.", "",
        "## Run", "",
        markdown_table(("", ""), [
            ("command", f"`{cmd}`"),
            ("date", env["date"]),
            ("total wall time", f"{total:.1f} s"),
            ("quick", str(cfg.quick)),
            ("jax / jaxlib", f"{env['jax']} / {env['jaxlib']}"),
            ("numpy / optax / matplotlib",
             f"{env['numpy']} / {env['optax']} / {env['matplotlib']}"),
            ("python", env["python"]),
            ("device", f"{env['backend']}: {', '.join(env['devices'])} ({env['cpu_count']} logical "
                       "CPUs)"),
            ("platform", env["platform"]),
        ]), "",
        "## Summary", "",
        markdown_table(("experiment", "status", "time (s)", "result"),
                       [(f"[{n}](#{n})", r["status"], f"{seconds[n]:.1f}", _headline(r))
                        for n, r in results.items()]), "",
    ]
    for name, res in results.items():
        lines += [result_markdown(res, link_prefix=f"{name}/", level=2)]
        lines += ["<details><summary>configuration</summary>", "", "```",
                  f"python -m experiments.{name} {shlex.join(res.get('argv', []))}",
                  json.dumps(to_jsonable(res.get("config", {})), indent=1), "```", "",
                  "</details>", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
