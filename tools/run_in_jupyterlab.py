"""Every chapter, run top to bottom in JupyterLab in Chromium, as a reader runs it: Run All in a fresh kernel.

nbdev_test runs the notebooks in execnb, whose event loop and display differ from a browser's kernel: a cell that
needs the loop JupyterLab runs (a browser test inside the notebook) or a widget's front end can pass there and stop
Run All here. This script copies the working tree to a scratch folder (so the notebooks in nbs/ never get outputs
saved into them), starts JupyterLab there, and for each chapter opens it in a new workspace, runs every cell, waits
for the kernel, and reads the page: a chapter passes if every code cell ran (Run All stops at the first error) and no
output shows a traceback. It prints one line per chapter and exits 1 if any failed.

    pip install -e ".[dev,lab]"; python tools/run_in_jupyterlab.py [nbs/03_elman.ipynb ...] [--timeout 900]

Chromium comes from the system (apt-get install chromium), as for the browser tests. JupyterLab runs as root only
with --allow-root, which this passes.
"""
import argparse, shutil, sys, tempfile, time
from pathlib import Path
from playwright.sync_api import sync_playwright
from sinrnn.key_latency import close_sessions, free_port, kernel_state, run_all_in_lab, start_lab, stop_server

ROOT = Path(__file__).resolve().parent.parent
COUNTS = "Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')).map(e => e.textContent.trim())"
# an error's output, as IPython renders it; an API entry of an exception class is no error
TRACEBACKS = """Array.from(document.querySelectorAll('.jp-OutputArea-output'))
  .map(e => e.textContent).filter(t => t.includes('Traceback (most recent call last)')).map(t => t.slice(0, 400))"""


def run_chapter(browser, port, name, timeout):
    "Open `name` in a new workspace, Run All, and return (seconds, problems)."
    page, start = None, time.time()
    try:
        page = run_all_in_lab(browser, port, f"nbs/{name}")
        start = time.time()
        page.wait_for_timeout(2_000)
        while time.time() - start < timeout:
            if not any("*" in c for c in page.evaluate(COUNTS)) and kernel_state(port, f"nbs/{name}") == "idle":
                break
            page.wait_for_timeout(1_000)
        counts, tracebacks = page.evaluate(COUNTS), page.evaluate(TRACEBACKS)
        problems = [f"timed out after {timeout} s"] if any("*" in c for c in counts) else []
        not_run = sum(1 for c in counts if c in ("[ ]:", "[]:", ""))
        if not_run:
            problems.append(f"{not_run} of {len(counts)} code cells did not run")
        problems += [f"traceback: {' '.join(t.split())[:300]}" for t in tracebacks]
        return time.time() - start, problems
    except Exception as error:  # the page did not open or Run All could not be clicked: this chapter fails, not all
        return time.time() - start, [f"could not run: {' '.join(str(error).split())[:300]}"]
    finally:
        if page is not None:
            page.close()
        close_sessions(port, f"nbs/{name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters to run (default: every chapter in nbs/)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a chapter may run")
    args = parser.parse_args()
    names = [Path(n).name for n in args.notebooks] or sorted(
        p.name for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))
    failed = 0
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "sinrnn"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".ci-venv", "_preview", "*.egg-info",
                                                                  ".ipynb_checkpoints", "__pycache__"))
        port = free_port()
        lab = start_lab(copy, port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                            args=["--no-sandbox"])
                for name in names:
                    seconds, problems = run_chapter(browser, port, name, args.timeout)
                    failed += bool(problems)
                    print(f"{'FAIL' if problems else 'ok  '} {name} ({seconds:.0f} s)" +
                          "".join(f"\n     {problem}" for problem in problems), flush=True)
                browser.close()
        finally:
            stop_server(lab)  # before the scratch folder goes
    print(f"{len(names) - failed} of {len(names)} chapters ran top to bottom in JupyterLab")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
