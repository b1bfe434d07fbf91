"""The report of `tfgan-text evaluate`: a table for people, JSON for programs."""

import json
import math
import os


def _flat(figures, prefix=""):
    """`{"fid": 3.1, "kid": {"mean": .., "std": ..}}` -> rows `("kid", "0.0021 ± 0.0004")`."""
    rows = {}
    for name, value in figures.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and set(value) >= {"mean", "std"}:
            rows[key] = f"{value['mean']:.4f} ± {value['std']:.4f}"
        elif isinstance(value, dict):
            rows.update(_flat(value, key + "."))
        elif isinstance(value, float):
            rows[key] = "nan" if math.isnan(value) else f"{value:.4f}"
        else:
            rows[key] = str(value)
    return rows


def format_table(report):
    """Rows of `metric  model  real images`, then the judge and the notes."""
    model, real = _flat(report["metrics"]), _flat(report["real"])
    names = list(model) + [name for name in real if name not in model]
    width = max([len(name) for name in names] + [6])
    lines = [f"{report['task']}: {report['model']} on {report['data']} {report['split']}, "
             f"{report['num_images']} images, seed {report['seed']}",
             f"{'metric':<{width}}  {'model':>20}  {'real images':>20}"]
    lines += [f"{name:<{width}}  {model.get(name, '-'):>20}  {real.get(name, '-'):>20}" for name in names]
    for key in ("judge", "matching_judge"):
        if report.get(key):
            hashes = ", ".join(f"{name} {digest[:12]}" for name, digest in report[key]["sha256"].items())
            lines.append(f"{key}: {report[key]['name']} ({hashes or 'random weights'})")
    lines += [f"note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines)


def write_report(path, report):
    """Writes the report as JSON to `path` (through a temporary file: never half a report)."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(report, file, indent=1, default=float)
        file.write("\n")
    os.replace(temporary, path)
