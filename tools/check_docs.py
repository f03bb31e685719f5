#!/usr/bin/env python
"""Open every page of the docs preview (_preview/, made by tools/build_docs.py) in headless Chromium and check it.

    python tools/check_docs.py [--no-install] [--chromium PATH] [--preview DIR]

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`), so nothing beyond the Python
standard library and the `chromium` binary is needed; it is installed with apt-get when missing (unless --no-install).
For each notebook in nbs/ (skipping names starting with _ or .) the page it should have produced is loaded, a full-page
screenshot is saved to _preview/screenshots/NAME.png, and these are asserted, from the notebook itself:
  * the page shows the notebook's title (frontmatter `title:` or first `# Title` heading) in an <h1>;
  * a notebook that exports a public function or class (`#| export`/`#| exports`) has >= 1 API entry
    (a show_doc block: heading plus signature);
  * every <img> has loaded (naturalWidth > 0), and a notebook with plotting code in a rendered cell has >= 1 image;
  * LaTeX in markdown was typeset by MathJax (no TeX errors), no JavaScript error, no failed resource load,
    no cell showing an exception.
index.html must exist and link every page. Prints one PASS/FAIL line per page and `N passed, M failed`; exit 1 on
any failure.
"""
from __future__ import annotations
import argparse, ast, base64, json, os, re, select, shutil, subprocess, sys, tempfile, time
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--hide-scrollbars', '--mute-audio', '--force-device-scale-factor=1', '--remote-debugging-pipe']
WIDTH, HEIGHT, MAX_SHOT_HEIGHT = 1280, 900, 16000

# --------------------------------------------------------------------------------------------------------------------
# Expectations, read from the notebooks (independently of the builder)

def _settings():
    cp = ConfigParser(interpolation=None)
    cp.read(ROOT/'settings.ini')
    d = cp['DEFAULT']
    return dict(nbs_path=d.get('nbs_path', 'nbs'), tst_flags=d.get('tst_flags', '').split())

def _notebooks(nbs:Path):
    for p in sorted(nbs.rglob('*.ipynb')):
        rel = p.relative_to(nbs)
        if any(part.startswith(('_', '.')) for part in rel.parts): continue
        yield p

def _src(c): return ''.join(c.get('source', [])) if isinstance(c.get('source'), list) else (c.get('source') or '')

_re_dir = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')

def _directives(src):
    d = {}
    for l in src.splitlines():
        if not l.strip(): continue
        m = _re_dir.match(l)
        if not m: break
        d[m.group(1).lower()] = m.group(2).lower()
    return d

def _page_of(nb:Path, nbs:Path, fm_title_cell) -> str:
    "Page name as nbdev/Quarto give it: numeric prefix dropped (02_activations -> activations.html)"
    name = Path(re.sub(r'^\d+[a-zA-Z0-9]*_', '', nb.name.lower())).with_suffix('.html').name
    return (nb.parent.relative_to(nbs)/name).as_posix()

_PLOT = re.compile(r'\bplt\.(plot|subplots?|figure|imshow|scatter|hist|bar|barh|pcolormesh|contourf?|matshow|show|semilogy|loglog|stem|step|fill_between|errorbar)\b'
                   r'|\.(plot|imshow|scatter|hist|matshow|pcolormesh|contourf?|semilogy|loglog)\(')

def expectations(nb_path:Path, nbs:Path, tst_flags) -> dict:
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    cells = nb.get('cells', [])
    title, out_file = None, None
    for c in cells:
        s = _src(c)
        if c.get('cell_type') == 'raw' and s.lstrip().startswith('---'):
            m = re.search(r'^title:\s*(.+?)\s*$', s, re.M)
            if m: title = m.group(1).strip('\'"')
            m = re.search(r'^output-file:\s*(.+?)\s*$', s, re.M)
            if m: out_file = m.group(1).strip('\'"')
            if title: break
        if c.get('cell_type') == 'markdown':
            m = re.search(r'^#\s+(\S.*?)\s*$', s, re.M)
            if m: title = m.group(1); break
    api_names, plots, math = [], False, False
    for c in cells:
        s, ct = _src(c), c.get('cell_type')
        if ct == 'markdown' and re.search(r'\$[^$\n]+\$|\\\(|\\\[', s): math = True
        if ct != 'code': continue
        d = _directives(s)
        if d.keys() & {'export', 'exports'}:
            try: tree = ast.parse('\n'.join(l for l in s.splitlines() if not l.lstrip().startswith(('%', '!'))))
            except SyntaxError: tree = None
            if tree: api_names += [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                                   and not n.name.startswith('_')]
        if re.search(r'^\s*show_doc\(', s, re.M) and 'hide' not in d: api_names.append('(show_doc)')
        hidden = ('hide' in d or d.get('eval') == 'false' or d.get('include') == 'false' or d.get('output') == 'false'
                  or bool(set(tst_flags) & d.keys()) or d.keys() & {'export', 'exporti', 'default_exp'})
        if not hidden and _PLOT.search(s): plots = True
    page = (nb_path.parent.relative_to(nbs)/out_file).as_posix() if out_file else _page_of(nb_path, nbs, None)
    return dict(source=nb_path.relative_to(ROOT).as_posix(), page=page, title=title, api=api_names, plots=plots, math=math)

def _norm(s): return re.sub(r'\s+', ' ', re.sub(r'[`*]', '', s or '')).strip()

# --------------------------------------------------------------------------------------------------------------------
# A minimal DevTools-protocol client over --remote-debugging-pipe (fd 3: commands in, fd 4: replies out)

class Chromium:
    def __init__(self, exe:str):
        self.profile = tempfile.mkdtemp(prefix='check_docs_')
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        hi_r, hi_w = fcntl_dup(to_r), fcntl_dup(from_w)  # above 2..4, so the dup2s below cannot clobber them
        os.close(to_r); os.close(from_w)
        def _child():
            os.dup2(hi_r, 3); os.dup2(hi_w, 4)
        self.proc = subprocess.Popen([exe, *FLAGS, f'--user-data-dir={self.profile}', 'about:blank'],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=_child, close_fds=False)
        os.close(hi_r); os.close(hi_w)
        self._buf, self._id, self.events = b'', 0, []

    def _send(self, method, params=None, session=None):
        self._id += 1
        msg = dict(id=self._id, method=method, params=params or {})
        if session: msg['sessionId'] = session
        os.write(self._to_w, json.dumps(msg).encode() + b'\0')
        return self._id

    def _read(self, timeout):
        end = time.time() + timeout
        while b'\0' not in self._buf:
            left = end - time.time()
            if left <= 0: raise TimeoutError('no reply from chromium')
            r, _, _ = select.select([self._from_r], [], [], left)
            if not r: continue
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk: raise RuntimeError('chromium exited: ' + (self.proc.stderr.read() or b'').decode()[-2000:])
            self._buf += chunk
        msg, self._buf = self._buf.split(b'\0', 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=60):
        i = self._send(method, params, session)
        while True:
            m = self._read(timeout)
            if m.get('id') == i:
                if 'error' in m: raise RuntimeError(f"{method}: {m['error']}")
                return m.get('result', {})
            if 'method' in m: self.events.append(m)

    def wait_event(self, name, session=None, timeout=60):
        end = time.time() + timeout
        while True:
            for k, e in enumerate(self.events):
                if e['method'] == name and (session is None or e.get('sessionId') == session):
                    return self.events.pop(k)
            m = self._read(max(0.01, end - time.time()))
            if 'method' in m: self.events.append(m)

    def close(self):
        try: self.call('Browser.close', timeout=5)
        except Exception: pass
        try: self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        for fd in (self._to_w, self._from_r):
            try: os.close(fd)
            except OSError: pass
        shutil.rmtree(self.profile, ignore_errors=True)

def fcntl_dup(fd):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)

# --------------------------------------------------------------------------------------------------------------------

_PROBE = r"""(async () => {
  const t0 = Date.now();
  const ready = () => (!window.MathJax || !window.MathJax.version || document.documentElement.dataset.mathjax === 'done')
                      && [...document.images].every(i => i.complete);
  while (!ready() && Date.now() - t0 < 20000) await new Promise(r => setTimeout(r, 100));
  const txt = e => (e ? e.textContent : '').replace(/\s+/g, ' ').trim();
  const api = [...document.querySelectorAll('.celltag_nbdev-api')].map(e => {
     const h = e.querySelector('h1,h2,h3,h4,h5'), sig = e.querySelector('pre, code');
     return h && sig ? txt(h) : null; }).filter(x => x);
  return JSON.stringify({
    ready: ready(), waited: Date.now() - t0, title: document.title,
    h1: [...document.querySelectorAll('h1')].map(txt),
    api: api,
    imgs: [...document.images].map(i => ({src: (i.getAttribute('src') || '').replace(/^(data:[^;,]*).*/, '$1,...').slice(0, 100), w: i.naturalWidth, ok: i.complete && i.naturalWidth > 0})),
    math: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('.celltag_pv-error').length,
    merr: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')].map(e => e.getAttribute('data-mjx-error') || txt(e)).slice(0, 3),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    height: Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)
  });
})()"""

def load(cr, session, path:Path) -> tuple[dict, list]:
    "Navigate to `path`, wait for load + MathJax + images, return the probe result and page errors"
    cr.events.clear()
    cr.call('Page.navigate', dict(url=path.resolve().as_uri()), session)
    cr.wait_event('Page.loadEventFired', session, timeout=60)
    r = cr.call('Runtime.evaluate', dict(expression=_PROBE, awaitPromise=True, returnByValue=True), session, timeout=60)
    probe = json.loads(r['result']['value'])
    errs = []
    for e in cr.events:
        m, p = e['method'], e.get('params', {})
        if m == 'Runtime.exceptionThrown':
            d = p.get('exceptionDetails', {})
            errs.append('JS error: ' + (d.get('exception', {}).get('description') or d.get('text', '')).split('\n')[0])
        elif m == 'Network.loadingFailed' and not p.get('canceled'):
            url = re.sub(r'^(data:[^;,]*).*', r'\1,...', cr_urls.get(p.get('requestId'), '?'))
            errs.append(f"failed to load {p.get('type', '')} {url}: {p.get('errorText')}")
        elif m == 'Network.requestWillBeSent':
            cr_urls[p['requestId']] = p['request']['url'][:120]
    return probe, errs

cr_urls: dict = {}

def screenshot(cr, session, dest:Path, height:int):
    h = max(HEIGHT, min(int(height), MAX_SHOT_HEIGHT))
    cr.call('Emulation.setDeviceMetricsOverride', dict(width=WIDTH, height=h, deviceScaleFactor=1, mobile=False), session)
    r = cr.call('Page.captureScreenshot', dict(format='png', captureBeyondViewport=True,
                clip=dict(x=0, y=0, width=WIDTH, height=h, scale=1)), session, timeout=120)
    cr.call('Emulation.setDeviceMetricsOverride', dict(width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False), session)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(base64.b64decode(r['data']))
    return h < height

def find_chromium(explicit, install:bool) -> str:
    for c in ([explicit] if explicit else []) + [os.environ.get('CHROMIUM'), '/usr/bin/chromium',
                                                   shutil.which('chromium'), shutil.which('chromium-browser')]:
        if c and Path(c).exists(): return c
    if not install: sys.exit('chromium not found (apt-get install chromium, or run without --no-install)')
    print('chromium not found: installing it with apt-get', flush=True)
    sudo = [] if os.geteuid() == 0 else ['sudo']
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    subprocess.run(sudo + ['apt-get', 'update', '-qq'], check=True, env=env)
    subprocess.run(sudo + ['apt-get', 'install', '-y', '-qq', 'chromium'], check=True, env=env)
    if Path('/usr/bin/chromium').exists(): return '/usr/bin/chromium'
    sys.exit('apt-get install chromium did not give /usr/bin/chromium')

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--no-install', action='store_true', help='fail instead of apt-get installing chromium')
    ap.add_argument('--chromium', default=None, help='path of the chromium binary')
    ap.add_argument('--preview', default=str(ROOT/'_preview'), help='folder with the built pages')
    a = ap.parse_args()
    prev = Path(a.preview)
    st = _settings()
    nbs = ROOT/st['nbs_path']
    exps = [expectations(p, nbs, st['tst_flags']) for p in _notebooks(nbs)]
    if not exps: sys.exit(f'no notebooks in {nbs}')
    if not prev.exists(): sys.exit(f'{prev} does not exist: run python tools/build_docs.py first')
    has_index_nb = any(e['page'] == 'index.html' for e in exps)
    checks = exps + ([] if has_index_nb else [dict(source='(contents page)', page='index.html', title=None, api=[],
                                                   plots=False, math=False, contents=True)])
    exe = find_chromium(a.chromium, not a.no_install)
    shots = prev/'screenshots'
    if shots.exists(): shutil.rmtree(shots)
    cr = Chromium(exe)
    passed = failed = 0
    try:
        tid = cr.call('Target.createTarget', dict(url='about:blank'))['targetId']
        session = cr.call('Target.attachToTarget', dict(targetId=tid, flatten=True))['sessionId']
        for m in ('Page.enable', 'Runtime.enable', 'Network.enable'): cr.call(m, None, session)
        cr.call('Emulation.setDeviceMetricsOverride', dict(width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False), session)
        for e in checks:
            page = prev/e['page']
            bad, info = [], []
            if not page.exists():
                print(f"FAIL {e['page']} ({e['source']}): page missing"); failed += 1; continue
            src = ROOT/e['source'] if not e.get('contents') else None
            if src and src.stat().st_mtime > page.stat().st_mtime:
                print(f"FAIL {e['page']} ({e['source']}): page is older than its notebook, rerun tools/build_docs.py")
                failed += 1; continue
            probe, errs = load(cr, session, page)
            bad += errs
            name = e['page'][:-5].replace('/', '__')
            cut = screenshot(cr, session, shots/f'{name}.png', probe['height'])
            if cut: info.append(f"screenshot cut at {MAX_SHOT_HEIGHT}px of {probe['height']}")
            if not probe['ready']: bad.append('page not ready after 20s (MathJax or images still loading)')
            if e.get('contents'):
                pages = {(prev/x['page']).resolve().as_uri() for x in exps}
                miss = sorted(p for p in pages if p not in set(probe['links']))
                if miss: bad.append('index does not link: ' + ', '.join(Path(m).name for m in miss))
                else: info.append(f'links all {len(pages)} pages')
            else:
                if not e['title']: bad.append('notebook has no "# Title" heading')
                elif _norm(e['title']) not in [_norm(h) for h in probe['h1']]:
                    bad.append(f"title {e['title']!r} not shown (h1: {probe['h1'][:3]})")
                else: info.append('title ok')
                if e['api']:
                    if not probe['api']: bad.append(f"no API entry, though it exports {', '.join(e['api'][:4])}")
                    else: info.append(f"{len(probe['api'])} API entries")
                if e['page'] == 'index.html':
                    pages = {(prev/x['page']).resolve().as_uri() for x in exps if x['page'] != 'index.html'}
                    miss = sorted(p for p in pages if p not in set(probe['links']))
                    if miss: bad.append('index does not link: ' + ', '.join(Path(m).name for m in miss))
            broken = [i['src'] for i in probe['imgs'] if not i['ok']]
            if broken: bad.append(f'{len(broken)} broken image(s): ' + ', '.join(broken[:3]))
            if e['plots'] and not probe['imgs']: bad.append('has plotting code but no image')
            if probe['imgs']: info.append(f"{len(probe['imgs']) - len(broken)}/{len(probe['imgs'])} images")
            if probe['errors']: bad.append(f"{probe['errors']} cell(s) show an exception")
            if probe['merr']: bad.append('MathJax errors: ' + '; '.join(probe['merr']))
            if e['math'] and not probe['math']: bad.append('LaTeX in markdown but nothing typeset by MathJax')
            if probe['math']: info.append(f"{probe['math']} math")
            ok = not bad
            passed += ok; failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {e['page']} ({e['source']}): " + '; '.join(bad if bad else info)
                  + f"  [screenshots/{name}.png]", flush=True)
    finally: cr.close()
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
