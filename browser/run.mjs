// Browser tests for the Amtsform citizen UI, in headless Debian Chromium
// driven by playwright-core:
//
//   - every page of every example service (service list, start page, each
//     form page empty and with errors, check-your-answers, confirmation,
//     the 404 page), in German and in English, is checked with axe-core
//     at WCAG 2.0/2.1 A and AA: zero violations;
//   - the hundesteuer form is filled like a citizen would, adding a second
//     dog of a listed breed so that the permit field and the competence
//     page appear, and submitted; the confirmation shows the reference;
//   - the same walk again with JavaScript switched off, and every other
//     example too; axe needs script, so each state of a no-JS walk is
//     checked on its DOM in a JavaScript page (see axeSnapshot);
//   - a same-page condition (a listed breed reveals the permit number)
//     with and without JavaScript, axe-checked in every state;
//   - full-page PNG screenshots of every Kita page, desktop and mobile,
//     into browser/out/screenshots/ (SCREENSHOT_DIR=../docs/screenshots
//     refreshes the committed ones).
//
// Run: cd browser && npm ci && node run.mjs   (see README in this folder)
// Prints one line per check and a last line "N passed, N failed"; exits 1
// on any failure.
import { chromium } from 'playwright-core';
import { readFile, readdir, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { start, build, repoRoot } from './server.mjs';
import { valueFor, fallbackFor, parseName, tinyPDF, tinyJPEG } from './fill.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const axeSource = await readFile(axePath, 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

const env = process.env;
const TENANT = env.AMTSFORM_TENANT || 'musterstadt';
const CHROMIUM = env.CHROMIUM_PATH || '/usr/bin/chromium';
// About 4 minutes on the shared 2-core machine with the no-JS states
// axe-checked too; the limit catches a hang, not a slow run.
const LIMIT_MS = Number(env.BROWSER_TEST_LIMIT_MS || 8 * 60000);
const NAV_MS = 15000; // one navigation
const ACT_MS = 5000; // one click or fill
const SCREENSHOTS = env.SCREENSHOTS !== '0';
// Screenshots go to an ignored folder; refresh the committed ones in
// docs/screenshots/ deliberately with SCREENSHOT_DIR=../docs/screenshots.
const shotDir = env.SCREENSHOT_DIR || join(here, 'out', 'screenshots');
const SHOT_SERVICE = 'kita-gebuehren';

// ---------------------------------------------------------------- results
const results = [];
function record(ok, name, detail = '') {
  results.push({ ok, name, detail });
  const line = `${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `\n       ${detail.replace(/\n/g, '\n       ')}` : ''}`;
  console.log(line);
}
const pass = (name, detail) => record(true, name, detail);
const fail = (name, detail) => record(false, name, detail);
function summary() {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  return { passed, failed, line: `${passed} passed, ${failed} failed` };
}

// ---------------------------------------------------------------- cleanup
let server;
let browser;
let finished = false;
async function cleanup() {
  if (browser) await Promise.race([browser.close().catch(() => {}), delay(10000)]);
  browser = undefined;
  if (server) {
    const s = server;
    server = undefined;
    const how = await s.stop();
    if (how.killed || how.code !== 0) {
      fail('server stops on SIGTERM', `exit ${JSON.stringify(how)}\n${(await s.log()).slice(-2000)}`);
    } else pass('server stops on SIGTERM', `exit code ${how.code}`);
  }
}
function delay(ms) { return new Promise((r) => setTimeout(r, ms).unref()); }
async function finish(extra) {
  if (finished) return;
  finished = true;
  if (extra) fail(extra.name, extra.detail);
  await cleanup().catch((e) => fail('cleanup', String(e)));
  const s = summary();
  console.log(s.line);
  process.exit(s.failed === 0 && s.passed > 0 ? 0 : 1);
}
// The time limit counts from the built binary (a cold Go build cache is
// bounded separately, in build()).
function startWatchdog() {
  setTimeout(() => {
    finish({ name: 'time limit', detail: `the tests took longer than ${LIMIT_MS} ms` });
  }, LIMIT_MS).unref();
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => finish({ name: 'interrupted', detail: sig }));
process.on('uncaughtException', (e) => finish({ name: 'uncaught exception', detail: e.stack || String(e) }));
process.on('unhandledRejection', (e) => finish({ name: 'unhandled rejection', detail: e?.stack || String(e) }));

// ---------------------------------------------------------------- services
// The example services and their reference prefixes, read from the specs
// (not from the UI, so that a missing service is noticed).
async function exampleServices() {
  const dir = join(repoRoot, 'examples');
  const out = [];
  for (const d of (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const f = join(dir, d, 'service.cue');
    if (!existsSync(f)) continue;
    const src = await readFile(f, 'utf8');
    const id = src.match(/^\s*id:\s*"([^"]+)"/m)?.[1];
    const ref = src.match(/^\s*reference:\s*"([^"]+)"/m)?.[1];
    if (id) out.push({ id, prefix: ref || id.toUpperCase(), refRe: new RegExp(`\\b${ref}-\\d{4}-\\d{6}\\b`) });
  }
  return out;
}

// ---------------------------------------------------------------- page helpers
async function goto(page, url) {
  const res = await page.goto(url, { timeout: NAV_MS, waitUntil: 'load' });
  return res;
}

// clickAndWait clicks a control that submits a form or follows a link and
// waits for the next document to load.
async function clickAndWait(page, locator) {
  const [res] = await Promise.all([
    page.waitForNavigation({ timeout: NAV_MS, waitUntil: 'load' }),
    locator.click({ timeout: ACT_MS }),
  ]);
  return res;
}

const slugify = (s) => s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/ß/g, 'ss')
  .replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);

// pageKey names a page by its URL: the last path segment that is neither
// the tenant, the service nor a token.
function pageKey(url, service) {
  const segs = new URL(url).pathname.split('/').filter(Boolean);
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = decodeURIComponent(segs[i]);
    if (s === TENANT || s === service) break;
    if (s.length >= 16 || /\d{3,}/.test(s)) continue; // token or id
    return slugify(s);
  }
  return '';
}

// controls lists the fillable controls in <main>, visible ones only.
async function controls(page) {
  return page.locator('main').first().locator('input, select, textarea').evaluateAll((els) => els.map((el, i) => {
    const type = (el.getAttribute('type') || el.tagName).toLowerCase();
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    // Radios and checkboxes are often visually replaced: count them visible
    // when their label is.
    let visible = r.width > 0 && r.height > 0 && style.visibility !== 'hidden';
    if (!visible && (type === 'radio' || type === 'checkbox') && el.labels?.length) {
      const lr = el.labels[0].getBoundingClientRect();
      visible = lr.width > 0 && lr.height > 0;
    }
    return {
      i, tag: el.tagName.toLowerCase(), type, name: el.name || '', id: el.id || '',
      value: el.value ?? '', checked: !!el.checked, disabled: el.disabled, readonly: el.readOnly,
      visible, options: el.tagName === 'SELECT' ? [...el.options].map((o) => o.value) : undefined,
    };
  }));
}
const skipTypes = new Set(['hidden', 'submit', 'button', 'reset', 'image']);
const fillable = (cs) => cs.filter((c) => c.visible && !skipTypes.has(c.type) && !c.disabled && !c.readonly && c.name);

// classify tells what kind of page is shown.
async function classify(page, svc) {
  const text = await page.locator('main').first().innerText({ timeout: ACT_MS }).catch(() => '');
  if (svc && svc.refRe.test(text)) return 'confirmation';
  if (fillable(await controls(page)).length > 0) return 'form';
  if ((await submitButtons(page)).length > 0) return 'review';
  return 'other';
}

async function submitButtons(page) {
  const loc = page.locator('main button:not([type=button]):not([type=reset]), main input[type=submit]');
  const out = [];
  for (let i = 0; i < await loc.count(); i++) {
    const b = loc.nth(i);
    // Skip what a citizen cannot see or reach (e.g. a visually hidden
    // default button that only Enter in a text field triggers).
    if (!(await b.isVisible())) continue;
    if ((await b.getAttribute('aria-hidden')) === 'true' || (await b.getAttribute('tabindex')) === '-1') continue;
    const text = ((await b.innerText().catch(() => '')) || (await b.getAttribute('value')) || '').trim();
    out.push({ loc: b, text, name: (await b.getAttribute('name')) || '', value: (await b.getAttribute('value')) || '' });
  }
  return out;
}
const secondary = /hinzuf|entfern|lösch|add|remove|delete|zurück|back|später|later|aktualis|update|sprache|language|english|deutsch/i;
async function primaryButton(page) {
  const bs = await submitButtons(page);
  const cand = bs.filter((b) => !secondary.test(b.text));
  return cand.find((b) => /weiter|continue|absenden|abschicken|senden|submit|next|prüfen|check|starten|start|beginnen|bestätigen/i.test(b.text)) || cand[0];
}
async function addButton(page) {
  const bs = await submitButtons(page);
  return bs.find((b) => /hinzuf|add/i.test(b.text) || /add/i.test(b.name + b.value));
}

// fillPage fills every visible empty control in <main> with a citizen's
// values; it returns the data paths it filled.
async function fillPage(page, service) {
  const filled = [];
  const cs = fillable(await controls(page));
  const all = page.locator('main').first().locator('input, select, textarea');
  const radiosDone = new Set();
  for (const c of cs) {
    const el = all.nth(c.i);
    const want = valueFor(service, c.name);
    const { path, index } = parseName(c.name);
    if (c.type === 'radio') {
      if (radiosDone.has(c.name)) continue;
      radiosDone.add(c.name);
      const group = cs.filter((x) => x.type === 'radio' && x.name === c.name);
      if (group.some((x) => x.checked)) continue;
      const pick = group.find((x) => x.value === want) || group[0];
      await all.nth(pick.i).check({ timeout: ACT_MS, force: true });
      filled.push({ path, index, value: pick.value });
    } else if (c.type === 'checkbox') {
      // A yes/no box is ticked when the value is true; a box of a
      // multiple choice when its option is among the values.
      const tick = Array.isArray(want) ? want.includes(c.value) : (want === true || want === 'true');
      if (c.checked || !tick) continue;
      await el.check({ timeout: ACT_MS, force: true });
      filled.push({ path, index, value: true });
    } else if (c.tag === 'select') {
      if (c.value) continue;
      const opts = c.options.filter((o) => o !== '');
      const pick = opts.includes(String(want)) ? String(want) : opts[0];
      if (pick === undefined) continue;
      await el.selectOption(pick, { timeout: ACT_MS });
      filled.push({ path, index, value: pick });
    } else if (c.type === 'file') {
      // The field says what it accepts (a photo must be JPEG).
      const accept = (await el.getAttribute('accept', { timeout: ACT_MS })) || '';
      const file = /image\/jpeg/.test(accept) && !/pdf/.test(accept)
        ? { name: 'foto.jpg', mimeType: 'image/jpeg', buffer: tinyJPEG }
        : { name: 'nachweis.pdf', mimeType: 'application/pdf', buffer: tinyPDF };
      await el.setInputFiles(file, { timeout: ACT_MS });
      filled.push({ path, index, value: file.name });
    } else {
      if (c.value) continue;
      let v = want === undefined || want === true ? fallbackFor(c.type) : String(want);
      if (c.type === 'number') v = v.replace(/[^\d.,-]/g, '').replace(',', '.');
      await el.fill(v, { timeout: ACT_MS });
      filled.push({ path, index, value: v, guessed: want === undefined });
    }
  }
  return filled;
}

const errorSummarySel = '.error-summary, .govuk-error-summary, [class*="error-summary"], [data-module="error-summary"], main [role="alert"]';
async function errorSummary(page) {
  const loc = page.locator(errorSummarySel).first();
  if (!(await loc.count())) return null;
  return {
    text: (await loc.innerText({ timeout: ACT_MS }).catch(() => '')).trim(),
    links: await loc.locator('a[href]').evaluateAll((as) => as.map((a) => {
      const href = a.getAttribute('href');
      const id = href.startsWith('#') ? decodeURIComponent(href.slice(1)) : null;
      return { href, text: a.textContent.trim(), target: !!(id && document.getElementById(id)) };
    })),
  };
}

// serverErrors returns the last error lines of the server log.
async function serverErrors(since = 0) {
  if (!server) return '';
  const lines = (await server.log()).slice(since).split('\n').filter((l) => /level=(ERROR|WARN)/.test(l)).slice(-5);
  return lines.length ? `\nserver log:\n${lines.join('\n')}` : '';
}

// ---------------------------------------------------------------- axe
let axeMethod;
const toolsIn = new WeakSet();
async function injectAxe(page) {
  toolsIn.add(page);
  if (await page.evaluate(() => typeof window.axe === 'object').catch(() => false)) return;
  if (!axeMethod || axeMethod === 'addScriptTag') {
    try {
      await page.addScriptTag({ path: axePath, timeout: ACT_MS });
    } catch { /* blocked by CSP */ }
    if (await page.evaluate(() => typeof window.axe === 'object')) { axeMethod = 'addScriptTag'; return; }
  }
  // The page's CSP allows only 'self' scripts, which blocks the inline
  // <script> addScriptTag creates; evaluating the source through the
  // DevTools protocol is not subject to CSP, and the page keeps its CSP
  // (so that what axe sees is what a citizen gets).
  await page.evaluate(axeSource);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) throw new Error('axe-core could not be injected');
  axeMethod = 'evaluate (addScriptTag is blocked by the CSP)';
}

// reflowCheck notes pages that scroll sideways at 320 CSS px (WCAG 2.1
// 1.4.10 Reflow, which axe does not test).
const reflowProblems = [];
async function reflowCheck(page, label) {
  const vp = page.viewportSize();
  try {
    await page.setViewportSize({ width: 320, height: 640 });
    const r = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > w + 1)
        .slice(0, 3).map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`);
      return { scroll: document.documentElement.scrollWidth, w, wide };
    });
    if (r.scroll > r.w + 1) reflowProblems.push(`${label}: ${r.scroll} px wide (${r.wide.join(', ')})`);
  } finally {
    if (vp) await page.setViewportSize(vp);
  }
}

let pagesChecked = 0;
let violationsTotal = 0;
async function axeCheck(page, label) {
  try {
    await injectAxe(page);
    const r = await page.evaluate(async (tags) => {
      // eslint-disable-next-line no-undef
      const res = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
      return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 160), summary: n.failureSummary })) }));
    }, AXE_TAGS);
    pagesChecked++;
    await reflowCheck(page, label);
    const n = r.reduce((a, v) => a + v.nodes.length, 0);
    violationsTotal += n;
    if (r.length === 0) pass(`axe ${label}`, page.url());
    else {
      fail(`axe ${label}`, `${page.url()}\n` + r.map((v) => `${v.id} [${v.impact}] ${v.help}\n` +
        v.nodes.map((x) => `  - ${x.target}  ${x.html}`).join('\n')).join('\n'));
    }
  } catch (e) {
    fail(`axe ${label}`, `${page.url()}: ${e.message}`);
  }
}

// axeSnapshot checks a page state of a walk without JavaScript. axe-core
// is a script, and a page with JavaScript switched off runs none, so the
// state is carried over: page.content() is the DOM the no-JS page parsed
// from the server's response (nothing has changed it), and a page of the
// JavaScript context snapCtx loads that HTML at the same URL — the
// request for the document itself is answered with it by page.route,
// every other request (style sheets, images) goes to the server — with
// the site's app.js blocked, so that the DOM stays exactly the no-JS one.
// axe and the reflow check then run on it as on any other page.
// The first time, the method proves it can fail: the same HTML without
// its lang attribute must give axe's html-has-lang violation.
let snapCtx;
let snapCanary = false;
async function snapshotPage(url, html) {
  const snap = await snapCtx.newPage();
  await snap.route('**/static/app.js*', (r) => r.abort());
  await snap.route((u) => u.href === url, (r) => r.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  await goto(snap, url);
  return snap;
}
async function axeSnapshot(page, label) {
  const url = page.url();
  let html;
  try {
    html = await page.content();
  } catch (e) {
    fail(`axe ${label}`, `${url}: no DOM to check: ${e.message}`);
    return;
  }
  if (!snapCanary) {
    snapCanary = true;
    const bad = await snapshotPage(url, html.replace(/(<html\b[^>]*?)\s+lang="[^"]*"/, '$1'));
    try {
      await injectAxe(bad);
      const ids = await bad.evaluate(async (tags) => (await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })).violations.map((v) => v.id), AXE_TAGS);
      if (ids.includes('html-has-lang')) pass('axe on a no-JS snapshot finds a violation', `without lang: ${ids.join(', ')}`);
      else fail('axe on a no-JS snapshot finds a violation', `no html-has-lang on ${url} without lang (${ids.join(', ') || 'no violations'})`);
    } finally {
      await bad.close().catch(() => {});
    }
  }
  let snap;
  try {
    snap = await snapshotPage(url, html);
    const same = await snap.evaluate(() => document.querySelectorAll('main *').length);
    const orig = await page.locator('main *').count();
    if (same !== orig) fail(`axe ${label}`, `${url}: the snapshot has ${same} elements in main, the no-JS page ${orig}`);
    else await axeCheck(snap, label);
  } catch (e) {
    fail(`axe ${label}`, `${url}: ${e.message}`);
  } finally {
    await snap?.close().catch(() => {});
  }
}

// ---------------------------------------------------------------- screenshots
const shots = [];
async function screenshot(page, name) {
  if (!SCREENSHOTS) return;
  try {
    for (const [w, h, kind] of [[1280, 800, 'desktop'], [390, 844, 'mobile']]) {
      await page.setViewportSize({ width: w, height: h });
      const f = join(shotDir, `${name}-${kind}.png`);
      await page.screenshot({ path: f, fullPage: true, timeout: NAV_MS, animations: 'disabled', caret: 'hide' });
      shots.push(f);
    }
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
}

// ---------------------------------------------------------------- the walk
const newSeen = () => ({ pages: [], filled: [], reference: null, review: null });

// walkService goes through one service like a citizen: start page, each
// form page (checked empty, submitted empty for the error state, then
// filled), check your answers, submit, confirmation. It returns what it
// saw, for service-specific assertions.
async function walkService(page, svc, { axe = true, snapshot = false, shots = false, label = svc.id, hooks = {}, lang } = {}, seen = newSeen()) {
  let step = 0;
  // Every page state is checked: in the page itself with JavaScript,
  // through a snapshot of its DOM without (axeSnapshot).
  const check = async (name) => {
    if (axe) await axeCheck(page, name);
    else if (snapshot) await axeSnapshot(page, name);
  };
  const shotName = (key) => `${svc.id === SHOT_SERVICE ? 'kita' : svc.id}-${String(++step).padStart(2, '0')}-${key}`;

  const logStart = (await server.log()).length;
  const startURL = `${server.baseURL}/${TENANT}/${svc.id}/`;
  const res = await goto(page, startURL);
  if (!res || res.status() !== 200) throw new Error(`start page ${startURL}: HTTP ${res?.status()}`);
  if (lang && !(await page.locator('html').getAttribute('lang'))?.startsWith(lang)) {
    // Switch language with the page's own link (remembered in a cookie).
    const sw = page.locator(`a[hreflang="${lang}"]`).first();
    if (!(await sw.count())) throw new Error(`no link to language ${lang} on ${startURL}`);
    await clickAndWait(page, sw);
    const got = await page.locator('html').getAttribute('lang');
    if (!got?.startsWith(lang)) throw new Error(`html lang="${got}" after switching to ${lang}`);
  }
  await check(`${label} start page`);
  if (shots) await screenshot(page, shotName('start'));

  // Start: a button in a form (creates the draft) or a link styled as one.
  let startCtl = (await primaryButton(page))?.loc;
  if (!startCtl) {
    const link = page.locator('main a').filter({ hasText: /starten|start|beginnen|jetzt/i }).first();
    if (await link.count()) startCtl = link;
  }
  if (!startCtl) throw new Error('no start button or link on the start page');
  await clickAndWait(page, startCtl);

  const visits = new Map();
  for (let guard = 0; guard < 25; guard++) {
    const kind = await classify(page, svc);
    const key = pageKey(page.url(), svc.id) || `page-${guard}`;
    if (kind === 'confirmation') {
      const text = await page.locator('main').first().innerText();
      seen.reference = text.match(svc.refRe)?.[0];
      seen.confirmationURL = page.url();
      await check(`${label} confirmation`);
      if (shots) await screenshot(page, shotName('bestaetigung'));
      return seen;
    }
    if (kind === 'review') {
      seen.review = { url: page.url(), text: await page.locator('main').first().innerText(),
        changeLinks: await page.locator('main a').filter({ hasText: /ändern|change/i }).count() };
      await check(`${label} check your answers`);
      if (shots) await screenshot(page, shotName('pruefen'));
      const b = await primaryButton(page);
      if (!b) throw new Error(`no submit button on the check-your-answers page ${page.url()}`);
      await clickAndWait(page, b.loc);
      continue;
    }
    if (kind !== 'form') {
      const main = (await page.locator('main').first().innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 300);
      throw new Error(`unexpected page ${page.url()} after ${seen.pages.join(' → ')}: "${main}"${await serverErrors(logStart)}`);
    }

    const n = (visits.get(key) || 0) + 1;
    visits.set(key, n);
    if (n > 6) throw new Error(`stuck on page ${key}: ${(await errorSummary(page))?.text || 'no error summary'}`);
    if (n === 1) {
      seen.pages.push(key);
      // Empty state.
      await check(`${label}/${key} empty`);
      if (shots) await screenshot(page, shotName(key));
      // Error state: submit the page as it is.
      const b = await primaryButton(page);
      if (!b) throw new Error(`no continue button on ${key}`);
      await clickAndWait(page, b.loc);
      const es = await errorSummary(page);
      if (pageKey(page.url(), svc.id) !== key && !es) {
        // Nothing required here; the walk simply goes on.
        console.log(`     note: ${label}/${key} accepted an empty submit`);
        continue;
      }
      if (!es) fail(`${label}/${key} error summary`, 'submitting the page empty showed no error summary');
      else {
        const bad = es.links.filter((l) => !l.target);
        if (es.links.length === 0) fail(`${label}/${key} error summary`, `no links to the fields:\n${es.text}`);
        else if (bad.length) fail(`${label}/${key} error summary`, `links without a target element: ${bad.map((l) => l.href).join(', ')}`);
        else pass(`${label}/${key} error summary`, `${es.links.length} links, each to an element`);
        // With JavaScript, focus moves to the summary so that screen
        // readers announce it; following a link focuses its field.
        if (axe) {
          const focused = await page.evaluate((sel) => !!document.activeElement?.closest(sel), errorSummarySel);
          const first = es.links[0];
          let linkFocus = true;
          if (first?.href.startsWith('#')) {
            await page.locator(errorSummarySel).first().locator('a[href]').first().click({ timeout: ACT_MS });
            linkFocus = await page.evaluate((id) => document.activeElement?.id === id, decodeURIComponent(first.href.slice(1)));
          }
          if (focused && linkFocus) pass(`${label}/${key} error summary focus`);
          else fail(`${label}/${key} error summary focus`, `${focused ? '' : 'the summary is not focused on load; '}${linkFocus ? '' : `"${first.text}" does not focus ${first.href}`}`);
        }
      }
      await check(`${label}/${key} errors`);
      if (shots) await screenshot(page, shotName(`${key}-fehler`));
      if (hooks.afterErrors) await hooks.afterErrors(page, key, seen);
    }
    const filled = await fillPage(page, svc.id);
    seen.filled.push(...filled.map((f) => ({ ...f, page: key, visit: n })));
    if (hooks.beforeContinue) await hooks.beforeContinue(page, key, seen);
    const b = await primaryButton(page);
    if (!b) throw new Error(`no continue button on ${key}`);
    await clickAndWait(page, b.loc);
  }
  throw new Error(`no confirmation after 25 pages: ${seen.pages.join(' → ')}`);
}

// ---------------------------------------------------------------- hundesteuer
function hundesteuerHooks(label) {
  return {
    // On the dogs page, add items until there are two, checking that each
    // "add" adds exactly one.
    async afterErrors(page, key, seen) {
      const countDogs = async () => (fillable(await controls(page)))
        .filter((c) => parseName(c.name).path === 'dogs.name').length;
      if (!(await countDogs()) && !(await addButton(page))) return; // not the dogs page
      for (let k = 0; k < 3 && (await countDogs()) < 2; k++) {
        const before = await countDogs();
        const add = await addButton(page);
        if (!add) { fail(`${label} add a dog`, `no "add" button on ${key} (${before} dogs)`); return; }
        await clickAndWait(page, add.loc);
        const after = await countDogs();
        if (after !== before + 1) { fail(`${label} add a dog`, `${before} dogs before "${add.text}", ${after} after`); return; }
        pass(`${label} add a dog`, `"${add.text}": ${before} → ${after} dogs`);
        seen.addedDog = true;
      }
    },
  };
}

async function hundesteuer(ctx, svc, { js }) {
  const label = js ? 'hundesteuer' : 'hundesteuer (no JS)';
  const page = await ctx.newPage();
  const seen = newSeen();
  try {
    await walkService(page, svc, { axe: js, snapshot: !js, label, hooks: hundesteuerHooks(label) }, seen);
    pass(`${label} walk`, seen.pages.join(' → '));
  } catch (e) {
    fail(`${label} walk`, `${e.message}\n${page.url()}`);
  }
  try {
    if (!seen.addedDog) fail(`${label} add a dog`, 'the walk added no dog');
    const cert = seen.filled.filter((f) => f.path === 'dogs.certificateNumber');
    if (cert.length === 1 && cert[0].index === 1) pass(`${label} permit field for the listed breed`, `shown for dog 2 only (page ${cert[0].page}, visit ${cert[0].visit})`);
    else fail(`${label} permit field for the listed breed`, `certificateNumber filled for items: ${JSON.stringify(cert.map((c) => c.index))} (want [1])`);
    if (seen.filled.some((f) => f.path === 'expertiseDate')) pass(`${label} competence page for the listed breed`, seen.pages.join(' → '));
    else fail(`${label} competence page for the listed breed`, `no expertiseDate field on ${seen.pages.join(' → ')}`);
    const names = ['Bello', 'Rex'].filter((x) => !seen.review?.text.includes(x));
    if (seen.review && !names.length && seen.review.changeLinks > 0) pass(`${label} check your answers`, `both dogs listed, ${seen.review.changeLinks} change links`);
    else fail(`${label} check your answers`, seen.review ? `missing ${names.join(', ') || '-'}; ${seen.review.changeLinks} change links` : 'no review page');
    if (seen.reference && svc.refRe.test(seen.reference)) pass(`${label} submitted, confirmation shows the reference`, seen.reference);
    else fail(`${label} submitted, confirmation shows the reference`, `no ${svc.refRe} on the confirmation page`);
    const guessed = seen.filled.filter((f) => f.guessed).map((f) => f.path);
    if (guessed.length) console.log(`     note: fields filled with type defaults: ${[...new Set(guessed)].join(', ')}`);
  } finally {
    await page.close().catch(() => {});
  }
}

// ---------------------------------------------------------------- same-page conditions
// samePageCondition walks to the hundesteuer dogs page and chooses a
// listed breed for the first dog, which reveals the permit number on the
// same page. With JavaScript the field appears at once (asked of the
// server's visibility endpoint) and is announced, and goes again for
// another breed; without JavaScript (app.js blocked, so that axe can still
// run) it appears when the page is sent, without errors and with a
// notice, and its error shows only when the page is sent again. Every
// state is checked with axe.
async function samePageCondition(ctx, svc, { js }) {
  const label = `hundesteuer same-page condition (${js ? 'JS' : 'no JS'})`;
  const page = await ctx.newPage();
  if (!js) await page.route('**/static/app.js*', (r) => r.abort());
  const sel = 'fieldset.conditional[data-path="dogs[0].certificateNumber"]';
  const isShown = () => page.locator(sel).evaluate((el) => !el.hidden && !el.disabled);
  try {
    await goto(page, `${server.baseURL}/${TENANT}/${svc.id}/`);
    await clickAndWait(page, (await primaryButton(page)).loc);
    for (let k = 0; k < 3 && pageKey(page.url(), svc.id) !== 'hunde'; k++) {
      await fillPage(page, svc.id);
      await clickAndWait(page, (await primaryButton(page)).loc);
    }
    if (pageKey(page.url(), svc.id) !== 'hunde') throw new Error(`not on the dogs page: ${page.url()}`);
    if (await page.locator(sel).count() !== 1) throw new Error(`no ${sel} on the dogs page`);
    const breed = page.locator('select[name="dogs[0].breed"]');
    // While no breed is chosen the rule cannot tell and the field is
    // shown; a breed that is not listed hides it.
    if (js) {
      await breed.selectOption('dackel');
      await page.waitForSelector(`${sel}[hidden]`, { state: 'attached', timeout: ACT_MS });
    } else {
      await fillPage(page, svc.id); // a labrador
      await clickAndWait(page, (await primaryButton(page)).loc);
      await clickAndWait(page, page.locator('a.back-link'));
      if (pageKey(page.url(), svc.id) !== 'hunde') throw new Error(`back link did not lead to the dogs page: ${page.url()}`);
    }
    if (await isShown()) throw new Error('the permit field is shown for a breed that is not listed');
    await axeCheck(page, `${label} hidden`);
    await breed.selectOption('rottweiler');
    if (js) {
      await page.waitForSelector(`${sel}:not([hidden])`, { timeout: ACT_MS });
      const live = await page.locator('[data-live]').first();
      await page.waitForFunction(() => /eingeblendet/.test(document.querySelector('[data-live]')?.textContent || ''), null, { timeout: ACT_MS });
      const shown = await page.locator('input[name="_shown"]').inputValue();
      if (await isShown() && shown.split(' ').includes('dogs[0].certificateNumber')) pass(`${label} revealed at once`, `announced: "${(await live.textContent()).trim()}"`);
      else fail(`${label} revealed at once`, `enabled: ${await isShown()}, _shown: ${shown}`);
      await axeCheck(page, `${label} revealed`);
      await breed.selectOption('dackel');
      await page.waitForSelector(`${sel}[hidden]`, { state: 'attached', timeout: ACT_MS });
      if (!(await isShown())) pass(`${label} hidden again for another breed`);
      else fail(`${label} hidden again for another breed`, 'still shown');
      await axeCheck(page, `${label} hidden again`);
      await breed.selectOption('rottweiler');
      await page.waitForSelector(`${sel}:not([hidden])`, { timeout: ACT_MS });
      // Sent with the permit number empty: its error shows at once (the
      // citizen saw the field).
      await fillPage(page, svc.id);
      await page.locator('input[name="dogs[0].certificateNumber"]').fill('');
      await clickAndWait(page, (await primaryButton(page)).loc);
      const es = await errorSummary(page);
      if (es?.links.some((l) => l.href === '#f-dogs-0-certificateNumber' && l.target)) pass(`${label} error of the revealed field`, es.text.replace(/\s+/g, ' '));
      else fail(`${label} error of the revealed field`, es ? es.text : 'no error summary');
      await axeCheck(page, `${label} errors`);
    } else {
      await fillPage(page, svc.id);
      await clickAndWait(page, (await primaryButton(page)).loc);
      const es = await errorSummary(page);
      const notice = (await page.locator('.notice').count()) ? (await page.locator('.notice').innerText()).trim() : '';
      if (pageKey(page.url(), svc.id) === 'hunde' && !es && (await isShown()) && notice) pass(`${label} revealed on sending, without errors`, notice);
      else fail(`${label} revealed on sending, without errors`, `${page.url()}; shown: ${await isShown()}; summary: ${es?.text || '-'}; notice: ${notice || '-'}`);
      await axeCheck(page, `${label} revealed`);
      await clickAndWait(page, (await primaryButton(page)).loc);
      const es2 = await errorSummary(page);
      if (es2?.links.some((l) => l.href === '#f-dogs-0-certificateNumber' && l.target)) pass(`${label} error once the field was seen`, es2.text.replace(/\s+/g, ' '));
      else fail(`${label} error once the field was seen`, es2 ? es2.text : 'no error summary');
      await axeCheck(page, `${label} errors`);
    }
    await fillPage(page, svc.id);
    await clickAndWait(page, (await primaryButton(page)).loc);
    const next = pageKey(page.url(), svc.id);
    if (next === 'sachkunde') pass(`${label} page saved with the permit number`, `→ ${next}`);
    else fail(`${label} page saved with the permit number`, `landed on ${page.url()}: ${(await errorSummary(page))?.text || ''}`);
  } catch (e) {
    fail(`${label}`, `${e.message}\n${page.url()}`);
  } finally {
    await page.close().catch(() => {});
  }
}

// Script errors and CSP reports of the pages themselves; what the
// injected axe-core causes (after toolsIn is set) is not counted.
const pageErrors = [];
function watchPage(ctx) {
  ctx.on('page', (p) => {
    p.on('framenavigated', (f) => { if (f === p.mainFrame()) toolsIn.delete(p); });
    p.on('pageerror', (e) => { if (!toolsIn.has(p)) pageErrors.push(`${p.url()}: ${e.message}`); });
    p.on('console', (m) => {
      if (!toolsIn.has(p) && m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${p.url()}: ${m.text()}`);
    });
  });
}

// ---------------------------------------------------------------- main
async function main() {
  const t0 = Date.now();
  const services = await exampleServices();
  if (!services.length) throw new Error(`no example services under ${repoRoot}/examples`);

  let bin = env.AMTSFORM_BIN;
  if (!bin) {
    const tb = Date.now();
    const dir = join(here, '.build');
    await mkdir(dir, { recursive: true });
    bin = await build(dir);
    console.log(`     built ${bin} in ${Date.now() - tb} ms`);
  }
  startWatchdog();
  server = await start({ bin });
  pass('server starts and is ready', `${server.baseURL} in ${Date.now() - t0} ms`);

  if (SCREENSHOTS) {
    await mkdir(shotDir, { recursive: true });
    for (const f of await readdir(shotDir)) if (f.startsWith('kita-') && f.endsWith('.png')) await rm(join(shotDir, f));
  }

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE', timezoneId: 'Europe/Berlin', reducedMotion: 'reduce' });
  ctx.setDefaultTimeout(ACT_MS);
  ctx.setDefaultNavigationTimeout(NAV_MS);
  watchPage(ctx);

  // The service list.
  {
    const page = await ctx.newPage();
    try {
      const res = await goto(page, `${server.baseURL}/`);
      const hrefs = await page.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      const missing = services.filter((s) => !hrefs.some((h) => h.includes(`/${s.id}`)));
      if (res?.status() === 200 && !missing.length) pass('service list links every example', page.url());
      else fail('service list links every example', `HTTP ${res?.status()} at ${page.url()}; missing: ${missing.map((s) => s.id).join(', ')}`);
      await axeCheck(page, 'service list');
      // The English version of the list.
      const en = page.locator('a[hreflang="en"], a[lang="en"], a[href*="lang=en"], button[value="en"]').first();
      if (await en.count()) {
        await clickAndWait(page, en);
        const lang = await page.locator('html').getAttribute('lang');
        if (lang?.startsWith('en')) pass('language switch to English', page.url());
        else fail('language switch to English', `html lang="${lang}" after the switch`);
        await axeCheck(page, 'service list (English)');
        const de = page.locator('a[hreflang="de"], a[lang="de"], a[href*="lang=de"], button[value="de"]').first();
        if (await de.count()) await clickAndWait(page, de);
      } else fail('language switch to English', 'no link or button to English on the service list');
      await goto(page, `${server.baseURL}/${TENANT}/gibt-es-nicht/`);
      await axeCheck(page, 'not-found page');
    } catch (e) {
      fail('service list', `${e.message}\n${page.url()}`);
    } finally {
      await page.close();
    }
  }

  // Every example, with axe on every page; Kita with screenshots.
  for (const svc of services) {
    if (svc.id === 'hundesteuer') {
      await hundesteuer(ctx, svc, { js: true });
      await samePageCondition(ctx, svc, { js: true });
      await samePageCondition(ctx, svc, { js: false });
      continue;
    }
    const page = await ctx.newPage();
    const tw = Date.now();
    try {
      const hooks = svc.id === 'hundesteuer' ? hundesteuerHooks(svc.id) : {};
      const seen = await walkService(page, svc, { shots: svc.id === SHOT_SERVICE, hooks });
      if (seen.reference) pass(`${svc.id} walk`, `${seen.pages.join(' → ')} → ${seen.reference} (${Date.now() - tw} ms)`);
      else fail(`${svc.id} walk`, 'no reference on the confirmation page');
    } catch (e) {
      fail(`${svc.id} walk`, `${e.message}\n${page.url()}`);
    } finally {
      await page.close();
    }
  }

  // Every example again in English (own context: the choice is a cookie).
  const enCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'Europe/Berlin', reducedMotion: 'reduce' });
  enCtx.setDefaultTimeout(ACT_MS);
  enCtx.setDefaultNavigationTimeout(NAV_MS);
  watchPage(enCtx);
  for (const svc of services) {
    const page = await enCtx.newPage();
    const label = `${svc.id} (en)`;
    const seen = newSeen();
    try {
      const hooks = svc.id === 'hundesteuer' ? hundesteuerHooks(label) : {};
      await walkService(page, svc, { label, hooks, lang: 'en' }, seen);
      if (seen.reference) pass(`${label} walk`, `${seen.pages.join(' → ')} → ${seen.reference}`);
      else fail(`${label} walk`, 'no reference on the confirmation page');
    } catch (e) {
      fail(`${label} walk`, `${e.message}\n${page.url()}`);
    } finally {
      await page.close();
    }
  }
  await enCtx.close();

  // The walks again without JavaScript: nothing may depend on it.
  const hund = services.find((s) => s.id === 'hundesteuer');
  if (!hund) fail('hundesteuer', 'no hundesteuer example');
  else {
    const noJS = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE', javaScriptEnabled: false });
    noJS.setDefaultTimeout(ACT_MS);
    noJS.setDefaultNavigationTimeout(NAV_MS);
    // Where the no-JS page states are axe-checked (see axeSnapshot).
    snapCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE', reducedMotion: 'reduce' });
    snapCtx.setDefaultTimeout(ACT_MS);
    snapCtx.setDefaultNavigationTimeout(NAV_MS);
    await hundesteuer(noJS, hund, { js: false });
    // Every other example too: a citizen without JavaScript submits
    // (multiple choices, uploads, code lists included).
    for (const svc of services.filter((x) => x.id !== 'hundesteuer')) {
      const page = await noJS.newPage();
      const label = `${svc.id} (no JS)`;
      try {
        const seen = await walkService(page, svc, { axe: false, snapshot: true, label });
        if (seen.reference) pass(`${label} walk`, `${seen.pages.join(' → ')} → ${seen.reference}`);
        else fail(`${label} walk`, 'no reference on the confirmation page');
      } catch (e) {
        fail(`${label} walk`, `${e.message}\n${page.url()}`);
      } finally {
        await page.close();
      }
    }
    await noJS.close();
    await snapCtx.close();
  }

  if (reflowProblems.length) fail('reflow at 320 px (WCAG 1.4.10)', reflowProblems.join('\n'));
  else pass('reflow at 320 px (WCAG 1.4.10)', `${pagesChecked} page states, none scrolls sideways`);
  if (pageErrors.length) fail('no script errors or CSP violations', [...new Set(pageErrors)].join('\n'));
  else pass('no script errors or CSP violations');
  console.log(`     axe: ${pagesChecked} page states checked with ${AXE_TAGS.join(', ')}; ${violationsTotal} violating elements; injected by ${axeMethod}`);
  if (SCREENSHOTS) console.log(`     screenshots: ${shots.length} files in ${shotDir}`);
  console.log(`     time: ${Date.now() - t0} ms`);
}

main().then(() => finish(), (e) => finish({ name: 'run', detail: e.stack || String(e) }));
