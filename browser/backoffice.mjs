// Browser tests for the Amtsform back office, in headless Debian
// Chromium driven by playwright-core, with axe-core at WCAG 2.0/2.1 A
// and AA on every page: sign-in (empty, with errors, wrong password),
// the inboxes (my cases, an office, a second page, empty, a filter in
// error), the case view, every action form sent empty or wrong (error
// state) and sent right, the 409 page of a lost claim, 403, 404, the
// audit view, signing out; German and English; and a walk without
// JavaScript (sign-in with password and with the OIDC button, claim,
// note). Full-page screenshots go to browser/out/screenshots/
// (SCREENSHOT_DIR=../docs/screenshots refreshes the committed
// docs/screenshots/backoffice-*.png).
//
// By default the server is the demo entry point of the package's tests
// (its seeded cases and OIDC button are what the walks expect): the test binary of
// ./api/backoffice run as TestDemoServer, which serves the back office
// with in-memory fakes of casework, staff and audit and seeded cases.
//
// BACKOFFICE_SERVER=serve runs a walk against the real `amtsform serve`
// instead (serveWalk): the binary is built, three accounts are added
// with `amtsform user add --password-stdin` into a fresh data directory
// before the server starts, a citizen hands in a Kita application
// through the JSON API, and the case goes through the back office, the
// mailed upload link (read from the mail spool) and the status page to
// a four-eyes approval, with axe on every page state.
//
// Run: cd browser && npm ci && node backoffice.mjs
//      (BACKOFFICE_SERVER=serve node backoffice.mjs for the real server)
// Prints one line per check and a last line "N passed, N failed"; exits 1
// on any failure.
import { chromium } from 'playwright-core';
import { readFile, readdir, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { repoRoot, build } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const axeSource = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const env = process.env;
const CHROMIUM = env.CHROMIUM_PATH || '/usr/bin/chromium';
const LIMIT_MS = Number(env.BROWSER_TEST_LIMIT_MS || 5 * 60000);
const NAV_MS = 15000;
const ACT_MS = 5000;
const SCREENSHOTS = env.SCREENSHOTS !== '0';
const shotDir = env.SCREENSHOT_DIR || join(here, 'out', 'screenshots');
const SERVE = env.BACKOFFICE_SERVER === 'serve';

// The seeded demo (api/backoffice/setup_test.go, demo_test.go).
const OFFICE = 'jugendamt-main-taunus';
const A1 = 'KITA-2026-000001'; // unassigned, with an attachment
const A2 = 'KITA-2026-000002'; // anna's, overdue
const FREE = 'KITA-2026-000100'; // unassigned, received

// ---------------------------------------------------------------- results
const results = [];
function record(ok, name, detail = '') {
  results.push({ ok, name });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `\n       ${String(detail).replace(/\n/g, '\n       ')}` : ''}`);
}
const pass = (n, d) => record(true, n, d);
const fail = (n, d) => record(false, n, d);
async function check(name, fn) {
  try {
    const d = await fn();
    pass(name, typeof d === 'string' ? d : '');
  } catch (e) {
    fail(name, e.stack || String(e));
  }
}
const assert = (cond, msg) => { if (!cond) throw new Error(msg); };

// ---------------------------------------------------------------- server
function run(cmd, args, opts, timeoutMs) {
  return new Promise((ok, no) => execFile(cmd, args, { ...opts, timeout: timeoutMs, maxBuffer: 16 << 20 },
    (err, out, errOut) => (err ? no(Object.assign(err, { message: `${err.message}\n${out}${errOut}` })) : ok(out))));
}
function freePort() {
  return new Promise((ok, no) => {
    const s = createServer();
    s.unref();
    s.on('error', no);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const delay = (ms) => new Promise((r) => setTimeout(r, ms).unref());

let child;
let tmp;
async function startDemo() {
  tmp = await mkdtemp(join(tmpdir(), 'amtsform-backoffice-'));
  const bin = join(tmp, 'backoffice.test');
  const t0 = Date.now();
  await run('go', ['test', '-c', '-o', bin, './api/backoffice'], { cwd: repoRoot }, 5 * 60000);
  console.log(`     built ${bin} in ${Date.now() - t0} ms`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logPath = join(tmp, 'server.log');
  const fd = openSync(logPath, 'a');
  child = spawn(bin, ['-test.run', '^TestDemoServer$', '-test.timeout', '0'], {
    cwd: join(repoRoot, 'api', 'backoffice'), stdio: ['ignore', fd, fd],
    env: { ...env, BACKOFFICE_DEMO_ADDR: `127.0.0.1:${port}` },
  });
  closeSync(fd);
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  const deadline = Date.now() + 90000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${base}/backoffice/login`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return { base, logPath, exited };
    } catch { /* not yet */ }
    if (child.exitCode !== null) break;
    await sleep(200);
  }
  throw new Error(`demo server not ready\n${(await readFile(logPath, 'utf8').catch(() => '')).slice(-3000)}`);
}
process.on('exit', () => { try { child?.kill('SIGKILL'); } catch { /* gone */ } });

// startServe builds amtsform (or takes AMTSFORM_BIN), adds the accounts
// of USERS to a fresh data directory with the CLI, starts `amtsform
// serve` on it and hands in one Kita application through the JSON API.
const TENANT = 'musterstadt';
const USERS = [
  { id: 'anna', name: 'Anna Adler', role: 'caseworker' },
  { id: 'bernd', name: 'Bernd Berger', role: 'caseworker' },
  { id: 'clara', name: 'Clara Clausen', role: 'auditor' },
];
const pw = (id) => `${id}-password-1234`;

function runStdin(cmd, args, input, opts, timeoutMs) {
  return new Promise((ok, no) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code) => { clearTimeout(timer); code === 0 ? ok(out) : no(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${out}`)); });
    p.stdin.end(input);
  });
}

async function startServe() {
  tmp = await mkdtemp(join(tmpdir(), 'amtsform-backoffice-serve-'));
  const t0 = Date.now();
  const bin = env.AMTSFORM_BIN || await build(tmp);
  console.log(`     built ${bin} in ${Date.now() - t0} ms`);
  const dataDir = join(tmp, 'data');
  for (const u of USERS) {
    await runStdin(bin, ['user', 'add', '--data-dir', dataDir, '--installation', 'examples/installation', '--tenant', TENANT,
      '--role', u.role, '--office', OFFICE, '--name', u.name, '--password-stdin', u.id], `${pw(u.id)}\n`, { cwd: repoRoot }, 120000);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logPath = join(tmp, 'server.log');
  const fd = openSync(logPath, 'a');
  child = spawn(bin, ['serve', '--config', 'examples/installation', '--data-dir', dataDir, '--addr', `127.0.0.1:${port}`, '--public-url', base], {
    cwd: repoRoot, stdio: ['ignore', fd, fd], env: { ...env, AMTSFORM_SECURE_COOKIES: 'false' },
  });
  closeSync(fd);
  const deadline = Date.now() + 90000;
  let ready = false;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) { ready = true; break; }
    } catch { /* not yet */ }
    await sleep(200);
  }
  if (!ready) throw new Error(`amtsform serve not ready\n${(await readFile(logPath, 'utf8').catch(() => '')).slice(-3000)}`);
  const doc = {
    applicant: { givenName: 'Jürgen', familyName: 'Müßig', birthDate: '1985-04-02' },
    address: { street: 'Hauptstraße', houseNumber: '5a', postalCode: '65719', city: 'Hofheim am Taunus' },
    email: 'erika@example.org',
    children: [{ name: 'Lena', birthDate: '2021-05-01', careType: 'krippe', monthlyFee: 25050 }],
    income: 2400000, iban: 'DE89370400440532013000', consent: true,
  };
  const r = await fetch(`${base}/api/v1/${TENANT}/services/kita-gebuehren/submissions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(doc), signal: AbortSignal.timeout(15000),
  });
  const sub = await r.json();
  if (r.status !== 201 || !sub.reference) throw new Error(`submission: HTTP ${r.status} ${JSON.stringify(sub)}`);
  return { base, dataDir, ref: sub.reference, secret: sub.statusSecret, office: sub.office };
}

// ---------------------------------------------------------------- pages
let browser;
const pageErrors = [];
let axeViolations = 0;
let axePages = 0;

async function newContext(opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE', timezoneId: 'Europe/Berlin', reducedMotion: 'reduce', ...opts });
  ctx.setDefaultTimeout(ACT_MS);
  ctx.setDefaultNavigationTimeout(NAV_MS);
  ctx.on('page', (p) => {
    p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
    p.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${p.url()}: ${m.text()}`); });
  });
  return ctx;
}

async function goto(page, url) {
  return page.goto(url, { timeout: NAV_MS, waitUntil: 'load' });
}
async function clickAndWait(page, locator) {
  const [res] = await Promise.all([page.waitForNavigation({ timeout: NAV_MS, waitUntil: 'load' }), locator.click({ timeout: ACT_MS })]);
  return res;
}

// axe runs axe-core on the page (injected through the DevTools protocol,
// which the CSP does not block) and records a check.
async function axe(page, label) {
  try {
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
    const vs = await page.evaluate(async (tags) => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}  ${n.html.slice(0, 160)}`) }));
    }, AXE_TAGS);
    axePages++;
    const n = vs.reduce((a, v) => a + v.nodes.length, 0);
    axeViolations += n;
    const reflow = await reflowCheck(page);
    if (n === 0 && !reflow) pass(`axe ${label}`, page.url());
    else fail(`axe ${label}`, `${page.url()}\n${vs.map((v) => `${v.id} [${v.impact}] ${v.help}\n${v.nodes.map((x) => `  - ${x}`).join('\n')}`).join('\n')}${reflow ? `\nreflow: ${reflow}` : ''}`);
  } catch (e) {
    fail(`axe ${label}`, `${page.url()}: ${e.message}`);
  }
}

// reflowCheck reports a page that scrolls sideways at 320 CSS px
// (WCAG 1.4.10); wide tables scroll inside their own focusable region.
async function reflowCheck(page) {
  const vp = page.viewportSize();
  try {
    await page.setViewportSize({ width: 320, height: 640 });
    const r = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, w: document.documentElement.clientWidth }));
    return r.scroll > r.w + 1 ? `${r.scroll} px wide at 320 px` : '';
  } finally {
    if (vp) await page.setViewportSize(vp);
  }
}

// screenshot writes a full-page PNG at desktop width, and with mobile
// at phone width too.
async function screenshot(page, name, { mobile = false } = {}) {
  if (!SCREENSHOTS) return;
  await mkdir(shotDir, { recursive: true });
  for (const [w, h, kind] of [[1280, 800, 'desktop'], [390, 844, 'mobile']].slice(0, mobile ? 2 : 1)) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: join(shotDir, `backoffice-${name}-${kind}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

// errorState checks what a refused form shows: the status, an error
// summary whose links all lead to existing fields, and the field marked
// invalid and described by its message.
async function errorState(page, res, status) {
  assert(res?.status() === status, `HTTP ${res?.status()}, want ${status} at ${page.url()}`);
  const links = await page.locator('.error-summary a[href^="#"]').evaluateAll((as) => as.map((a) => {
    const el = document.getElementById(a.getAttribute('href').slice(1));
    return { href: a.getAttribute('href'), exists: !!el, invalid: el?.getAttribute('aria-invalid') === 'true' || !!el?.closest('.field-error'), describedby: el?.getAttribute('aria-describedby') || el?.closest('fieldset')?.getAttribute('aria-describedby') || '' };
  }));
  assert(links.length > 0, 'no error summary with links');
  // focus is on the summary (autofocus, no script needed), and its first
  // link moves focus to the field it names
  const focused = await page.evaluate(() => document.activeElement?.classList.contains('error-summary'));
  assert(focused, 'focus is not on the error summary');
  await page.locator('.error-summary a[href^="#"]').first().click();
  const at = await page.evaluate(() => document.activeElement?.id);
  assert(at === links[0].href.slice(1), `the first error link focuses #${at}, not ${links[0].href}`);
  for (const l of links) {
    assert(l.exists, `error summary link ${l.href} leads nowhere`);
    assert(l.invalid, `${l.href} is not marked invalid`);
    assert(/error/.test(l.describedby), `${l.href} is not described by its error message (aria-describedby="${l.describedby}")`);
  }
  return links.map((l) => l.href).join(' ');
}

async function signIn(page, base, user, password, { lang } = {}) {
  await goto(page, `${base}/backoffice/login${lang ? `?lang=${lang}` : ''}`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  const res = await clickAndWait(page, page.locator('main button[type=submit]'));
  assert(res?.status() === 200 && new URL(page.url()).pathname === '/backoffice/', `sign-in as ${user}: HTTP ${res?.status()} at ${page.url()}`);
}

// form is the <form> of the case view whose action ends with suffix.
function form(page, suffix) {
  return page.locator(`main form[action$="${suffix}"]`).first();
}

// step is the form of a workflow step the case offers now: one that
// requires a comment, or one that does not. (The steps are the service's
// workflow; the test takes whichever it declares.)
function step(page, { comment }) {
  const f = page.locator('main form[action$="/transition"]');
  const req = page.locator('input[name="commentRequired"]');
  return (comment ? f.filter({ has: req }) : f.filter({ hasNot: req })).first();
}
const caseStatus = (page) => page.locator('main .summary-row').first().locator('dd').innerText();

const isoIn = (days) => new Date(Date.now() + days * 864e5).toISOString().slice(0, 10);

// ---------------------------------------------------------------- walks
async function caseworkerWalk(base) {
  const ctx = await newContext();
  const page = await ctx.newPage();
  try {
    await check('login page', async () => {
      const res = await goto(page, `${base}/backoffice/login`);
      assert(res.status() === 200, `HTTP ${res.status()}`);
      assert(await page.locator('a.button', { hasText: 'Mit Dienstkonto anmelden' }).count() > 0, 'no OIDC button');
      await axe(page, 'login page');
      await screenshot(page, 'login', { mobile: true });
    });
    await check('login sent empty: error state', async () => {
      const res = await clickAndWait(page, page.locator('main button[type=submit]'));
      const d = await errorState(page, res, 422);
      await axe(page, 'login page, sent empty');
      await screenshot(page, 'login-errors');
      return d;
    });
    await check('wrong password: one message whether the user exists or not', async () => {
      const texts = [];
      for (const u of ['anna', 'niemand']) {
        await page.fill('#username', u);
        await page.fill('#password', 'falsch');
        const res = await clickAndWait(page, page.locator('main button[type=submit]'));
        assert(res.status() === 401, `HTTP ${res.status()}`);
        texts.push(await page.locator('.error-summary').innerText());
      }
      assert(texts[0] === texts[1], `different answers: ${JSON.stringify(texts)}`);
      await axe(page, 'login page, wrong password');
    });
    await check('sign in as a caseworker', () => signIn(page, base, 'anna', 'anna-pw'));
    await check('my cases', async () => {
      const text = await page.locator('main').innerText();
      assert(text.includes(A2) && /überfällig/.test(text), 'my overdue case is not listed as overdue in text');
      assert(await page.locator('table caption').count() === 1 && await page.locator('th[scope=col]').count() >= 7, 'no table with caption and column headers');
      await axe(page, 'inbox: my cases');
      await screenshot(page, 'inbox-mine', { mobile: true });
    });
    await check('office inbox', async () => {
      await clickAndWait(page, page.locator('nav.bo-nav a', { hasText: 'Jugendamt' }).first());
      assert(page.url().endsWith(`/backoffice/office/${OFFICE}`), page.url());
      assert(await page.locator('.bo-counts li').count() > 1, 'no counts per status');
      await axe(page, 'inbox: office');
      await page.locator('details.bo-filter summary').click();
      await screenshot(page, 'inbox');
    });
    await check('office inbox filtered with the form', async () => {
      await page.locator('details.bo-filter[open]').or(page.locator('details.bo-filter')).first();
      if (!(await page.locator('details.bo-filter[open]').count())) await page.locator('details.bo-filter summary').click();
      await page.fill('#q', 'KITA-2026-0001');
      await page.selectOption('#sort', 'priority');
      await clickAndWait(page, page.locator('details.bo-filter button[type=submit]'));
      const u = new URL(page.url());
      assert(u.searchParams.get('q') === 'KITA-2026-0001' && u.searchParams.get('sort') === 'priority', page.url());
      const refs = await page.locator('tbody th[scope=row]').allInnerTexts();
      assert(refs.length > 0 && refs.every((r) => r.startsWith('KITA-2026-0001')), `rows ${refs.join(', ')}`);
      await axe(page, 'inbox: filtered');
    });
    await check('inbox page 2', async () => {
      await goto(page, `${base}/backoffice/office/${OFFICE}`);
      await clickAndWait(page, page.locator('a[rel=next]'));
      assert(/Seite 2 von 2/.test(await page.locator('main').innerText()), 'not page 2 of 2');
      await axe(page, 'inbox: page 2');
    });
    await check('inbox: filter in error', async () => {
      const res = await goto(page, `${base}/backoffice/office/${OFFICE}?from=31.02.2026`);
      const d = await errorState(page, res, 422);
      await axe(page, 'inbox: filter in error');
      return d;
    });
    await check('inbox: nothing found', async () => {
      await goto(page, `${base}/backoffice/office/${OFFICE}?q=GIBTESNICHT`);
      assert(/Keine Vorgänge gefunden/.test(await page.locator('main').innerText()), 'no empty message');
      await axe(page, 'inbox: empty');
    });

    await check('case view', async () => {
      const res = await goto(page, `${base}/backoffice/cases/${A1}`);
      assert(res.status() === 200, `HTTP ${res.status()}`);
      const text = await page.locator('main').innerText();
      for (const s of ['Jürgen', 'Einkommensnachweis März.pdf', 'Mir zuweisen', 'Verlauf']) assert(text.includes(s), `lacks ${s}`);
      assert(await page.locator('main form[action$="/transition"]').count() > 0, 'no workflow step offered');
      await axe(page, 'case view');
      await screenshot(page, 'case', { mobile: true });
    });
    await check('attachment download', async () => {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('a', { hasText: 'Einkommensnachweis März.pdf' }).click()]);
      assert(dl.suggestedFilename() === 'Einkommensnachweis März.pdf', dl.suggestedFilename());
      const r = await page.request.get(`${base}/backoffice/cases/${A1}/attachments/att-income-0001`);
      assert(r.headers()['content-type'] === 'application/pdf' && /^attachment;/.test(r.headers()['content-disposition']), JSON.stringify(r.headers()));
    });
    await check('receipt PDF', async () => {
      const r = await page.request.get(`${base}/backoffice/cases/${A1}/receipt.pdf`);
      assert(r.status() === 200 && r.headers()['content-type'] === 'application/pdf', `HTTP ${r.status()} ${r.headers()['content-type']}`);
    });

    // every action form in its error state
    const errorForms = [
      ['note sent empty', async () => clickAndWait(page, form(page, '/note').locator('button'))],
      ['workflow action without its required comment', async () => clickAndWait(page, step(page, { comment: true }).locator('button'))],
      ['document request sent empty', async () => {
        await page.fill('#docs-deadline', '');
        return clickAndWait(page, form(page, '/documents').locator('button'));
      }],
      ['due date not a date', async () => {
        await page.locator('#schedule-due').evaluate((el) => { el.type = 'text'; el.value = 'morgen'; });
        return clickAndWait(page, form(page, '/schedule').locator('button'));
      }],
      ['assignment to someone not on the list', async () => {
        await page.locator('#assign-to').evaluate((el) => { el.add(new Option('Mallory', 'mallory')); el.value = 'mallory'; });
        return clickAndWait(page, form(page, '/assign').locator('button'));
      }],
    ];
    for (const [name, send] of errorForms) {
      await check(`case view: ${name}`, async () => {
        // documents can be requested in processing (A2), not on arrival
        await goto(page, `${base}/backoffice/cases/${name.startsWith('document') ? A2 : A1}`);
        const res = await send();
        const d = await errorState(page, res, 422);
        await axe(page, `case view: ${name}`);
        if (name.startsWith('document')) await screenshot(page, 'case-errors');
        return d;
      });
    }

    // every action form sent right
    await check('claim', async () => {
      await goto(page, `${base}/backoffice/cases/${A1}`);
      await clickAndWait(page, page.locator('#claim'));
      assert(/Der Vorgang ist Ihnen zugewiesen/.test(await page.locator('[role=status]').innerText()), 'no notice');
      assert(await page.locator('#claim').count() === 0, 'still offers the claim');
      await axe(page, 'case view after a claim');
    });
    await check('workflow action', async () => {
      const before = await caseStatus(page);
      await clickAndWait(page, step(page, { comment: false }).locator('button'));
      const after = await caseStatus(page);
      assert(after !== before, `status still ${before}`);
      assert(await page.locator('main form[action$="/transition"], main form[action$="/documents"]').count() > 0, 'no next steps offered');
      return `${before} → ${after}`;
    });
    await check('internal note', async () => {
      await form(page, '/note').locator('textarea').fill('Rückruf am Montag vereinbart.');
      await clickAndWait(page, form(page, '/note').locator('button'));
      assert(/Rückruf am Montag vereinbart/.test(await page.locator('.bo-notes').innerText()), 'note not shown');
    });
    await check('due date, follow-up and priority', async () => {
      await page.fill('#schedule-due', isoIn(10));
      await page.fill('#schedule-followup', isoIn(3));
      await page.locator('label', { hasText: 'Dringend' }).click();
      await clickAndWait(page, form(page, '/schedule').locator('button'));
      assert(/gespeichert/.test(await page.locator('[role=status]').innerText()), 'no notice');
    });
    await check('document request', async () => {
      await form(page, '/documents').locator('input[type=checkbox]').first().check();
      await page.fill('#docs-message', 'Bitte reichen Sie den aktuellen Einkommensnachweis ein.');
      await page.fill('#docs-deadline', isoIn(14));
      await clickAndWait(page, form(page, '/documents').locator('button'));
      assert(/Nachgeforderte Unterlagen/.test(await page.locator('main').innerText()), 'request not listed');
      await axe(page, 'case view with notes and requests');
      await screenshot(page, 'case-worked');
    });
    await check('403 and 404 pages', async () => {
      let res = await goto(page, `${base}/backoffice/audit`);
      assert(res.status() === 403, `audit as a caseworker: HTTP ${res.status()}`);
      await axe(page, '403 page');
      res = await goto(page, `${base}/backoffice/cases/KITA-2026-999999`);
      assert(res.status() === 404, `HTTP ${res.status()}`);
      await axe(page, '404 page');
    });
    await check('English', async () => {
      await goto(page, `${base}/backoffice/?lang=en`);
      assert((await page.locator('html').getAttribute('lang')) === 'en', 'not English');
      await axe(page, 'inbox (English)');
      await goto(page, `${base}/backoffice/cases/${A2}`);
      assert(/History/.test(await page.locator('main').innerText()), 'case view not English');
      await axe(page, 'case view (English)');
      await page.fill('#docs-deadline', '');
      const res = await clickAndWait(page, form(page, '/documents').locator('button'));
      await errorState(page, res, 422);
      await axe(page, 'case view, document request in error (English)');
      await clickAndWait(page, page.locator('a[hreflang="de"]'));
    });
    await check('sign out', async () => {
      await clickAndWait(page, page.locator('header form[action="/backoffice/logout"] button'));
      assert(/Sie sind abgemeldet/.test(await page.locator('main').innerText()), 'no notice');
      await axe(page, 'signed out');
      const res = await goto(page, `${base}/backoffice/`);
      assert(new URL(page.url()).pathname === '/backoffice/login' && res.status() === 200, `after sign-out: ${page.url()}`);
    });
  } finally {
    await ctx.close();
  }
}

async function conflictWalk(base) {
  const ctx = await newContext();
  const page = await ctx.newPage();
  try {
    await check('lost claim: 409 page names who won', async () => {
      await signIn(page, base, 'bernd', 'bernd-pw');
      await goto(page, `${base}/backoffice/cases/${A2}`);
      const res = await clickAndWait(page, page.locator('#claim'));
      assert(res.status() === 409, `HTTP ${res.status()}`);
      const text = await page.locator('main').innerText();
      assert(/von Anna Adler übernommen/.test(text), text);
      assert(await page.locator(`main a[href="/backoffice/cases/${A2}"]`).count() === 1, 'no link back to the case');
      await axe(page, '409 page');
      await screenshot(page, 'conflict');
    });
  } finally {
    await ctx.close();
  }
}

async function auditorWalk(base) {
  const ctx = await newContext();
  const page = await ctx.newPage();
  try {
    await check('auditor: audit trail', async () => {
      await signIn(page, base, 'clara', 'clara-pw');
      await clickAndWait(page, page.locator('nav.bo-nav a', { hasText: 'Protokoll' }));
      assert(await page.locator('table caption').count() === 1, 'no table');
      assert(/case\.viewed/.test(await page.locator('main').innerText()), 'no entries');
      const r = await page.request.get(`${base}/backoffice/audit/export?format=csv`);
      assert(r.status() === 200 && /text\/csv/.test(r.headers()['content-type']), `CSV: HTTP ${r.status()}`);
      await axe(page, 'audit trail');
      await screenshot(page, 'audit');
    });
    await check('auditor: case view without actions', async () => {
      await goto(page, `${base}/backoffice/cases/${A2}`);
      assert(await page.locator('main form[method=post]').count() === 0, 'the auditor gets action forms');
      await axe(page, 'case view (auditor)');
    });
  } finally {
    await ctx.close();
  }
}

async function catalogueWalk(base) {
  const ctx = await newContext();
  const page = await ctx.newPage();
  try {
    await check('catalogue: nothing installed, no registry configured', async () => {
      await signIn(page, base, 'kai', 'kai-pw');
      await clickAndWait(page, page.locator('nav.bo-nav a', { hasText: 'Katalog' }));
      const text = await page.locator('main').innerText();
      assert(/Keine Registry konfiguriert/.test(text) && /keine Module/.test(text), text);
      assert(await page.locator('main form[action="/backoffice/catalogue/plan"]').count() === 0, 'install forms without a registry');
      await axe(page, 'catalogue: empty, no registry');
      await screenshot(page, 'catalogue-empty');
      await clickAndWait(page, page.locator('header form[action="/backoffice/logout"] button'));
    });
    await check('catalogue: installed module with newer versions', async () => {
      await signIn(page, base, 'ida', 'ida-pw');
      await clickAndWait(page, page.locator('nav.bo-nav a', { hasText: 'Katalog' }));
      const text = await page.locator('main').innerText();
      for (const s of ['land.hessen.example/kita@v1', 'v1.0.0', 'v1.1.0', 'vertraut für', 'Installationsverzeichnis']) assert(text.includes(s), `lacks ${s}`);
      assert(await page.locator('main form[action="/backoffice/catalogue/plan"]').count() === 2, 'no review forms for the newer versions');
      await axe(page, 'catalogue: with newer versions');
      await screenshot(page, 'catalogue', { mobile: true });
    });
    await check('catalogue: review an ERR upgrade', async () => {
      await clickAndWait(page, page.locator('main form[action="/backoffice/catalogue/plan"]').filter({ has: page.locator('input[value="v1.1.0"]') }).locator('button'));
      const text = await page.locator('main').innerText();
      assert(/maximum narrowed/.test(text) && /ERR/.test(text), 'no ERR change listed');
      assert(await page.locator('#confirm').count() === 1, 'no confirmation box');
      await axe(page, 'catalogue: diff with ERR lines');
      await screenshot(page, 'catalogue-diff', { mobile: true });
    });
    await check('catalogue: install without confirming (error state)', async () => {
      const res = await clickAndWait(page, page.locator('main form[action="/backoffice/catalogue/install"] button[type=submit]'));
      const d = await errorState(page, res, 422);
      await axe(page, 'catalogue: confirmation missing');
      return d;
    });
    await check('catalogue: confirm and install', async () => {
      await page.locator('#confirm').check();
      await clickAndWait(page, page.locator('main form[action="/backoffice/catalogue/install"] button[type=submit]'));
      assert(new URL(page.url()).pathname === '/backoffice/catalogue', page.url());
      assert(/v1\.1\.0 ist installiert/.test(await page.locator('[role=status]').innerText()), 'no notice');
      await axe(page, 'catalogue: after the install');
    });
    await check('catalogue (English)', async () => {
      await goto(page, `${base}/backoffice/catalogue?lang=en`);
      assert(/Installed modules/.test(await page.locator('main').innerText()), 'not English');
      await axe(page, 'catalogue (English)');
      await clickAndWait(page, page.locator('a[hreflang="de"]'));
    });
    await check('case view: deliveries, dead-lettered, with the retry (admin)', async () => {
      await goto(page, `${base}/backoffice/cases/${A1}`);
      const text = await page.locator('main').innerText();
      assert(/Übermittlung an Fachverfahren/.test(text) && /gescheitert, zurückgestellt/.test(text) && /angenommen/.test(text), text);
      assert(await page.locator(`main form[action="/backoffice/cases/${A1}/retry"]`).count() === 1, 'no retry form for the dead-lettered job');
      await axe(page, 'case view: deliveries (admin)');
      await clickAndWait(page, page.locator(`main form[action="/backoffice/cases/${A1}/retry"] button[type=submit]`));
      assert(/Die Übermittlung wird erneut versucht/.test(await page.locator('main').innerText()), 'no notice after the retry');
      await axe(page, 'case view: delivery retried');
      await goto(page, `${base}/backoffice/cases/${A2}`);
      assert(/wird erneut versucht/.test(await page.locator('main').innerText()), 'no retried job on A2');
      await axe(page, 'case view: delivery being retried, rejected by a feed');
    });
  } finally {
    await ctx.close();
  }
}

async function noJSWalk(base) {
  const ctx = await newContext({ javaScriptEnabled: false });
  const page = await ctx.newPage();
  try {
    await check('without JavaScript: sign in, claim, note, sign out', async () => {
      await signIn(page, base, 'anna', 'anna-pw');
      await goto(page, `${base}/backoffice/cases/${FREE}`);
      await clickAndWait(page, page.locator('#claim'));
      assert(/zugewiesen/.test(await page.locator('[role=status]').innerText()), 'claim without JS');
      await form(page, '/note').locator('textarea').fill('Ohne JavaScript notiert.');
      await clickAndWait(page, form(page, '/note').locator('button'));
      assert(/Ohne JavaScript notiert/.test(await page.locator('main').innerText()), 'note without JS');
      await clickAndWait(page, page.locator('header form[action="/backoffice/logout"] button'));
    });
    await check('without JavaScript: sign in with the work account (OIDC)', async () => {
      await goto(page, `${base}/backoffice/login`);
      await clickAndWait(page, page.locator('a.button', { hasText: 'Mit Dienstkonto anmelden' }).first());
      assert(new URL(page.url()).pathname === '/backoffice/', page.url());
      assert(/Bernd Berger/.test(await page.locator('header').innerText()), 'not signed in as the OIDC user');
    });
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------- the real server
// spoolMails returns the bodies of the mails in the server's spool
// directory (quoted-printable undone), oldest first.
async function spoolMails(dataDir) {
  const dir = join(dataDir, 'mail-spool');
  const names = (await readdir(dir).catch(() => [])).filter((n) => n.endsWith('.eml')).sort();
  const out = [];
  for (const n of names) {
    const raw = await readFile(join(dir, n), 'utf8');
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4).replace(/=\r?\n/g, '')
      .replace(/(=[0-9A-F]{2})+/g, (m) => Buffer.from(m.replace(/=/g, ''), 'hex').toString('utf8'));
    out.push({ name: n, head: raw.slice(0, raw.indexOf('\r\n\r\n')), body });
  }
  return out;
}

const PDF = Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');

async function serveWalk({ base, dataDir, ref, secret, office }) {
  const ctx = await newContext();
  const page = await ctx.newPage();
  const cz = await newContext();
  const citizen = await cz.newPage();
  const bctx = await newContext();
  const bp = await bctx.newPage();
  let link = '';
  try {
    await check('serve: the application went to the office', async () => assert(office === OFFICE, `routed to ${office}`));
    await check('serve: login page', async () => {
      const res = await goto(page, `${base}/backoffice/login`);
      assert(res.status() === 200, `HTTP ${res.status()}`);
      await axe(page, 'serve: login page');
    });
    await check('serve: sign in as a caseworker added with the CLI', () => signIn(page, base, 'anna', pw('anna')));
    await check('serve: the office inbox lists the case', async () => {
      await goto(page, `${base}/backoffice/office/${OFFICE}`);
      assert((await page.locator('main').innerText()).includes(ref), `${ref} not listed`);
      await axe(page, 'serve: office inbox');
    });
    await check('serve: case view', async () => {
      const res = await goto(page, `${base}/backoffice/cases/${ref}`);
      assert(res.status() === 200, `HTTP ${res.status()}`);
      const text = await page.locator('main').innerText();
      for (const s of ['Jürgen', 'Mir zuweisen', 'Verlauf']) assert(text.includes(s), `lacks ${s}`);
      await axe(page, 'serve: case view');
    });
    await check('serve: claim', async () => {
      await clickAndWait(page, page.locator('#claim'));
      assert(/Der Vorgang ist Ihnen zugewiesen/.test(await page.locator('[role=status]').innerText()), 'no notice');
    });
    await check('serve: start the review', async () => {
      await clickAndWait(page, page.locator('main form[action$="/transition"]').filter({ has: page.locator('input[name=transition][value=pruefen]') }).locator('button'));
      assert(/In Prüfung/.test(await caseStatus(page)), await caseStatus(page));
    });
    await check('serve: document request sent empty: error state', async () => {
      await page.fill('#docs-deadline', '');
      const res = await clickAndWait(page, form(page, '/documents').locator('button'));
      const d = await errorState(page, res, 422);
      await axe(page, 'serve: document request in error');
      return d;
    });
    await check('serve: request the proof of income', async () => {
      await form(page, '/documents').locator('input[type=checkbox]').first().check();
      await page.fill('#docs-message', 'Bitte reichen Sie den Steuerbescheid 2025 ein.');
      await page.fill('#docs-deadline', isoIn(14));
      await clickAndWait(page, form(page, '/documents').locator('button'));
      assert(/Unterlagen nachgefordert/.test(await caseStatus(page)), await caseStatus(page));
      await axe(page, 'serve: case view with a request');
    });
    await check('serve: the mail in the spool carries the upload link', async () => {
      const mails = await spoolMails(dataDir);
      const m = mails.find((x) => x.body.includes('/nachreichen/'));
      assert(m, `no request mail among ${mails.length}`);
      link = (m.body.match(new RegExp(`${base}/${TENANT}/nachreichen/[A-Za-z0-9_.-]+`)) || [''])[0];
      assert(link.startsWith(`${base}/${TENANT}/nachreichen/${ref}.`), `link ${link}`);
    });
    await check('serve: the status page lists the open request', async () => {
      const res = await goto(citizen, `${base}/${TENANT}/kita-gebuehren/r/${ref}?s=${encodeURIComponent(secret)}`);
      assert(res.status() === 200, `HTTP ${res.status()}`);
      const text = await citizen.locator('main').innerText();
      for (const s of ['Unterlagen nachgefordert', 'Nachgeforderte Unterlagen', 'Einkommensnachweis', 'Jugendamt des Main-Taunus-Kreises']) assert(text.includes(s), `lacks ${s}`);
      await axe(citizen, 'serve: citizen status page with a request');
      await goto(citizen, `${base}/${TENANT}/kita-gebuehren/r/${ref}?s=${encodeURIComponent(secret)}&lang=en`);
      const en = await citizen.locator('main').innerText();
      assert(en.includes('Documents requested') && en.includes('Youth welfare office of the Main-Taunus district'), 'status page not in English');
      await axe(citizen, 'serve: citizen status page with a request (English)');
      await goto(citizen, `${base}/${TENANT}/kita-gebuehren/r/${ref}?s=${encodeURIComponent(secret)}&lang=de`);
    });
    await check('serve: the upload page sent empty: error state', async () => {
      const res = await goto(citizen, link);
      assert(res.status() === 200, `HTTP ${res.status()}`);
      await axe(citizen, 'serve: citizen upload page');
      const r2 = await clickAndWait(citizen, citizen.locator('main button[type=submit]'));
      const d = await errorState(citizen, r2, 422);
      await axe(citizen, 'serve: citizen upload page in error');
      return d;
    });
    await check('serve: the citizen uploads the file', async () => {
      await citizen.locator('main input[type=file]').first().setInputFiles({ name: 'Steuerbescheid 2025.pdf', mimeType: 'application/pdf', buffer: PDF });
      await clickAndWait(citizen, citizen.locator('main button[type=submit]'));
      assert(/Ihre Unterlagen sind eingegangen/.test(await citizen.locator('main').innerText()), 'no thanks');
      await axe(citizen, 'serve: citizen upload done');
    });
    await check('serve: the case is back in review with the file; prepare the decision', async () => {
      await goto(page, `${base}/backoffice/cases/${ref}`);
      assert(/In Prüfung/.test(await caseStatus(page)), await caseStatus(page));
      assert((await page.locator('main').innerText()).includes('Steuerbescheid 2025.pdf'), 'file not listed');
      const f = page.locator('main form[action$="/transition"]').filter({ has: page.locator('input[name=transition][value=vorbereiten]') });
      await f.locator('textarea').fill('Nachweis liegt vor; Bewilligung empfohlen.');
      await clickAndWait(page, f.locator('button'));
      assert(/Entscheidung vorbereitet/.test(await caseStatus(page)), await caseStatus(page));
      assert(await page.locator('input[name=transition][value=bewilligen]').count() === 0, 'the preparer is offered the approval');
      await axe(page, 'serve: case view, decision prepared');
    });
    await check('serve: a second person approves (four-eyes)', async () => {
      await signIn(bp, base, 'bernd', pw('bernd'));
      await goto(bp, `${base}/backoffice/cases/${ref}`);
      const f = bp.locator('main form[action$="/transition"]').filter({ has: bp.locator('input[name=transition][value=bewilligen]') });
      await clickAndWait(bp, f.locator('button'));
      assert(/Bewilligt/.test(await caseStatus(bp)), await caseStatus(bp));
      await axe(bp, 'serve: case view, granted');
    });
    await check('serve: three mails to the citizen in the spool', async () => {
      const mails = await spoolMails(dataDir);
      assert(mails.length === 3 && /bewilligt/.test(mails[2].body), `${mails.length} mails: ${mails.map((m) => m.head.match(/^Subject: .*$/m)?.[0]).join(' | ')}`);
    });
    await check('serve: auditor sees the audit trail', async () => {
      const actx = await newContext();
      const ap = await actx.newPage();
      try {
        await signIn(ap, base, 'clara', pw('clara'));
        await goto(ap, `${base}/backoffice/audit`);
        const text = await ap.locator('main').innerText();
        assert(/case\.transition/.test(text) && /case\.documents_received/.test(text), 'entries missing');
        await axe(ap, 'serve: audit trail');
      } finally {
        await actx.close();
      }
    });
  } finally {
    await ctx.close();
    await cz.close();
    await bctx.close();
  }
}

// ---------------------------------------------------------------- main
let finished = false;
async function finish(extra) {
  if (finished) return;
  finished = true;
  if (extra) fail(extra.name, extra.detail);
  if (browser) await Promise.race([browser.close().catch(() => {}), delay(10000)]);
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.once('exit', r)), delay(10000)]);
  }
  if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => {});
  const passed = results.filter((r) => r.ok).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exit(results.length > 0 && passed === results.length ? 0 : 1);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => finish({ name: 'interrupted', detail: sig }));
process.on('unhandledRejection', (e) => finish({ name: 'unhandled rejection', detail: e?.stack || String(e) }));

try {
  const started = SERVE ? await startServe() : await startDemo();
  const { base } = started;
  setTimeout(() => finish({ name: 'time limit', detail: `longer than ${LIMIT_MS} ms` }), LIMIT_MS).unref();
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  if (SERVE) {
    await serveWalk(started);
  } else {
    await caseworkerWalk(base);
    await conflictWalk(base);
    await auditorWalk(base);
    await catalogueWalk(base);
    await noJSWalk(base);
  }
  if (pageErrors.length) fail('no script errors or CSP violations', pageErrors.slice(0, 10).join('\n'));
  else pass('no script errors or CSP violations');
  if (axeViolations === 0) pass(`axe: 0 violations on ${axePages} page states`);
  else fail(`axe: ${axeViolations} violations on ${axePages} page states`);
} catch (e) {
  fail('back office browser tests', e.stack || String(e));
}
await finish();
