#!/usr/bin/env python
"""Check the shape of the package: every module imports only modules from earlier notebooks, and none is too long.

    python tools/check_structure.py

A module's place is the number of the notebook it is exported from. An import of a sibling module must point to an
earlier notebook, at the top of the module: a deferred `from .x import` inside a function is refused as well.
Exits 1 on any violation, printing one line for each.
"""
import json, re, sys
from pathlib import Path

MAX_LINES = 300
ROOT = Path(__file__).resolve().parent.parent

def main():
    place = {}
    for nb in sorted((ROOT / "nbs").glob("*.ipynb")):
        source = "\n".join("".join(cell["source"]) for cell in json.loads(nb.read_text())["cells"])
        match = re.search(r"^#\| default_exp (\w+)", source, re.M)
        if match:
            place[match.group(1)] = nb.name
    problems = []
    for module, notebook in place.items():
        lines = (ROOT / "sinrnn" / f"{module}.py").read_text().splitlines()
        if len(lines) > MAX_LINES:
            problems.append(f"sinrnn/{module}.py has {len(lines)} lines, more than {MAX_LINES}")
        for number, line in enumerate(lines, 1):
            match = re.match(r"(\s*)from \.(\w+) import", line)
            if not match:
                continue
            if match.group(1):
                problems.append(f"sinrnn/{module}.py:{number} imports .{match.group(2)} inside a function")
            if place.get(match.group(2), "~") >= notebook:
                problems.append(f"sinrnn/{module}.py:{number} imports .{match.group(2)}, which is not from an "
                                f"earlier notebook than {notebook}")
    print("\n".join(problems) or f"{len(place)} modules: imports go downward, none over {MAX_LINES} lines")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
