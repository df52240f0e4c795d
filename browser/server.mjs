// Builds the amtsform binary, starts `amtsform serve` on a free loopback
// port with a fresh data directory, waits for /readyz, and stops it with
// SIGTERM (SIGKILL after a grace period) whatever happens.
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// repoRoot is the source tree built and served (its examples/ are the
// specs); AMTSFORM_SRC overrides it, e.g. to test an exported commit.
export const repoRoot = process.env.AMTSFORM_SRC
  ? resolve(process.env.AMTSFORM_SRC)
  : resolve(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, opts, timeoutMs) {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { ...opts, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n${stdout}${stderr}`;
        fail(err);
      } else ok(stdout);
    });
  });
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// delay is a sleep that does not keep the process alive (for races).
const delay = (ms) => new Promise((r) => setTimeout(r, ms).unref());

// Started servers, stopped on any exit path.
const running = new Set();

function killAllSync() {
  for (const s of running) {
    try { process.kill(s.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAllSync);

export class Server {
  constructor({ tmp, bin, dataDir, logPath, child, baseURL }) {
    Object.assign(this, { tmp, bin, dataDir, logPath, child, baseURL });
    this.pid = child.pid;
    this.exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
    this.exitInfo = null;
    this.exited.then((info) => { this.exitInfo = info; running.delete(this); });
  }

  async log() {
    if (this.finalLog !== undefined) return this.finalLog;
    try { return await readFile(this.logPath, 'utf8'); } catch { return ''; }
  }

  // stop sends SIGTERM and waits for a graceful exit; after graceMs it
  // sends SIGKILL. It returns how the process ended.
  async stop(graceMs = 20000) {
    if (!this.exitInfo) {
      try { this.child.kill('SIGTERM'); } catch { /* gone */ }
      const t = await Promise.race([this.exited, delay(graceMs).then(() => null)]);
      if (!t) {
        try { this.child.kill('SIGKILL'); } catch { /* gone */ }
        await Promise.race([this.exited, delay(5000)]);
        this.killed = true;
      }
    }
    this.finalLog = await this.log();
    await rm(this.tmp, { recursive: true, force: true }).catch(() => {});
    return { ...this.exitInfo, killed: !!this.killed };
  }
}

// build compiles the binary into dir (once per run).
export async function build(dir) {
  const bin = join(dir, 'amtsform');
  await run('go', ['build', '-o', bin, './cmd/amtsform'], { cwd: repoRoot }, 5 * 60000);
  return bin;
}

// start builds (unless bin is given) and starts the server; it resolves
// once /readyz answers 200, or rejects (after stopping the process) when
// it does not within readyMs.
export async function start({ bin, readyMs = 90000 } = {}) {
  const tmp = await mkdtemp(join(tmpdir(), 'amtsform-browser-'));
  if (!bin) bin = await build(tmp);
  const dataDir = join(tmp, 'data');
  const logPath = join(tmp, 'server.log');
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const baseURL = `http://127.0.0.1:${port}`;
    const fd = openSync(logPath, 'a');
    const child = spawn(bin, ['serve', '--config', 'examples/installation', '--data-dir', dataDir, '--addr', `127.0.0.1:${port}`], {
      cwd: repoRoot,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, AMTSFORM_SECURE_COOKIES: 'false' },
    });
    closeSync(fd);
    const srv = new Server({ tmp, bin, dataDir, logPath, child, baseURL });
    running.add(srv);
    const deadline = Date.now() + readyMs;
    while (Date.now() < deadline && !srv.exitInfo) {
      try {
        const res = await fetch(`${baseURL}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return srv;
      } catch { /* not listening yet */ }
      await sleep(200);
    }
    lastErr = new Error(srv.exitInfo
      ? `amtsform serve exited early (${JSON.stringify(srv.exitInfo)})`
      : `amtsform serve not ready after ${readyMs} ms`);
    const log = await srv.log();
    // The port may have been taken between probing and listening: retry.
    if (srv.exitInfo && /address already in use/i.test(log)) {
      await rm(dataDir, { recursive: true, force: true });
      continue;
    }
    lastErr.message += `\n--- server log ---\n${log.slice(-4000)}`;
    await srv.stop(5000);
    throw lastErr;
  }
  throw lastErr;
}
