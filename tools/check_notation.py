"""The book's notation, checked where a program can check it.

nbs/02a_notation.ipynb gives every symbol one meaning and counts steps 1 ... T. This script reads the maths and the
prose of every chapter, and the strings of the package that readers see in messages, for the clashes that can be
found mechanically: a step counted from 0, a capital letter for a batch instead of a bold one, G or L in another
meaning, a single vector with a weight on its right, and the spellings that the notation replaced. It prints each
hit with the notebook, the cell and the words around it, and exits non-zero if there is one.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$", re.S)
NOT_AFTER = r"(?<![\\\w{^])"  # not part of a longer name, a LaTeX command or a superscript

# (pattern, what the notation says instead); patterns on maths look inside $...$ only
IN_MATH = [
    (NOT_AFTER + r"(?:x|y|w|\\tau|\\chi|a)_\{?0\}?(?![\d.])|\\(?:mathbf|hat|bar)\{\\?(?:x|y|w|a|mathbf\{[xya]\})\}_\{?0\b",
     "steps count 1 ... T: the first input is x_1"),
    (r"h_\{-1\}", "steps count 1 ... T: the state before the first step is h_0"),
    (r"(?:\\dots|\\ldots)[^$]{0,12}_\{[TL]\s*-\s*1\}", "steps count 1 ... T, up to T, not T - 1"),
    (NOT_AFTER + r"(?:A|H|X|Y|Z)_\{?t", "a batch is bold and lower case, such as \\mathbf h_t"),
    (r"\\bar\s*\{?\s*(?:A|H|X|Y|Z)(?![a-zA-Z])", "a batch is bold and lower case, such as \\bar{\\mathbf h}_t"),
    (NOT_AFTER + r"G(?:_|\^|\s*\\odot)|\\langle\s*G|\\bar\s*G", "G counts gate blocks; the outputs' share is \\bar h^{out}"),
    (NOT_AFTER + r"g\^\{?[xh]", "the GRU's affine terms are q^x and q^h; g_t is the LSTM's candidate"),
    (NOT_AFTER + r"c\^\{?n|" + NOT_AFTER + r"K\^|" + NOT_AFTER + r"P_t", "a backward pass's factors are \\kappa"),
    (r"(?<!\\bar )(?<!\\bar\{)(?<!\\mathbf )" + NOT_AFTER + r"(?:x|h)_\{?t(?:\s*-\s*1)?\}?\s*W_",
     "a weight acts from the left, W x_t, or on a bold batch from the right"),
    (r"\^\{\(L\)\}|\\dots,\s*L\b|" + NOT_AFTER + r"L\s*=\s*(?:\d|D\b)|" + NOT_AFTER + r"w_\{L|\(L\s*-\s*1\)",
     "L is the loss: a stack has S layers"),
    (r"(?:\\sum|\\prod)_\{k\s*=|" + NOT_AFTER + r"k\s*=\s*0,", "k is the truncation window"),
    (NOT_AFTER + r"f'|" + NOT_AFTER + r"f\((?!\s*t\b)|\\overline\{f'\}", "the activation is \\phi; f_t is the forget gate"),
    (r"\\sin\(f\b|" + NOT_AFTER + r"f\s*\\in|" + NOT_AFTER + r"f\s*=\s*\d", "a wave's frequency is \\nu"),
    (r"\\varphi", "a wave's phase is \\psi, and \\phi the activation"),
    (r"\\phi\s*=\s*\\sigma|\\phi\^", "\\phi is the activation"),
    (r"e_\{?c|p\(c\b|\\#\(?u?\s*c|\\#c|" + NOT_AFTER + r"c_\{t\s*\+\s*1,", "c_t is the LSTM's cell state; a character is \\chi"),
    (NOT_AFTER + r"\\hat c\b", "c_t is the LSTM's cell state"),
    (r"\\partial z_|z\s*\\in\s*\\mathbb\{R\}\^K|\\bar z\s*=\s*\(", "z_t is the update gate; logits are \\hat y"),
    (r"\\bar h\s*=\s*\\frac", "a bar is a gradient"),
    (r"\\ell_\{?t", "the loss at step t is L_t; \\ell counts layers"),
    (NOT_AFTER + r"U_\{?[fnrz]|" + NOT_AFTER + r"g_t\s*=\s*f_t", "a block of W_hidden is W_{hidden,f}; g_t is the LSTM's candidate"),
    (NOT_AFTER + r"t\s*\\in\s*\[|" + NOT_AFTER + r"t\s*=\s*5\b|\\Delta t", "t counts steps; time is \\tau"),
    (r"\\sigma\s*(?:=\s*0|>\s*0)", "\\sigma is the sigmoid; noise has \\sigma_{noise}"),
]
# on the prose around the maths, and on the package's strings
IN_TEXT = [
    (r"\bsteps? \$?0\b(?![.,]\d)", "steps count 1 ... T"),
    (r"counting (?:steps )?from 0|counted from 0", "steps count 1 ... T"),
    (r"entering steps?\s+\$?k", "truncation: the states h_k, h_2k, ... get nothing from the step after them"),
]


def chapters():
    "Every notebook of the book, in order."
    return sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))


def hits_in(text, where):
    "The (where, words, fix) of every clash in a markdown text."
    found = []
    for math in MATH.finditer(text):
        for pattern, fix in IN_MATH:
            for m in re.finditer(pattern, math.group(0), re.M):
                found.append((where, math.group(0)[max(0, m.start() - 30):m.end() + 30], fix))
    prose = text  # with its maths: "step $0$" counts a step too
    for pattern, fix in IN_TEXT:
        for m in re.finditer(pattern, prose):
            found.append((where, prose[max(0, m.start() - 40):m.end() + 40], fix))
    return found


def main():
    found = []
    for path in chapters():
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "markdown":
                found += hits_in("".join(cell["source"]), f"{path.name} cell {i}")
    for path in sorted((ROOT / "sinrnn").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            for pattern, fix in IN_TEXT:
                if re.search(pattern, line):
                    found.append((where, line.strip(), fix))
            # the maths in figures' labels and titles: a dollar sign, then a backslash or a letter
            for math in re.finditer(r"\$(?=[\\a-zA-Z])[^$\n]*\$", line):
                found += [(where, math.group(0), fix) for pattern, fix in IN_MATH if re.search(pattern, math.group(0))]
    for where, words, fix in found:
        print(f"{where}: {' '.join(words.split())!r}: {fix}")
    print(f"{len(found)} clashes with the notation of nbs/02a_notation.ipynb" if found else
          "the notation holds in every chapter and message")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
