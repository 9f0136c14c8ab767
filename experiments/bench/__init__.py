"""Speed: jaxdnn's ``fit`` beside its peers, against the machine's floor, and as it grows.

For the same network, data and training (full-batch or minibatch gradient descent, float32): the
seconds per iteration (epoch) of ``fit`` and its peers (:mod:`~experiments.bench.peers`) on each
problem (:mod:`~experiments.bench.problems`) against the machine's floor, a vmapped sweep, fit's
host overhead a call, a bitwise resume, bfloat16 mixed precision
(:mod:`~experiments.bench.measure`), growth with m and the width
(:mod:`~experiments.bench.growth`). On CPU each problem runs in a process of its own
(``--isolate``; the cuda profile and ``--quick``: all in this one), its peers warmed up, then timed
round-robin. Writes OUT/NAME.json, .md, .png.

    python -m experiments.bench                    # everything: about 12 minutes on 2 cores
    python -m experiments.bench --quick            # a smoke run, about a minute
    python -m experiments.bench --configs mnist,softmax-mb --repeats 3 --peers jaxdnn-manual,numpy
    JAX_PLATFORMS=cuda python -m experiments.bench --device cuda    # a GPU: 4.5 minutes on an H200
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

from experiments.bench import growth, measure
from experiments.bench.problems import PEERS, TIMED, parse_args
from experiments.markdown import markdown_table

QUESTION = " ".join(__doc__.split("\n\n")[1].split())  # the docstring's first paragraph


def sec(x) -> str:
    unit, scale = next((u for u in (("s", 1), ("ms", 1e-3), ("us", 1e-6)) if abs(x) >= u[1]),
                       ("ns", 1e-9))
    return f"{x / scale:.3g} {unit}"


def peers_table(timed: dict) -> str:
    """Peers down, problems across: the median per iteration (epoch) and the rounds' spread, the
    fastest in bold; jaxdnn manual against the two floors; the peak memory."""
    def cell(r, p):
        v, b = r["peers"][p], "**" if p == r["fastest"] else ""
        return f"{v['status']}: {v['reason']}" if v["status"] != "ok" else (
            f"{b}{sec(v['seconds'])}{b} ({sec(min(v['times']))} - {sec(max(v['times']))})")

    mine = lambda r, k: f"{r['peers']['jaxdnn-manual'].get(k, float('nan')):.2f}x"
    rows = {"jaxdnn manual / the floor's best rate":
            lambda r: mine(r, "ratio_to_floor") + f" ({r['floor']['bound']})",
            "jaxdnn manual / its own GEMM shapes": lambda r: mine(r, "ratio_to_own_shapes_floor"),
            "peak MiB: RSS, device": lambda r: "{peak_rss_mib:.0f}, {device_peak_mib}".format(
                **r["memory"]) + ("" if r["memory"].get("own_process") or r["memory"][
                    "device_peak_mib"] is None else " (device: the process's so far)")}
    head = [f"{n} {list(r['dims'])}, m={r['m']}" + (f", batch {r['batch_size']} (epoch)" if
                                              r["batch_size"] else "") for n, r in timed.items()]
    return markdown_table(["peer"] + head, [[p] + [cell(r, p) for r in timed.values()]
                                            for p in PEERS]
                          + [[k] + [f(r) for r in timed.values()] for k, f in rows.items()])


def scalars(res: dict) -> str:
    """A result's plain figures, as a table."""
    return markdown_table(["", ""], [[k, f"{v:.4g}" if isinstance(v, float) else v] for k, v in
                                     res.items() if isinstance(v, (bool, int, float, str, tuple))])


def growth_md(g: dict) -> str:
    rows = [[r["mode"], r["dims"], f"{r['m']:,}", "failed"] if r["status"] != "ok" else [
        r["mode"], r["dims"], f"{r['m']:,}", r["P"], sec(r["seconds"]), f"{r['memory_mib']:.0f}",
        f"{r['xla_mib']:.0f}", "{total:.0f} = {data:.0f} + {params:.1f} + {caches:.0f} + "
        "{working_copies:.0f}".format(**r["model_mib"]),
        f"{r['xla_mib'] / r['model_mib']['total']:.2f}"]
        for r in g["points"]]
    return "\n".join([
        f"Full batch: seconds per iteration; minibatches of {g['batch_size']}: per epoch. Memory:"
        " the device's peak bytes where JAX reports them (GPUs), else the resident set's rise "
        "over the one before the data. XLA: its account of one compiled chunk of `train_steps`, "
        "arguments + temporaries. Model: data + params + caches (Z, A of each layer over a batch)"
        " + fit's working copies of (X, Y).", "",
        markdown_table(["mode", "layers", "m", "weights P", "time", "memory MiB", "XLA MiB",
                        "model MiB", "XLA / model"], rows), "",
        "Slopes (log-log): " + "; ".join(f"{k} {v:.2f}" for k, v in g["slopes"].items())
        + ". A minibatch epoch against a full-batch iteration, a run's first (with its "
        "examples-first copy of X) and its later ones: " + "; ".join(
            f"m = {int(m):,}: {r:.2f}x, {g['later_epoch_vs_full_batch'][m]:.2f}x"
            for m, r in g["epoch_vs_full_batch"].items()) + ".", "",
        f"![time and memory against m and width]({g.get('plot')})"])


def markdown(result: dict) -> str:
    mach, probs = result["machine"], result["problems"]
    timed = {n: r for n, r in probs.items() if n in TIMED and r["status"] == "ok"}
    lines = [f"# jaxdnn speed benchmark: {result['name']}", "", f"**Question.** {QUESTION}", "",
             f"`{result['command']}`, {result['date']}, {result['wall_seconds']:.0f} s. CPU: "
             f"{mach['cpu']}, {mach['cores']} cores; device: {mach['device']}; " + ", ".join(
                 f"{k} {v}" for k, v in mach["versions"].items()) + "; " + (", ".join(
                     f"{k}={v}" for k, v in mach["environment"].items()) or "no XLA_FLAGS") + ".",
             ""]
    if result["config"]["quick"]:
        lines += ["**--quick run**: small shapes, few iterations, XLA without LLVM's "
                  "optimisations (faster compiles, slower code): not a measurement.", ""]
    if timed:
        lines += ["Median seconds per iteration (epoch, for minibatches) over the rounds, peers "
                  "timed round-robin after a warm-up; the fastest of each problem in bold.", "",
                  peers_table(timed)]
    for name, res in probs.items():
        if res["status"] != "ok":
            lines += ["", f"## {name}", "", f"**{res['status'].upper()}**: {res['reason']}"]
        elif name not in TIMED:
            lines += ["", f"## {name}", "", (growth_md if name == "growth" else scalars)(res)]
    return "\n".join(lines) + "\n"


def isolated(cfg, fn, *args, env=None, alone=False):
    """``fn(*args)`` in a fresh process, ``env`` added, with ``--isolate``, or where ``env`` must
    be read as JAX starts, or where the call's peak memory must be its ``alone``; else here (and
    always here with ``--quick``). None if the process died."""
    if cfg.quick or not (cfg.isolate or env or alone):
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
    """Run the benchmark; write ``OUT/NAME.json`` and ``OUT/NAME.md`` after each problem (a run
    cut short keeps what it measured); return the result."""
    cfg, t0, machine, problems = parse_args(argv, __doc__), time.perf_counter(), None, {}
    flags = os.environ.get("XLA_FLAGS", "")
    if cfg.quick and "xla_backend_optimization_level" not in flags:  # read when JAX starts
        os.environ["XLA_FLAGS"] = flags = f"{flags} --xla_backend_optimization_level=0".strip()
    if cfg.device == "cpu":  # torch.compile compiles in this process: no idle workers
        os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    out = pathlib.Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in cfg.configs:
        if name == "growth":  # each point in a process of its own: its own peak memory
            problems[name] = growth.measure(
                cfg, partial(isolated, cfg, growth.measure_point, cfg, alone=True), measure.log)
        else:
            env = {"XLA_FLAGS": f"{flags} --xla_gpu_deterministic_ops=true".strip()} if (
                name == "resume") else {}
            ran, problems[name] = isolated(cfg, measure.run, cfg, name, env=env) or (
                None, {"problem": name, "status": "failed",
                       "reason": "its process died (see the log)"})
            if ran and not env:  # resume's process has an XLA flag the others do not
                machine = ran
        result = write(cfg, argv, out, machine, problems, t0)
    print(markdown(result), flush=True)
    return result


def write(cfg, argv, out: pathlib.Path, machine, problems: dict, t0: float) -> dict:
    """The result so far, written to ``OUT/NAME.json`` and ``OUT/NAME.md`` (and the growth plot)."""
    name = cfg.name or (machine or {}).get("backend", "cpu")
    if problems.get("growth", {}).get("status") == "ok" and "plot" not in problems["growth"]:
        problems["growth"]["plot"] = f"{name}-growth.png"  # drawn once, when growth is done
        growth.plot(problems["growth"], out / problems["growth"]["plot"], cfg.quick)
    result = {"name": name, "question": QUESTION, "config": vars(cfg),
              "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join(["python -m experiments.bench",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "machine": machine or measure.machine(cfg), "problems": problems,
              "wall_seconds": time.perf_counter() - t0}
    (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=lambda o: (
        o.tolist() if hasattr(o, "tolist") else str(o))) + "\n")
    (out / f"{name}.md").write_text(markdown(result))
    return result
