#!/usr/bin/env python
"""Check that every measured-looking number in the notebooks' prose is computed or asserted by a cell beside it.

    python tools/check_prose_numbers.py

A number in the text is a claim, and a claim that no cell makes goes stale unnoticed when the code changes: every
number in the prose is to be computed or asserted by the cell beside it, or given with the command that produced it.
This is a heuristic check of that. In each markdown cell of `nbs/*.ipynb` (not `_*` files, not checkpoints) it finds
the numbers that look measured:

- decimals (0.54, 3.9), percentages (12%, 63\\%), ratios (2.5×, 10x, 3 times), times (11 s, 6 µs,
  26 CPU minutes), and any number after "about", "roughly", "around", "nearly", "almost", "some", "~" or "≈";
- every number in a markdown table's body rows, but for the first column, which names the row.

It skips what is not a claim: fenced code blocks and code spans (code: a literal, a name or a command), link targets,
URLs and HTML tags, headings (chapter and section numbers), versions (2.13.0, Python 3.12), section marks (§3.1),
numbers joined to a word (`h0`, 3H), sizes such as 5×100, and inside `$...$` maths every integer that is not
a percentage (dimensions, indices, exponents): there only decimals and percentages count.

A number is checked when one of these holds:

1. A cell beside it computes or asserts it: its value as written (commas dropped; for p%, also p/100) is the value
   of a numeric literal (0.54, .98, 11_000, 1e-3) in the source of one of the NEAR code cells before the markdown
   cell or the NEAR code cells after it, as in `assert abs(measured - 0.54) < 0.02`.
2. The text gives the command that produced it: its paragraph, or for a number in a table the paragraph just
   before the table, holds a code span that starts with one of the package's console scripts (read from
   settings.ini: `sinrnn_train ...`, `sinrnn_bench ...`), with `python ` or with `nbdev_`.
3. It is on ALLOWED, with its notebook, the number as written and the reason: a definition, a citation or a
   setting, not a measurement. An entry holds for the whole notebook.

Exits 1 if any number is unchecked, printing for each the notebook, the cell's index, the number and its sentence.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEAR = 3  # code cells before and after a markdown cell whose source may compute its numbers

# (notebook, number as written, reason): numbers that are definitions, citations or settings, not measurements.
ALLOWED = [
    ("01_gradcheck.ipynb", "1.1", "a definition: the unit roundoff u = 2^-53, written out as 1.1e-16"),
    ("09_optim.ipynb", "0.9", "a setting: the momentum of the worked example, for which 1/(1 - mu) is ten"),
    ("09_optim.ipynb", "1.2", "a setting: the growth per step of the worked example, 1.2^49"),
    ("14_forecast.ipynb", "0.5", "a setting: the low end of the forecasting recipe's amplitudes"),
    ("14_forecast.ipynb", "1.5", "a setting: the high end of the forecasting recipe's amplitudes"),
    ("14_forecast.ipynb", "0.99", "a setting: the drifted amplitude of a thought experiment"),
    ("15f_recipe_search.ipynb", "1.5", "a definition: the first of UNSEEN_FREQUENCIES, the half-integers"),
    ("15f_recipe_search.ipynb", "2.5", "a definition: the second of UNSEEN_FREQUENCIES"),
    ("15f_recipe_search.ipynb", "8.5", "a definition: the last of UNSEEN_FREQUENCIES"),
    ("index.ipynb", "26", "a citation: the CPU minutes the research notebook's own run took"),
]

SCRIPTS = [s.split("=")[0] for s in re.search(r"^console_scripts\s*=(.*)$", (ROOT / "settings.ini").read_text(),
                                               re.M).group(1).split()]
COMMAND = re.compile(r"`(?:%s|python |nbdev_)[^`]*`" % "|".join(map(re.escape, SCRIPTS)))
NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
APPROX = r"(?:about|roughly|around|nearly|almost|some|~|≈|\\approx)"
MEASURED = re.compile(  # one of the four groups holds the number
    rf"(?<![\w.]){APPROX}\s*({NUM})(?![\w.]\d)"                      # about 40, ~3 s
    rf"|(?<![\w.,§])({NUM})\s*(?:\\?%|(?:×|x\b|times\b)(?!\s*[\d(]))"       # 12%, 2.5×, 10x; not 5×100
    rf"|(?<![\w.,§])({NUM})\s*(?:s|ms|µs|seconds?|min|minutes?|hours?|CPU minutes)\b"  # 11 s, 26 CPU minutes
    rf"|(?<![\w.,§])(\d+\.\d+)(?![\w.]*\d)")                             # 0.54, 3.9
TABLE_NUM = re.compile(rf"(?<![\w.,])({NUM})(?![\w.]*\d|[^\W\d])")
VERSION = re.compile(r"\d+\.\d+\.\d+|(?:Python|python|torch|numpy|NumPy|nbdev|v)\s*\d+(?:\.\d+)*")


def blank(text, pattern, flags=0):
    "Replace each match of `pattern` by spaces, so that offsets (and sentences) keep their place."
    return re.sub(pattern, lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=flags)


def prose(text):
    "The markdown with everything that is not a claim blanked out: code, links, HTML, headings, versions."
    text = blank(text, r"```.*?```", re.S)
    text = blank(text, r"`[^`\n]*`")
    text = blank(text, r"\]\([^)]*\)|<[^>\n]*>|https?://\S+")
    text = blank(text, r"^#+ .*$", re.M)
    text = blank(text, VERSION.pattern)
    # maths: integers are structure (sizes, indices, exponents); keep only decimals and percentages
    keep = lambda d: d.group(0) if "." in d.group(0) or d.group(0).endswith("%") else " " * len(d.group(0))
    return re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", lambda m: re.sub(r"\d+\.\d+|\d+(?:\\%)?", keep, m.group(0)),
                  text, flags=re.S)


def numbers(source):
    "Yield (offset, number as written) for each measured-looking number in one markdown cell's source."
    text = prose(source)
    for m in MEASURED.finditer(text):
        i = next(g for g in (1, 2, 3, 4) if m.group(g))
        yield m.start(i), m.group(i)
    offset, in_table = 0, False
    for line in source.splitlines(keepends=True):
        row = line.lstrip().startswith("|")
        if row and in_table and not re.fullmatch(r"[\s|:-]+", line):  # a body row: not the header, not |---|
            first_cell_end = offset + line.index("|", line.index("|") + 1)  # the first column names the row
            for m in TABLE_NUM.finditer(text[first_cell_end:offset + len(line)]):
                yield first_cell_end + m.start(1), m.group(1)
        in_table = row
        offset += len(line)


def literals(source):
    "The values of the numeric literals in code: `0.54`, `.98`, `11_000`, `1e-3`."
    return {float(lit.replace("_", "")) for lit in re.findall(r"(?<![\w.])(?:\d[\d_]*\.?\d*|\.\d+)(?:e-?\d+)?(?!\w)",
                                                            source)}


def values(number, text_after):
    "The values that would make `number` checked: as written (commas dropped), and p/100 for a percentage p%."
    value = float(number.replace(",", ""))
    return {value, value / 100} if text_after.lstrip().lstrip("\\").startswith("%") else {value}


def commanded(source, offset):
    "Whether the paragraph around `offset`, or the paragraph just before it if it is a table, gives a command."
    paragraphs = [m for m in re.finditer(r"(?:.|\n(?![ \t]*\n))+", source)]  # runs of lines without a blank one
    for k, m in enumerate(paragraphs):
        if m.start() <= offset < m.end():
            here = [m.group(0)] + ([paragraphs[k - 1].group(0)] if k and m.group(0).lstrip().startswith("|") else [])
            return any(COMMAND.search(text) for text in here)
    return False


def sentence(source, offset):
    "The sentence (or table row) around `offset`, on one line."
    start = max(source.rfind(c, 0, offset) for c in (". ", "\n\n", "\n|", "? ", "! ")) + 1
    ends = [i for i in (source.find(c, offset) for c in (". ", "\n\n", "\n|")) if i >= 0]
    return " ".join(source[start:min(ends) + 1 if ends else None].split())


def check(nb):
    cells = json.loads(nb.read_text())["cells"]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    allowed = {number for name, number, _ in ALLOWED if name == nb.name}
    hits = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        before = [j for j in code if j < i][-NEAR:]
        after = [j for j in code if j > i][:NEAR]
        near = set().union(*(literals("".join(cells[j]["source"])) for j in before + after))
        for offset, number in numbers(source):
            if number in allowed or values(number, source[offset + len(number):]) & near:
                continue
            if commanded(source, offset):
                continue
            hits.append(f"{nb.name} cell {i}: {number} in: {sentence(source, offset)}")
    return list(dict.fromkeys(hits))


def main():
    notebooks = [nb for nb in sorted((ROOT / "nbs").glob("*.ipynb")) if not nb.name.startswith("_")]
    hits = [hit for nb in notebooks for hit in check(nb)]
    print("\n".join(hits) or f"{len(notebooks)} notebooks: every measured-looking number in the prose is checked")
    if hits:
        print(f"{len(hits)} numbers in the prose that no cell beside them computes: assert them in a cell beside the "
              "text, give the command that produced them, or add them to ALLOWED with the reason")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
