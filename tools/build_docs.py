#!/usr/bin/env python
"""Build README.md and an offline HTML preview of every notebook, without Quarto.

    python tools/build_docs.py               # README.md + _preview/ for all notebooks
    python tools/build_docs.py nbs/03_rnn_cell.ipynb   # rebuild only these pages (and README if index is among them)

Each notebook goes through nbdev's own docs pipeline: `nbdev.processors.FilterDefaults().procs()` (plus any
`procs` from settings.ini, minus `skip_procs`), exactly as `nbdev_proc_nbs` runs it before Quarto, except that
nbdev's `exec_show_docs` processor is replaced by `exec_all` below, which executes the whole notebook instead of only
the cells show_doc needs. The processed notebook is then written as

* `_preview/<page>.html` (nbconvert's `lab` template, MathJax 3 from the `django-static-mathjax` pip package copied
  into `_preview/_static/`, cell figures embedded as data URIs, images linked from markdown copied alongside, no
  network needed; widgets are replaced by a note, as their JS would come from a CDN), page names as on the Quarto site
  (`02_activations.ipynb` -> `activations.html`); every page has a sidebar linking all pages, and `index.html` is the
  `index.ipynb` page (or a plain contents page when there is none);
* `README.md` at the repo root from `readme_nb` (settings.ini, default index.ipynb) as GitHub-flavoured markdown in the
  layout `nbdev_readme` (Quarto `-t gfm`) produces, with figures written to `<stem>_files/figure-commonmark/`.

Which cells run (the rule): a code cell runs unless
  * it has `#| eval: false`, or calls `nbdev_export()`, or is not Python -- these never run;
  * it has a test flag from settings.ini `tst_flags` (`slow`, `notest`) that is not forced with `--flags` -- skipped
    just as `nbdev_test` skips it, UNLESS nbdev's docs build would run it anyway (`_do_eval`): an export/exports/
    exporti/exec_doc cell, an import-only cell, or a show_doc call;
  * frontmatter `skip_exec: true` makes a notebook run only those docs cells (`skip_showdoc: true` too: none).
A skipped cell keeps whatever outputs are saved in the notebook. The first exception stops that notebook (the
traceback is shown in the page), the build goes on with the others and exits 1; README is not written if its notebook
failed. Cells run with IN_TEST=1, cwd = the notebook's folder and the repo root on sys.path, as under nbdev_test.
"""
from __future__ import annotations
import argparse, base64, html, json, os, re, shutil, subprocess, sys, time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREVIEW = '_preview'
STATIC = '_static'
MATHJAX_FILE = 'tex-svg-full.js'  # one self-contained file: TeX input + SVG output (no font files to fetch)

# --------------------------------------------------------------------------------------------------------------------
# Settings shared with the worker processes

def _cfg():
    from nbdev.config import get_config
    return get_config(path=ROOT)

def _doc_prefix(cfg):
    "Absolute docs-site URL prefix that nbdev's add_links/show_doc use for this library's own pages"
    return (cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/') + '/').replace('//', '/').replace(':/', '://')

def _page_rel(nb_path:Path, nbs_path:Path, fm:dict) -> str:
    "Path of the page, relative to the site root, as Quarto would write it (nbdev's `output-file`)"
    from nbdev.doclinks import _nbpath2html
    out = fm.get('output-file') or _nbpath2html(nb_path).name
    return (nb_path.parent.relative_to(nbs_path)/out).as_posix()

def _frontmatter(nb_path:Path) -> dict:
    "Title, description etc. of a notebook, found by nbdev's FrontmatterProc (no execution)"
    from execnb.nbio import read_nb
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    nb = NBProcessor(nb_path, procs=FrontmatterProc, process=True).nb
    return dict(getattr(nb, 'frontmatter_', {}) or {})

# --------------------------------------------------------------------------------------------------------------------
# Execution: nbdev's pipeline with exec_show_docs swapped for a processor that runs the whole notebook

_SKIP_FLAGS: set = set()

def _make_exec_all():
    from nbdev.process import Processor, nb_lang
    from nbdev.processors import _do_eval
    from execnb.shell import CaptureShell
    from fastcore.basics import str2bool

    class exec_all(Processor):
        "Run every cell nbdev_test would run, plus every cell nbdev's docs build runs (see module docstring)"
        def begin(self):
            fm = getattr(self.nb, 'frontmatter_', {}) or {}
            self.only_docs = str2bool(fm.get('skip_exec', False))
            self.off = nb_lang(self.nb) != 'python' or (self.only_docs and str2bool(fm.get('skip_showdoc', False)))
            self.failed, self.n_run, self.n_skip = None, 0, 0
            if self.off: return
            self.k = CaptureShell(Path(self.nb.path_).resolve())
            self.k.run_cell('from nbdev.showdoc import show_doc')

        def _want(self, cell):
            if cell.cell_type != 'code' or not cell.source.strip(): return False
            if 'nbdev_export'+'(' in cell.source: return False
            d = getattr(cell, 'directives_', {}) or {}
            if d.get('eval:', [''])[0].lower() == 'false': return False
            if nested_lang(cell) != 'python': return False
            if not self.only_docs and not (_SKIP_FLAGS & d.keys()): return True
            return bool(_do_eval(cell))  # flagged (or skip_exec): run only what nbdev's docs build runs

        def __call__(self, cell):
            if self.off or self.failed is not None or cell.cell_type != 'code': return
            if not self._want(cell):
                if cell.source.strip(): self.n_skip += 1
                return
            cell.outputs = []
            self.k.cell(cell)
            self.n_run += 1
            if self.k.exc is not None:
                first = next((l for l in cell.source.splitlines() if l.strip() and not l.lstrip().startswith('#|')), '')
                self.failed = f'{type(self.k.exc).__name__}: {self.k.exc}\n     in the cell starting: {first[:100]}'
                self.nb.exec_failed_ = self.failed
                cell.metadata['preview_error'] = True

        def end(self): self.nb.exec_stats_ = (self.n_run, self.n_skip)

    def nested_lang(cell): return (cell.get('metadata', {}) or {}).get('language', 'python')
    return exec_all

def _process(nb_path:Path):
    "Read, execute and process `nb_path` with nbdev's docs processors; returns the execnb notebook"
    from execnb.nbio import read_nb
    from nbdev.process import NBProcessor
    from nbdev.processors import FilterDefaults, exec_show_docs
    exec_all = _make_exec_all()
    procs = [exec_all if p is exec_show_docs else p for p in FilterDefaults().procs()]
    if exec_all not in procs: procs.insert(0, exec_all)  # someone skipped exec_show_docs: still run the notebook
    nb = read_nb(nb_path)
    NBProcessor(nb=nb, procs=procs).process()
    return nb

# --------------------------------------------------------------------------------------------------------------------
# Post-processing shared by HTML and README: Quarto cell options left in the source by nbdev

_re_qopt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_re_anydir = re.compile(r'^\s*#\|')
_re_showdoc = re.compile(r'^show_doc\(', re.MULTILINE)

def _split_opts(src:str):
    "Leading `#| key: value` lines of `src` as a dict, and the code with every `#|` line removed"
    opts, lines, head = {}, [], True
    for l in src.splitlines():
        m = _re_qopt.match(l)
        if head and m: opts[m.group(1)] = m.group(2).strip('"\''); continue
        if _re_anydir.match(l): continue
        if l.strip(): head = False
        lines.append(l)
    return opts, '\n'.join(lines).strip('\n')

def _false(v): return str(v).lower() in ('false', 'no', '0')

def _clean_cells(nb):
    """Turn the processed execnb notebook into plain cell dicts with Quarto options applied:
    drops the frontmatter cell, `include: false` cells and empty cells, and flags echo/output/code-fold/show_doc."""
    cells = []
    for c in nb.cells:
        c = {k:v for k,v in c.items() if not k.endswith('_') and k != 'has_sd'}
        src = c.get('source') or ''
        if isinstance(src, list): src = ''.join(src)
        if c['cell_type'] == 'raw' and src.lstrip().startswith('---'): continue  # frontmatter
        meta = dict(c.get('metadata') or {})
        if c['cell_type'] == 'code':
            opts, code = _split_opts(src)
            if _false(opts.get('include', 'true')): continue
            outs = [] if _false(opts.get('output', 'true')) else list(c.get('outputs') or [])
            outs = [o for o in outs if o.get('output_type') not in ('display_data', 'execute_result') or o.get('data')]
            echo = not _false(opts.get('echo', 'true'))
            c.update(source=code, outputs=outs)
            meta['pv'] = dict(echo=echo and bool(code.strip()), api=bool(_re_showdoc.search(code)),
                              fold=opts.get('code-fold'), summary=opts.get('code-summary', 'Code'))
            if not meta['pv']['echo'] and not outs: continue
        else:
            c['source'] = src
            if c['cell_type'] == 'markdown' and not src.strip(): continue
        c['metadata'] = meta
        cells.append(c)
    return cells

def _text(v): return ''.join(v) if isinstance(v, list) else (v or '')

_re_pandoc_link = re.compile(r'\[([^\]\n]+)\]\(([^)\s]+)\)\{([^}\n]*)\}')

def _md_links_html(s:str) -> str:
    "`[t](u){target=\"_blank\" style=...}` (pandoc attributes, used by show_doc's source link) -> an HTML anchor"
    return _re_pandoc_link.sub(lambda m: f'<a href="{m.group(2)}" {m.group(3)}>{m.group(1)}</a>', s)

def _md_links_gfm(s:str) -> str: return _re_pandoc_link.sub(r'[\1](\2)', s)

# --------------------------------------------------------------------------------------------------------------------
# README (GitHub-flavoured markdown, laid out as quarto -t gfm lays out nbdev's README)

_WIDGET = 'application/vnd.jupyter.widget-view+json'
_MD_MIMES = ('text/markdown', 'image/png', 'image/jpeg', 'image/svg+xml', 'text/html', 'text/plain')

def _indent(s): return '\n'.join(('    '+l) if l.strip() else '' for l in s.rstrip('\n').split('\n'))

def _rebase_images(md:str, nb_dir:str) -> str:
    "Relative image paths in the notebook's markdown, made relative to the repo root where README.md lives"
    def f(m):
        ref = m.group(1) or m.group(2)
        if re.match(r'^([a-z][a-z0-9+.-]*:|/|#)', ref, re.I) or nb_dir in ('', '.'): return m.group(0)
        return m.group(0).replace(ref, f'{nb_dir}/{ref}', 1)
    return _re_img.sub(f, md)

def _readme(nb, fm, root:Path, stem:str, nb_dir:str) -> tuple[str, list]:
    "Markdown text of the README and the figure files it links: [(relative path, bytes)]"
    img_dir = f'{stem}_files/figure-commonmark'
    parts, files = [f"# {fm.get('title', stem)}\n"], []
    for i, c in enumerate(_clean_cells(nb), 1):
        if c['cell_type'] == 'markdown': parts.append(_rebase_images(_md_links_gfm(c['source']), nb_dir).strip('\n')); continue
        if c['cell_type'] == 'raw': parts.append(c['source']); continue
        pv = c['metadata']['pv']
        if pv['echo']: parts.append(f"``` python\n{c['source']}\n```")
        n_img = 0
        for o in c['outputs']:
            ot = o.get('output_type')
            if ot == 'stream': parts.append(_indent(_text(o.get('text'))))
            elif ot == 'error': parts.append(_indent(re.sub(r'\x1b\[[0-9;]*m', '', '\n'.join(o.get('traceback', [])))))
            elif ot in ('display_data', 'execute_result'):
                data = o.get('data', {})
                if _WIDGET in data: continue  # a widget has no static form on GitHub
                mime = next((m for m in _MD_MIMES if m in data), None)
                if mime is None: continue
                v = _text(data[mime])
                if mime == 'text/markdown': parts.append(_md_links_gfm(v).strip('\n'))
                elif mime.startswith('image/'):
                    n_img += 1
                    ext = {'image/png':'png', 'image/jpeg':'jpg', 'image/svg+xml':'svg'}[mime]
                    rel = f'{img_dir}/cell-{i}-output-{n_img}.{ext}'
                    files.append((rel, v.encode() if ext == 'svg' else base64.b64decode(v)))
                    md = (o.get('metadata') or {}).get(mime, {}) or {}
                    if md.get('width'):
                        wh = f' width="{md["width"]}"' + (f' height="{md["height"]}"' if md.get('height') else '')
                        parts.append(f'<img src="{rel}"{wh} />')
                    else: parts.append(f'![]({rel})')
                elif mime == 'text/html': parts.append(v.strip('\n'))
                else: parts.append(_indent(v))
    return '\n\n'.join(p for p in parts if p.strip() != '') + '\n', files

def _write_readme(text:str, files:list, root:Path, stem:str):
    img_dir = root/f'{stem}_files'/'figure-commonmark'
    if img_dir.exists(): shutil.rmtree(img_dir)  # no stale figures
    for rel, data in files:
        p = root/rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    if img_dir.parent.exists() and not any(img_dir.parent.iterdir()): img_dir.parent.rmdir()
    (root/'README.md').write_text(text, encoding='utf-8')

# --------------------------------------------------------------------------------------------------------------------
# HTML preview

_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$','$'], ['\\(','\\)']], displayMath: [['$$','$$'], ['\\[','\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'},
  options: {enableMenu: false, ignoreHtmlClass: 'jp-CodeCell|tex2jax_ignore', processHtmlClass: 'jp-MarkdownOutput|jp-RenderedHTMLCommon'},
  svg: {fontCache: 'global'},
  startup: {pageReady: () => MathJax.startup.defaultPageReady().then(() => { document.documentElement.dataset.mathjax = 'done'; })}
};
</script>
<script src="{{ resources.pv.mathjax }}" id="MathJax-script"></script>
{%- endblock html_head_js_mathjax -%}
{% block extra_css %}<style type="text/css">{{ resources.pv.css }}</style>{% endblock extra_css %}
{%- block body_header -%}
<body class="jp-Notebook nbdev-preview" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<nav class="pv-sidebar"><div class="pv-site"><a href="{{ resources.pv.home }}">{{ resources.pv.site_title | e }}</a></div>
<ul>{% for p in resources.pv.nav %}<li{% if p.current %} class="pv-current"{% endif %}><a href="{{ p.href }}">{{ p.title | e }}</a></li>{% endfor %}</ul></nav>
<main class="pv-main">
<header id="title-block-header" class="pv-header">
<h1 class="title">{{ resources.pv.title_html }}</h1>
{% if resources.pv.description_html %}<div class="description">{{ resources.pv.description_html }}</div>{% endif %}
</header>
{%- endblock body_header -%}
{% block input_group -%}
{%- if cell.metadata.pv and cell.metadata.pv.fold -%}
<details class="code-fold"{% if cell.metadata.pv.fold == 'show' %} open{% endif %}><summary>{{ cell.metadata.pv.summary | e }}</summary>
{{ super() }}
</details>
{%- else -%}{{ super() }}{%- endif -%}
{%- endblock input_group %}
{% block body_footer %}
<footer class="pv-footer">Preview of <code>{{ resources.pv.source | e }}</code>, built by tools/build_docs.py</footer>
</main>
</body>
{% endblock body_footer %}
"""

_CSS = """
body.nbdev-preview { display: flex; margin: 0; padding: 0 !important; background: #fff;
  font-family: var(--jp-content-font-family); color: var(--jp-content-font-color1); }
.pv-sidebar { position: sticky; top: 0; align-self: flex-start; height: 100vh; overflow-y: auto; box-sizing: border-box;
  flex: 0 0 240px; padding: 1.2rem 1rem; border-right: 1px solid #e5e5e5; background: #fafafa; font-size: 14px; }
.pv-sidebar ul { list-style: none; padding: 0; margin: 0.8rem 0 0 0; }
.pv-sidebar li { margin: 0.35rem 0; }
.pv-sidebar a { text-decoration: none; color: #2c3e50; }
.pv-sidebar li.pv-current a { font-weight: 600; color: #2780e3; }
.pv-site a { font-weight: 700; font-size: 17px; color: #2780e3; }
.pv-main { flex: 1 1 auto; min-width: 0; max-width: 1000px; padding: 1.5rem 2.5rem 3rem 2.5rem; }
.pv-header h1.title { font-size: 2.2rem; margin: 0.4rem 0 0.3rem 0; }
.pv-header .description { font-style: italic; font-size: 125%; opacity: 70%; padding: 2px 2px 12px 2px;
  border-bottom: 1px solid #e5e5e5; margin-bottom: 1rem; }
.pv-header .description p { margin: 0; }
.celltag_nbdev-api .jp-OutputArea-output { border: 1px solid #dee2e6; border-radius: 6px; padding: 0.3rem 1rem;
  margin: 0.5rem 0 1.2rem 0; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
.celltag_nbdev-api .jp-RenderedMarkdown hr { display: none; }
details.code-fold > summary { cursor: pointer; color: #555; font-size: 90%; }
.jp-RenderedHTMLCommon a code { color: var(--jp-content-link-color, #1976d2); }
.jp-RenderedMarkdown div.highlight, .jp-RenderedMarkdown > pre { background: #f5f5f5; padding: 0.5rem 0.8rem;
  border-radius: 4px; margin: 0.5rem 0 1rem 0; }
.jp-RenderedMarkdown div.highlight pre { background: none; padding: 0; margin: 0; }
.pv-widget { color: #777; font-style: italic; font-size: 90%; }
.pv-footer { margin-top: 3rem; font-size: 12px; color: #888; }
.jp-Cell { padding: 0; }
.jp-RenderedHTMLCommon img, .jp-RenderedImage img { max-width: 100%; height: auto; }
"""

def _mathjax_src() -> Path | None:
    "MathJax 3 shipped by the pip package django-static-mathjax (import name `mathjax`), or Debian's libjs-mathjax 3"
    try:
        import importlib.util
        spec = importlib.util.find_spec('mathjax')
        if spec and spec.origin:
            p = Path(spec.origin).parent/'static'/'mathjax'/'es5'/MATHJAX_FILE
            if p.exists(): return p
    except Exception: pass
    for p in (Path('/usr/share/nodejs/mathjax-full/es5')/MATHJAX_FILE, Path('/usr/share/javascript/mathjax/es5')/MATHJAX_FILE):
        if p.exists(): return p
    return None

_re_img = re.compile(r'!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|<img\s[^>]*?src=["\']([^"\']+)["\']', re.I)

def _copy_local_images(md:str, nb_dir:Path, page:str):
    "Copy images that markdown refers to by relative path next to the page, where the same relative path finds them"
    for m in _re_img.finditer(md):
        ref = (m.group(1) or m.group(2) or '').split('#')[0].split('?')[0]
        if not ref or re.match(r'^([a-z][a-z0-9+.-]*:|/)', ref, re.I): continue  # URL, data:, attachment:, absolute
        src = (ROOT/nb_dir/ref).resolve()
        dst = (ROOT/PREVIEW/(os.path.dirname(page) or '.')/ref).resolve()
        if src.is_file() and (ROOT/PREVIEW).resolve() in dst.parents:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)

def _rel(target:str, page:str) -> str:
    return os.path.relpath(target, os.path.dirname(page) or '.').replace(os.sep, '/')

def _html(nb, fm, page:str, source:str, site:dict) -> str:
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown import markdown2html_mistune
    from jinja2 import DictLoader
    from traitlets.config import Config

    cells = _clean_cells(nb)
    for c in cells:
        if c['cell_type'] == 'code':
            pv, tags = c['metadata']['pv'], list(c['metadata'].get('tags', []))
            if not pv['echo']: tags.append('pv-remove-input')
            if pv['api']: tags.append('nbdev-api')
            if any(o.get('output_type') == 'error' for o in c['outputs']): tags.append('pv-error')
            c['metadata']['tags'] = tags
            for o in c['outputs']:
                data = o.get('data')
                if not data: continue
                if data.pop(_WIDGET, None) is not None:  # no widget JS offline: say so instead of the widget's repr
                    o['data'] = data = {'text/html': '<div class="pv-widget">(interactive widget: not live in this offline preview)</div>'}
                if 'text/markdown' in data: data['text/markdown'] = _md_links_html(_text(data['text/markdown']))
        elif c['cell_type'] == 'markdown':
            c['source'] = _md_links_html(c['source'])
            _copy_local_images(c['source'], Path(source).parent, page)
    meta = {k:v for k,v in nb.metadata.items() if k != 'widgets'}
    meta['title'] = fm.get('title', Path(source).stem)
    d = dict(nbformat=4, nbformat_minor=4, metadata=meta, cells=cells)
    for c in cells:
        if c['cell_type'] == 'code': c.setdefault('execution_count', None)
        if 'attachments' in c and not c['attachments']: del c['attachments']
    ntbk = nbformat.reads(json.dumps(d), as_version=4)

    c = Config()
    c.HTMLExporter.template_name = 'lab'
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = False  # True breaks inline HTML in markdown (nbconvert 7.17); images are copied instead
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'pv-remove-input'}
    exp = HTMLExporter(config=c, extra_loaders=[DictLoader({'pv.html.j2': _TEMPLATE})], template_file='pv.html.j2')

    nav = [dict(href=_rel(p['page'], page), title=p['title'], current=p['page'] == page) for p in site['pages']]
    md = lambda s: markdown2html_mistune(s).strip()
    strip_p = lambda s: re.sub(r'^<p>(.*)</p>$', r'\1', s, flags=re.S)
    resources = dict(metadata=dict(name=meta['title'], path=str(Path(source).parent)),
        pv=dict(mathjax=_rel(f'{STATIC}/mathjax/{MATHJAX_FILE}', page) if site['mathjax_local'] else site['mathjax_cdn'],
                css=site['css'] + _CSS, nav=nav, home=_rel('index.html', page), site_title=site['title'],
                title_html=strip_p(md(meta['title'])),
                description_html=md(fm['description']) if fm.get('description') else '', source=source))
    body, _ = exp.from_notebook_node(ntbk, resources=resources)
    # links nbdev made to this library's pages on the live site -> the preview pages
    pre = re.escape(site['doc_prefix'])
    body = re.sub(r'(href=")' + pre + r'([^"#]*)', lambda m: m.group(1) + _rel(m.group(2) or 'index.html', page), body)
    # Quarto ids are lower case (`#rnn`), nbconvert keeps case (`#RNN`): give headings both
    body = re.sub(r'(<h[1-6] id=")([^"]*[A-Z][^"]*)(")', lambda m: f'<span id="{m.group(2).lower()}"></span>{m.group(0)}', body)
    return body

def _contents_page(site:dict) -> str:
    items = '\n'.join(f'<li><a href="{html.escape(p["page"])}">{html.escape(p["title"])}</a>'
                      + (f' &mdash; <span class="d">{html.escape(p["description"])}</span>' if p.get('description') else '')
                      + f' <small>({html.escape(p["source"])})</small></li>' for p in site['pages'])
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(site['title'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:900px;margin:2rem auto;line-height:1.6}} .d{{color:#555}}</style>
</head><body><h1 class="title">{html.escape(site['title'])}</h1><p>{html.escape(site['description'])}</p>
<ul class="pv-contents">{items}</ul></body></html>
"""

# --------------------------------------------------------------------------------------------------------------------
# One notebook (runs in its own process: a fresh interpreter per notebook, as nbdev_test gives each notebook its own shell)

def build_one(job:dict) -> dict:
    t0 = time.time()
    os.environ['IN_TEST'] = '1'
    os.environ.setdefault('MPLBACKEND', 'Agg')
    global _SKIP_FLAGS
    _SKIP_FLAGS = set(job['skip_flags'])
    src = Path(job['path'])
    sys.path.insert(0, str(ROOT))
    res = dict(source=job['source'], page=job['page'], error=None, readme=None)
    try:
        os.chdir(src.parent)
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()): nb = _process(src)  # stray prints outside cells (e.g. ipywidgets)
        fm = dict(getattr(nb, 'frontmatter_', {}) or {})
        res['error'] = getattr(nb, 'exec_failed_', None)
        res['ran'], res['skipped'] = getattr(nb, 'exec_stats_', (0, 0))
        out = ROOT/PREVIEW/job['page']
        out.parent.mkdir(parents=True, exist_ok=True)
        if job['html']: out.write_text(_html(nb, fm, job['page'], job['source'], job['site']), encoding='utf-8')
        if job['readme'] and not res['error']: res['readme'] = _readme(nb, fm, ROOT, src.stem, Path(job['source']).parent.as_posix())
    except Exception as e:
        import traceback
        res['error'] = f'{type(e).__name__}: {e}\n{traceback.format_exc()}'
    res['secs'] = time.time() - t0
    return res

# --------------------------------------------------------------------------------------------------------------------

_PRELOAD = ['nbdev.processors', 'nbdev.showdoc', 'execnb.shell', 'nbconvert', 'nbconvert.exporters.html', 'nbformat',
            'IPython', 'numpy', 'matplotlib.pyplot', 'matplotlib_inline.backend_inline']

def _preload(nb_paths, lib_name) -> list:
    "Modules for the forkserver to import once: the builder's own, plus third-party top-level imports of the notebooks"
    import ast, importlib.util
    mods = set()
    for p in nb_paths:
        try: cells = json.loads(p.read_text(encoding='utf-8'))['cells']
        except Exception: continue
        for c in cells:
            if c.get('cell_type') != 'code': continue
            src = '\n'.join(l for l in ''.join(c.get('source', [])).splitlines() if not l.lstrip().startswith(('%', '!')))
            try: tree = ast.parse(src)
            except SyntaxError: continue
            for n in ast.walk(tree):
                if isinstance(n, ast.Import): mods.update(a.name.split('.')[0] for a in n.names)
                elif isinstance(n, ast.ImportFrom) and n.module and not n.level: mods.add(n.module.split('.')[0])
    ok = []
    for m in sorted(mods - {lib_name, '__future__'}):
        try: spec = importlib.util.find_spec(m)
        except (ImportError, ValueError): spec = None
        if spec and spec.origin and '-packages' in spec.origin: ok.append(m)  # site- or dist-packages, not stdlib
    return _PRELOAD + ok

def _git_changes() -> set:
    try: out = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
    except Exception: return set()
    return {l[3:] for l in out.splitlines()}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('notebooks', nargs='*', help='only (re)build these notebooks (default: all, and wipe _preview/)')
    ap.add_argument('--flags', default='', help='space-separated test flags to run anyway, as nbdev_test --flags')
    ap.add_argument('--no-readme', action='store_true', help='do not write README.md')
    ap.add_argument('--no-preview', action='store_true', help='do not write _preview/')
    ap.add_argument('-j', '--workers', type=int, default=0, help='parallel notebooks (default: number of CPUs)')
    a = ap.parse_args()
    t0 = time.time()
    os.chdir(ROOT)
    from nbdev.doclinks import nbglob
    cfg = _cfg()
    nbs = cfg.nbs_path
    readme_nb = (nbs/cfg.get('readme_nb', 'index.ipynb')).resolve()
    before = _git_changes()

    all_nbs = [Path(p).resolve() for p in nbglob(nbs)]  # skips files/folders starting with _ or .
    if not all_nbs: sys.exit(f'no notebooks found in {nbs}')
    pages = []
    for p in all_nbs:
        fm = _frontmatter(p)
        pages.append(dict(path=str(p), source=p.relative_to(ROOT).as_posix(), page=_page_rel(p, nbs, fm),
                          title=str(fm.get('title', p.stem)), description=str(fm.get('description', '') or '')))
    pages.sort(key=lambda p: (p['page'] != 'index.html', p['source']))
    want = {Path(n).resolve() for n in a.notebooks}
    if want - set(all_nbs): sys.exit(f'not a docs notebook: {", ".join(map(str, want - set(all_nbs)))}')
    todo = [p for p in pages if not want or Path(p['path']) in want]

    mj = _mathjax_src()
    site = dict(pages=[{k:p[k] for k in ('page', 'title', 'description', 'source')} for p in pages],
                title=cfg.get('title', cfg.lib_name), description=cfg.get('description', ''),
                doc_prefix=_doc_prefix(cfg), mathjax_local=mj is not None,
                mathjax_cdn=f'https://cdn.jsdelivr.net/npm/mathjax@3/es5/{MATHJAX_FILE}',
                css=(nbs/'styles.css').read_text() if (nbs/'styles.css').exists() else '')
    out = ROOT/PREVIEW
    if not a.no_preview:
        if not want and out.exists(): shutil.rmtree(out)
        out.mkdir(exist_ok=True)
        if mj:
            (out/STATIC/'mathjax').mkdir(parents=True, exist_ok=True)
            shutil.copy2(mj, out/STATIC/'mathjax'/MATHJAX_FILE)
        else: print('WARNING: MathJax not found locally (pip install django-static-mathjax); pages load it from a CDN')
    do_readme = not a.no_readme and readme_nb in {Path(p['path']) for p in todo}
    if not a.no_readme and not want and not readme_nb.exists(): print(f'README: skipped, {readme_nb.relative_to(ROOT)} does not exist')

    skip = set(cfg.get('tst_flags', '').split()) - set(a.flags.split())
    jobs = [dict(path=p['path'], source=p['source'], page=p['page'], skip_flags=sorted(skip), site=site,
                 html=not a.no_preview, readme=do_readme and Path(p['path']) == readme_nb) for p in todo]
    jobs = [j for j in jobs if j['html'] or j['readme']]
    n = a.workers or min(os.cpu_count() or 1, len(jobs)) or 1
    # biggest notebooks first, so the slow ones start early
    jobs.sort(key=lambda j: -Path(j['path']).stat().st_size)
    # A fresh process per notebook (maxtasksperchild=1), so no state leaks from one notebook into the next. On POSIX
    # they fork from a forkserver that has already imported nbdev, nbconvert and the libraries the notebooks import
    # (not this package itself), which saves each notebook those imports.
    os.environ['IN_TEST'] = '1'; os.environ.setdefault('MPLBACKEND', 'Agg')
    import multiprocessing as mp
    if 'forkserver' in mp.get_all_start_methods():
        ctx = get_context('forkserver')
        ctx.set_forkserver_preload(_preload([Path(j['path']) for j in jobs], cfg.lib_name))
    else: ctx = get_context('spawn')
    with ctx.Pool(n, maxtasksperchild=1) as pool: results = pool.map(build_one, jobs, chunksize=1)

    failed = []
    for r in sorted(results, key=lambda r: r['source']):
        st = 'FAIL' if r['error'] else 'ok  '
        print(f"{st} {r['source']} -> {PREVIEW}/{r['page']}  ({r['secs']:.1f}s, {r.get('ran', 0)} cells run, "
              f"{r.get('skipped', 0)} skipped)" + (f"\n     {r['error'].strip()}" if r['error'] else ''))
        if r['error']: failed.append(r['source'])
        if r['readme']:
            text, files = r['readme']
            _write_readme(text, files, ROOT, Path(r['source']).stem)
            print(f"README.md written from {r['source']}" + (f", {len(files)} figure(s) in {Path(r['source']).stem}_files/figure-commonmark/" if files else ''))
    if do_readme and readme_nb.relative_to(ROOT).as_posix() in failed: print('README.md NOT written: its notebook failed')
    if not a.no_preview:
        if not any(p['page'] == 'index.html' for p in pages): (out/'index.html').write_text(_contents_page(site), encoding='utf-8')
        print(f'preview: {out.relative_to(ROOT)}/index.html ({len(pages)} pages)')

    allowed = {'README.md'}
    changed = {c for c in _git_changes() - before if c not in allowed and '_files/figure-commonmark/' not in c}
    if changed: print('WARNING: git-tracked files changed during the build (by a notebook, or by someone else meanwhile): ' + ', '.join(sorted(changed)))
    print(f'done in {time.time() - t0:.1f}s' + (f'; {len(failed)} notebook(s) failed' if failed else ''))
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
