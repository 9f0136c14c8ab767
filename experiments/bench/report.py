"""The result as Markdown: the peers on every problem in one table (the README's), a line of
details per problem, then the sweep, the overhead, the resume and the growth."""

from __future__ import annotations

from experiments.bench.problems import PEERS, TIMED
from experiments.common import markdown_table

QUESTION = ("Same network, same data, same training (full-batch or minibatch gradient descent, "
            "float32): seconds per iteration (epoch) of jaxdnn.fit beside its peers, against the "
            "machine's floor; fit's host overhead per call; how fit's time and memory grow.")


def sec(x) -> str:
    unit, scale = next((u for u in (("s", 1), ("ms", 1e-3), ("us", 1e-6)) if abs(x) >= u[1]),
                       ("ns", 1e-9))
    return f"{x / scale:.3g} {unit}"


def peers_table(timed: dict) -> str:
    """Peers down, problems across: the median per iteration (epoch), the fastest in bold; and
    jaxdnn manual against the two floors."""
    head = ["peer"] + [f"{n} {r['dims']}, m={r['m']}" + (f", batch {r['batch_size']} (epoch)" if
                                                         r["batch_size"] else "")
                       for n, r in timed.items()]
    cell = lambda r, p: ((f"**{sec(r['peers'][p]['seconds'])}**" if p == r["fastest"] else
                          sec(r["peers"][p]["seconds"])) if r["peers"][p]["status"] == "ok" else
                         r["peers"][p]["status"])
    mine = lambda r, k: (f"{r['peers']['jaxdnn-manual'][k]:.2f}x" if r["peers"]["jaxdnn-manual"][
        "status"] == "ok" else "")
    return markdown_table(head, [[p] + [cell(r, p) for r in timed.values()] for p in PEERS] + [
        ["jaxdnn manual / the floor's best rate"] + [
            mine(r, "ratio_to_floor") + f" ({r['floor']['bound']})" for r in timed.values()],
        ["jaxdnn manual / its own GEMM shapes"] + [
            mine(r, "ratio_to_own_shapes_floor") for r in timed.values()]])


def problem_line(name: str, r: dict) -> str:
    ok = {p: v for p, v in r["peers"].items() if v["status"] == "ok"}
    return (f"- **{name}** ({r['data']}; {r['iterations']} {r['unit']}s, {r['repeats']} rounds): "
            "spread (compile) " + ", ".join(f"{p} {sec(min(v['times']))}-{sec(max(v['times']))} "
                                            f"({sec(v['compile_seconds'])})" for p, v in ok.items())
            + "; " + "".join(f"{p} {v['status']}: {v['reason']}; " for p, v in r["peers"].items()
                             if p not in ok) + f"cost curves against {r['cost_reference']} within "
            f"{max(r['cost_agreement'].values(), default=0):.1e}; peak RSS "
            f"{r['memory']['peak_rss_mib']:.0f} MiB, {r['memory']['rss_before_data_mib']:.0f} "
            "before the data" + (f", device peak {r['memory']['device_peak_mib']:.0f} MiB"
                                 if r["memory"]["device_peak_mib"] else "") + ".")


def scalars(res: dict) -> str:
    """A result's plain figures, as a table."""
    show = lambda v: f"{v:.4g}" if isinstance(v, float) else v
    return markdown_table(["", ""], [[k, show(v)] for k, v in res.items()
                                     if isinstance(v, (bool, int, float, str, tuple))])


def growth_md(g: dict) -> str:
    rows = [[r["mode"], r["dims"], f"{r['m']:,}", "failed"] if r["status"] != "ok" else [
        r["mode"], r["dims"], f"{r['m']:,}", r["P"], sec(r["seconds"]), f"{r['memory_mib']:.0f}",
        " + ".join(f"{x:.0f}" for x in r["xla_arguments_temporaries_mib"]),
        "{total:.0f} = {data:.0f} + {params:.1f} + {caches:.0f} + {working_copies:.0f}".format(
            **r["model_mib"]), f"{r['xla_mib'] / r['model_mib']['total']:.2f}"]
        for r in g["points"]]
    return "\n".join([
        f"Full batch: seconds per iteration; minibatches of {g['batch_size']}: per epoch. Memory:"
        f" {g['memory_method']}. XLA: its account of one compiled chunk of `train_steps`, "
        "arguments + temporaries. Model: data + params + caches (Z, A of each layer over a batch)"
        " + fit's working copies of (X, Y).", "",
        markdown_table(["mode", "layers", "m", "weights P", "time", "memory MiB", "XLA MiB",
                        "model MiB", "XLA / model"], rows), "",
        "Slopes (log-log): " + "; ".join(f"{k} {v:.2f}" for k, v in g["slopes"].items())
        + ". A minibatch epoch against a full-batch iteration: " + "; ".join(
            f"m = {int(m):,}: {r:.2f}x" for m, r in g["epoch_vs_full_batch"].items()) + ".", "",
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
                  peers_table(timed), ""] + [problem_line(n, r) for n, r in timed.items()]
    for name, res in probs.items():
        if res["status"] != "ok":
            lines += ["", f"## {name}", "", f"**{res['status'].upper()}**: {res['reason']}"]
        elif name not in TIMED:
            lines += ["", f"## {name}", "", (growth_md if name == "growth" else scalars)(res)]
    return "\n".join(lines) + "\n"
