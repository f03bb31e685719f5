#!/usr/bin/env python
"""Open every page of the offline docs preview (_preview/, from tools/build_docs.py) in headless Chromium and check it.

    python tools/check_docs.py

Chromium is /usr/bin/chromium (apt-get install chromium), driven by Playwright. For every notebook the page it gives
is loaded, a full-page screenshot saved to _preview/screenshots/, and these asserted, from the notebook itself:
  * the page's <h1> shows the notebook's title; a notebook that exports public names has >= 1 show_doc block
    (a heading and a signature in a markdown output);
  * every <img> has loaded; MathJax has typeset the page's LaTeX without errors (some math, if the markdown has $);
  * no JavaScript error, no failed request, no request for anything but a local file, no cell shows a traceback;
  * on a page with range inputs (the JavaScript explorer), moving each one to its other end changes the SVG plot;
  * index.html links every page.
Prints one PASS/FAIL line per page and `N passed, M failed`; exits 1 on any failure.
"""
import ast, re, sys
from pathlib import Path
from nbdev.config import get_config
from nbdev.doclinks import _nbpath2html, nbglob
from nbdev.frontmatter import FrontmatterProc
from nbdev.process import NBProcessor
from playwright.sync_api import sync_playwright

PREVIEW = Path(__file__).resolve().parent.parent/'_preview'
DEFINITIONS = ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef
PROBE = r"""async () => {
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  const text = element => element.textContent.replace('¶', '').replace(/\s+/g, ' ').trim();
  const outputs = [...document.querySelectorAll('.jp-OutputArea-output')];
  return {h1: [...document.querySelectorAll('h1')].map(text),
          show_docs: outputs.filter(o => o.matches('.jp-RenderedMarkdown') && o.querySelector('h2, h3, h4')
                                         && o.querySelector('pre')).length,
          images: document.images.length,
          broken_images: [...document.images].filter(i => !i.complete || !i.naturalWidth).map(i => i.src.slice(0, 80)),
          math: document.querySelectorAll('mjx-container').length,
          math_errors: [...new Set([...document.querySelectorAll('[data-mjx-error]')].map(e => e.dataset.mjxError))],
          tracebacks: outputs.filter(o => o.textContent.includes('Traceback (most recent call last)')).length,
          links: [...document.querySelectorAll('a[href]')].map(a => a.href.split('#')[0])};
}"""
PLOT = "() => [...document.querySelectorAll('svg')].map(svg => svg.innerHTML).join('')"

def expectations(path:Path) -> dict:
    "What the page of notebook `path` must show: its title, show_doc blocks if it exports public names, math if any"
    nb = NBProcessor(path, FrontmatterProc, process=True).nb
    exported = [node for cell in nb.cells if {'export', 'exports'} & cell.directives_.keys()
                for node in cell.parsed_() or [] if isinstance(node, DEFINITIONS) and not node.name.startswith('_')]
    has_math = any(re.search(r'\$[^$\n]+\$', cell.source) for cell in nb.cells if cell.cell_type == 'markdown')
    return dict(title=nb.frontmatter_.get('title'), exports=bool(exported), math=has_math)

def stuck_ranges(page) -> list:
    "Range inputs on `page` that leave its SVG plot unchanged when moved to their other end"
    stuck = []
    for number, slider in enumerate(page.locator('input[type=range]').all(), 1):
        plot, value = page.evaluate(PLOT), slider.input_value()
        slider.press('End')
        if slider.input_value() == value: slider.press('Home')
        if page.evaluate(PLOT) == plot: stuck.append(number)
    return stuck

def check_page(page, path:Path, pages:list) -> tuple[list, str]:
    "Load the page of notebook `path`: what is wrong with it, and a summary of what it shows"
    html = PREVIEW/_nbpath2html(path).name
    if not html.exists(): return ['page missing: run python tools/build_docs.py'], ''
    expected, problems = expectations(path), []
    page.goto(html.as_uri())
    found = page.evaluate(PROBE)
    page.screenshot(path=PREVIEW/'screenshots'/f'{html.stem}.png', full_page=True)
    if expected['title'] not in found['h1']: problems.append(f"title {expected['title']!r} not in h1 {found['h1'][:3]}")
    if expected['exports'] and not found['show_docs']: problems.append('exports public names but has no show_doc block')
    if found['broken_images']: problems.append(f"images not loaded: {found['broken_images']}")
    if found['math_errors']: problems.append(f"MathJax errors: {found['math_errors'][:3]}")
    if expected['math'] and not found['math']: problems.append('LaTeX in the markdown, but MathJax typeset nothing')
    if found['tracebacks']: problems.append(f"{found['tracebacks']} output(s) show a traceback")
    stuck = stuck_ranges(page)
    if stuck: problems.append(f'range input(s) {stuck} do not change the plot')
    missing = {(PREVIEW/name).as_uri() for name in pages} - set(found['links']) if html.name == 'index.html' else set()
    if missing: problems.append(f'index does not link {sorted(Path(uri).name for uri in missing)}')
    return problems, (f"{found['show_docs']} show_doc blocks, {found['images']} images, {found['math']} math, "
                      f"{page.locator('input[type=range]').count()} range inputs")

def main():
    notebooks = [Path(name) for name in nbglob(get_config().nbs_path)]
    pages = [_nbpath2html(path).name for path in notebooks]
    browser_problems, failed = [], 0
    def local_only(route):
        "Serve local files; any other request fails the page"
        if route.request.url.startswith('file:'): return route.continue_()
        browser_problems.append(f'request leaves the machine: {route.request.url[:100]}')
        route.abort()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path='/usr/bin/chromium', args=['--no-sandbox'])
        page = browser.new_page()
        page.route('**/*', local_only)
        page.on('pageerror', lambda error: browser_problems.append(f'JavaScript error: {error}'))
        page.on('requestfailed', lambda request: request.url.startswith('file:') and browser_problems.append(
            f'failed to load {request.url[:100]}: {request.failure}'))
        for path in notebooks:
            browser_problems.clear()
            try: problems, summary = check_page(page, path, pages)
            except Exception as error: problems, summary = [f'{type(error).__name__}: {error}'.splitlines()[0]], ''
            problems += browser_problems
            failed += bool(problems)
            print(f"{'FAIL' if problems else 'PASS'} {_nbpath2html(path).name} ({path.name}): "
                  + ('; '.join(problems) or summary), flush=True)
        browser.close()
    print(f'{len(notebooks) - failed} passed, {failed} failed')
    return 1 if failed else 0

if __name__ == '__main__':
    sys.exit(main())
