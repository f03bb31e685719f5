#!/usr/bin/env python
"""Run nbdev's own docs processing on every notebook, as the GitHub Pages build (quarto-ghp) does before Quarto.

    python tools/check_site.py

That build executes only the cells nbdev's `exec_show_docs` picks: exported cells, import cells, `show_doc` calls and
cells marked `#| exec_doc`. A figure cell marked `#| exec_doc` must therefore run with nothing else from its
notebook, and this check proves it does, offline. It prints one line per notebook with the number of figures the
site will show, and exits 1 if any notebook fails to process.
"""
import os, sys, warnings
from pathlib import Path
from execnb.nbio import read_nb
from nbdev.config import get_config
from nbdev.processors import FilterDefaults

def main():
    nbs = get_config().nbs_path
    os.chdir(nbs)
    os.environ["IN_TEST"] = "1"
    failed = 0
    for path in sorted(Path(".").glob("*.ipynb")):
        nb = read_nb(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                FilterDefaults()(nb)
        except Exception as error:
            failed += 1
            print(f"FAIL {path}: {error}".splitlines()[0])
            continue
        figures = sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
        print(f"ok   {path}: {figures} figure(s) on the site")
    print(f"{len(list(Path('.').glob('*.ipynb'))) - failed} passed, {failed} failed")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
