#!/usr/bin/env python
"""Build README.md and an offline HTML preview of the notebooks: nbdev's own docs processing, then nbconvert.

    python tools/build_docs.py                          # README.md and _preview/ from every notebook
    python tools/build_docs.py nbs/03_elman.ipynb    # only these pages (and README.md if index.ipynb is one)

Each notebook is read with `execnb.nbio.read_nb` and processed by `nbdev.processors.FilterDefaults` with cwd = nbs/
and IN_TEST=1, as the GitHub Pages build (quarto-ghp) does before Quarto. That runs only the cells nbdev's docs build
runs (exported cells, import cells, `show_doc` calls and `#| exec_doc` cells), so the preview shows what the site
shows. The Quarto options nbdev leaves in code cells (`#| echo: false`, `output: false`, `include: false`) become tags
for nbconvert's TagRemovePreprocessor, `code-fold: true` folds a cell's code as Quarto does (under its
`code-summary`), and widget outputs become a note (their JS would come from a CDN). Then

* `_preview/<page>.html`: nbconvert's lab template, page names as on the site (`02_activations.ipynb` ->
  `activations.html`), a folded list linking every page, links to the site turned into links between the pages, and
  MathJax 3 copied from the `django-static-mathjax` package into `_preview/_static/`: opening a page requests nothing
  from the network;
* `README.md` from settings.ini `readme_nb` (index.ipynb) with nbconvert's markdown exporter, its figures in
  `index_files/figure-commonmark/`.

Every notebook runs in a fresh process, as many at once as there are CPUs, with OpenBLAS's AVX2 kernels on x86-64
(`OPENBLAS_CORETYPE=Haswell`, unless it is set): the README's figure comes from 11,000 steps of gradient descent,
whose last bits depend on how the kernels round, and OpenBLAS picks other kernels on AVX-512 CPUs. Forced, the
figure is the same on every x86-64 CPU with AVX2. (How far apart: `train_recipe("notebook", seed=0)` ended at a
loss of 8.10 with these kernels and 6.30 with the AVX-512 ones, on one Xeon, as the last `history.train_loss`.)

Prints one line per notebook with the number of figures the site shows, and exits 1 if a notebook fails to process:
the Pages build would fail on it too. So does a cell the page runs that prints and ends with `;`, as execnb drops
all of such a cell's printed output.
"""
import contextlib, functools, io, os, platform, re, shutil, sys, warnings
from importlib.resources import files
from multiprocessing import get_context
from pathlib import Path
import nbformat
from execnb.nbio import nb2str, read_nb
from jinja2 import DictLoader
from nbconvert import HTMLExporter, MarkdownExporter
from nbconvert.writers import FilesWriter
from nbdev.config import get_config
from nbdev.doclinks import _nbpath2html, nbglob
from nbdev.frontmatter import FrontmatterProc
from nbdev.process import NBProcessor
from nbdev.processors import FilterDefaults
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
PREVIEW = ROOT/'_preview'
EXEC_DOC = re.compile(r'^#\|\s*exec_doc\s*$', re.M)
MATHJAX = '_static/tex-svg-full.js'  # MathJax 3 in one file: TeX input, SVG output, no fonts to fetch
WIDGET = 'application/vnd.jupyter.widget-view+json'
WIDGET_NOTE = '(an interactive widget: it needs a running Python kernel, so this offline preview leaves it out)'
QUARTO_OPTION = re.compile(r'^#\|\s*([\w-]+):\s*(.*?)\s*$\n?', re.MULTILINE)
CONFIG = Config(TagRemovePreprocessor=dict(enabled=True, remove_cell_tags={'include: false'},
                                           remove_input_tags={'echo: false'},
                                           remove_all_outputs_tags={'output: false'}),
                ExtractOutputPreprocessor=dict(output_filename_template='cell-{cell_index}-output-{index}{extension}'))
TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
{% block html_head_js_mathjax %}
<script>  // an undefined macro is an error, not red text: check_docs.py finds it
window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], processEscapes: true,
                        packages: {'[-]': ['noundefined']}}};
</script>
<script src="{{ resources.mathjax_url }}"></script>
{% endblock %}
{% block extra_css %}
<style>
body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 1rem; }
nav.pages ul { display: flex; flex-wrap: wrap; gap: 0.2rem 1.2rem; list-style: none; padding: 0; }
nav.pages { font-family: var(--jp-ui-font-family); font-size: 90%; }
nav.pages summary, details.code-fold > summary { cursor: pointer; color: var(--jp-content-link-color); font-size: 90%;
                                                 font-family: var(--jp-content-font-family); }
.jp-RenderedMarkdown pre { border: 1px solid var(--jp-border-color2); border-radius: 4px; padding: 0.5rem 0.8rem;
                           background: var(--jp-layout-color2); overflow-x: auto; white-space: pre; }
</style>
{% endblock %}
{% block input_group -%}
{%- if 'code-fold: true' in cell.metadata.get('tags', []) -%}
<details class="code-fold"><summary>{{ cell.metadata.get('code_summary', 'Code') | e }}</summary>{{ super() }}</details>
{%- else -%}{{ super() }}{%- endif -%}
{%- endblock input_group %}
{% block body_header %}{{ super() }}
<nav class="pages"><details><summary>sinrnn: every page</summary><ul>
{%- for href, title in resources.pages %}<li><a href="{{ href }}">{{ title | e }}</a></li>
{% endfor %}</ul></details></nav>
{% endblock %}
"""

def site_notebook(path:Path) -> tuple[nbformat.NotebookNode, int]:
    "`path` as the Pages build sees it after nbdev's processors, in nbconvert's terms; and its number of figures"
    nb = read_nb(path)
    for cell in nb.cells:
        if EXEC_DOC.search(cell.source) and cell.source.rstrip().endswith(';') and 'print(' in cell.source:
            raise ValueError(f"execnb, which runs the page's cells, drops all the printed output of a cell that ends "
                             f"with ';': end it without one (assign the last value)\n{cell.source}")
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):  # widgets' repr
        warnings.simplefilter('always')
        FilterDefaults()(nb)
    for warning in caught:  # the build runs such a cell without the cells before it: it fails, or shows test code
        if str(warning.message).startswith('Found cells containing imports and other code'):
            raise ValueError(f'a cell mixes imports and other code: give its imports a cell of their own, or mark it '
                             f'#| exec_doc if the page should run it\n{warning.message}')
    frontmatter = nb.frontmatter_
    nb = nbformat.reads(nb2str(nb), as_version=4)
    nb.metadata.pop('widgets', None)  # the widget state exec_show_docs saves: nbconvert would add widget JS for it
    nb.metadata.language_info = dict(name='python')
    if nb.cells and nb.cells[0].cell_type == 'raw':  # the frontmatter FrontmatterProc puts first: Quarto's title
        description = f"\n\n> {frontmatter['description']}" if 'description' in frontmatter else ''
        nb.cells[0] = nbformat.v4.new_markdown_cell(f"# {frontmatter['title']}{description}", id='title')
    figures = 0
    for cell in nb.cells:
        if cell.cell_type != 'code': continue
        options = dict(QUARTO_OPTION.findall(cell.source))
        if 'code-summary' in options: cell.metadata.code_summary = options.pop('code-summary').strip('"')  # has commas
        cell.metadata.tags = [f'{name}: {value}' for name, value in options.items()]
        cell.source = QUARTO_OPTION.sub('', cell.source).strip()
        cell.outputs = [output for output in cell.outputs if output.get('data') != {}]  # a widget's empty result
        for output in cell.outputs:
            data = output.get('data', {})
            # a figure that fails to draw (a label matplotlib cannot parse) leaves its text and no picture
            if 'image/png' not in data and str(data.get('text/plain', '')).startswith('<Figure size'):
                raise ValueError(f"a figure on the page failed to draw: run the cell to see why\n{cell.source}")
            if WIDGET in data: output.data = dict.fromkeys(['text/plain'], WIDGET_NOTE)
            figures += 'image/png' in data
    nb.cells = [cell for cell in nb.cells if cell.source.strip() or cell.get('outputs')]
    return nb, figures

def build_page(path:Path, pages:list, site_url:str, readme_nb:Path) -> tuple[bool, str]:
    "Write the preview page of notebook `path` (and README.md if it is `readme_nb`); whether it worked, and a report"
    try: nb, figures = site_notebook(path)
    except Exception as error:
        return False, f'FAIL {path.name}: {str(error).partition(chr(10))[0]} {error.__cause__!r}'
    page = _nbpath2html(path).name
    exporter = HTMLExporter(config=CONFIG, template_name='lab', template_file='preview.html.j2', mathjax_url=MATHJAX,
                            extra_loaders=[DictLoader({'preview.html.j2': TEMPLATE})],
                            exclude_input_prompt=True, exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb, resources=dict(pages=pages, metadata=dict(name=dict(pages)[page])))
    (PREVIEW/page).write_text(html.replace(f'href="{site_url}', 'href="'), encoding='utf-8')
    report = f'ok   {path.name} -> {PREVIEW.name}/{page}: {figures} figure(s) on the site'
    if path == readme_nb:
        figures_dir = f'{path.stem}_files/figure-commonmark'
        markdown, resources = MarkdownExporter(config=CONFIG).from_notebook_node(nb, dict(output_files_dir=figures_dir))
        shutil.rmtree(ROOT/figures_dir, ignore_errors=True)
        FilesWriter(build_directory=str(ROOT)).write(markdown, resources, notebook_name='README')
        report += f'; README.md, its figures in {figures_dir}/'
    return True, report

def main():
    config = get_config()
    notebooks = [Path(name) for name in nbglob(config.nbs_path)]
    wanted = [Path(name).resolve() for name in sys.argv[1:]] or notebooks
    if set(wanted) - set(notebooks): sys.exit(f'not a docs notebook: {sorted(map(str, set(wanted) - set(notebooks)))}')
    pages = [(_nbpath2html(path).name, NBProcessor(path, FrontmatterProc, process=True).nb.frontmatter_['title'])
             for path in notebooks]
    os.chdir(config.nbs_path)
    os.environ['IN_TEST'] = '1'
    if platform.machine() in ('x86_64', 'AMD64'): os.environ.setdefault('OPENBLAS_CORETYPE', 'Haswell')
    if wanted == notebooks: shutil.rmtree(PREVIEW, ignore_errors=True)
    (PREVIEW/MATHJAX).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(files('mathjax')/'static/mathjax/es5'/Path(MATHJAX).name, PREVIEW/MATHJAX)
    build = functools.partial(build_page, pages=pages, site_url=f'{config.doc_host}{config.doc_baseurl}/',
                              readme_nb=(config.nbs_path/config.readme_nb).resolve())
    failed = 0
    with get_context('spawn').Pool(os.cpu_count(), maxtasksperchild=1) as pool:
        for worked, report in pool.imap(build, wanted):
            print(report, flush=True)
            failed += not worked
    print(f'{len(wanted) - failed} built, {failed} failed; open {PREVIEW.relative_to(ROOT)}/index.html')
    return 1 if failed else 0

if __name__ == '__main__':
    sys.exit(main())
