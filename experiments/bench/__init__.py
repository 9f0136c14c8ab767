"""Speed: jaxdnn's ``fit`` beside its peers, against the machine's floor, and as it grows.

Question: for the same network, data and training (full-batch or minibatch gradient descent,
float32), how many seconds per iteration (epoch) does ``jaxdnn.fit`` take beside other ways of
writing the loop, how far is it from the machine's floor, what does its host loop cost a call,
and how do its time and memory grow? Problems (``--configs``): planar, cat, wide, mnist, softmax,
softmax-mb (:mod:`~experiments.bench.problems`), the sweep, the overhead and the resume
(:mod:`~experiments.bench.measure`), growth (:mod:`~experiments.bench.growth`). Peers
(``--peers``, :mod:`~experiments.bench.peers`) start from the same params and, for minibatches,
take the examples in the order ``fit`` draws. Each problem runs in a process of its own (its own
peak memory; ``--quick``: all in this one), its peers warmed up, then timed round-robin for
``--repeats`` rounds. Writes ``OUT/NAME.json``, ``OUT/NAME.md``, ``OUT/NAME-growth.png``.

    python -m experiments.bench                    # everything: about 25 minutes on 2 cores
    python -m experiments.bench --quick            # a smoke run, about a minute
    python -m experiments.bench --configs mnist,softmax-mb --repeats 3
    JAX_PLATFORMS=cuda python -m experiments.bench --device cuda    # a GPU, under 5 minutes
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import multiprocessing
import os
import pathlib
import sys
import time
from functools import partial

from experiments.bench import growth, measure, report
from experiments.bench.problems import PEERS, PROBLEMS, parse_args

__all__ = ["PEERS", "PROBLEMS", "isolated", "main", "parse_args"]


def isolated(cfg, fn, *args, env=None):
    """``fn(*args)`` in a fresh process with ``env`` added to its environment (``--quick``: in
    this one); None where that process died."""
    if cfg.quick:
        return fn(*args)
    before = dict(os.environ)
    os.environ.update(env or {})
    try:
        with concurrent.futures.ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) as p:
            return p.submit(fn, *args).result()
    except concurrent.futures.process.BrokenProcessPool as e:
        measure.log(f"the measuring process died: {e}")
    finally:
        os.environ.clear()
        os.environ.update(before)


def main(argv=None) -> dict:
    """Run the benchmark; write ``OUT/NAME.json`` and ``OUT/NAME.md``; return the result."""
    cfg, t0, machine, problems = parse_args(argv, __doc__), time.perf_counter(), None, {}
    flags = os.environ.get("XLA_FLAGS", "")
    if cfg.quick and "xla_backend_optimization_level" not in flags:  # read when JAX starts
        os.environ["XLA_FLAGS"] = flags = f"{flags} --xla_backend_optimization_level=0".strip()
    if cfg.device == "cpu":  # torch.compile compiles in this process: no idle workers
        os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    for name in cfg.configs:
        if name == "growth":  # each point in a process of its own: its own peak memory
            problems[name] = growth.measure(
                cfg, partial(isolated, cfg, growth.measure_point, cfg), measure.log)
            continue
        env = {"XLA_FLAGS": f"{flags} --xla_gpu_deterministic_ops=true"} if name == "resume" else {}
        machine, problems[name] = isolated(cfg, measure.run, cfg, name, env=env) or (machine, {
            "problem": name, "status": "failed", "reason": "its process died (see the log)"})
    name, out = cfg.name or (machine or {}).get("backend", "cpu"), pathlib.Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if problems.get("growth", {}).get("status") == "ok":
        problems["growth"]["plot"] = f"{name}-growth.png"
        growth.plot(problems["growth"], out / problems["growth"]["plot"])
    result = {"name": name, "question": report.QUESTION, "config": vars(cfg),
              "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join(["python -m experiments.bench",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "machine": machine or measure.machine(cfg), "problems": problems,
              "wall_seconds": time.perf_counter() - t0}
    (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=lambda o: (
        o.tolist() if hasattr(o, "tolist") else str(o))) + "\n")
    (out / f"{name}.md").write_text(report.markdown(result))
    print(report.markdown(result), flush=True)
    return result
