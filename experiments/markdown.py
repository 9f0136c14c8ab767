"""Markdown: tables, a result as a report section, percentages."""

from __future__ import annotations


def markdown_table(headers, rows) -> str:
    """A GitHub-flavoured Markdown table; cells are ``str``-ed and ``|`` is escaped."""
    cell = lambda x: str(x).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(map(cell, headers)) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return "\n".join(lines)


def pct(x: float, digits: int = 2) -> str:
    """``0.9856 -> "98.56 %"``."""
    return f"{100 * float(x):.{digits}f} %"


def result_markdown(result: dict, link_prefix: str = "", level: int = 2) -> str:
    """A run's result as Markdown: question, status, tables with notes, plot links, time."""
    h = "#" * level
    lines = [f"{h} {result['name']}", "", f"**Question.** {result['question']}", ""]
    if result["status"] != "ok":
        lines += [f"**{result['status'].upper()}:** {result['reason']}", ""]
    for t in result["tables"]:
        lines += [f"**{t['title']}**", "", t["markdown"], ""]
        if t.get("note"):
            lines += [f"*Note.* {t['note']}", ""]
    for note in result["notes"]:
        lines += [note, ""]
    for p in result["plots"]:
        alt = p["caption"].replace("[", "(").replace("]", ")")  # brackets would end the alt text
        lines += [f"![{alt}]({link_prefix}{p['file']})", "", f"*{p['caption']}*", ""]
    if result.get("seconds") is not None:
        lines += [f"Run time: {result['seconds']:.1f} s.", ""]
    return "\n".join(lines)
