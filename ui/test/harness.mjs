// What the browser tests run against: the real stormscope binary, real memcached and s3s-fs
// on free loopback ports, and Debian's chromium driven by playwright-core. Every process is
// started here and stopped when its test ends.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, "target");
export const screenshots = join(target, "ui-screenshots");
export const fixtures = join(repo, "testdata/scope-probe");

export function stormscopeBin() {
  const bin = process.env.STORMSCOPE_BIN ?? join(target, "debug/stormscope");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`cargo build --bin stormscope\` (scripts/test.sh does)`);
  return bin;
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; returns the value. */
export async function eventually(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(200);
  }
}

const logDir = mkdtempSync(join(tmpdir(), "stormscope-ui-test-"));

/** A child process whose output goes to a log file (shown when a test fails). */
export class Proc {
  constructor(name, cmd, args, env = {}) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.env = env;
    this.log = join(logDir, `${name}.log`);
    this.start();
  }

  start() {
    const out = createWriteStream(this.log, { flags: "a" });
    this.child = spawn(this.cmd, this.args, { env: { ...process.env, ...this.env }, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout.pipe(out);
    this.child.stderr.pipe(out);
    this.exited = new Promise((r) => this.child.once("exit", r));
  }

  stopSignal(sig) {
    this.child.kill(sig);
  }

  async kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGCONT");
      this.child.kill("SIGKILL");
    }
    await this.exited;
  }

  async restart() {
    await this.kill();
    this.start();
  }

  tail(lines = 30) {
    try {
      return readFileSync(this.log, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }
}

export async function waitHttp(url, timeoutMs = 20_000) {
  await eventually(async () => (await fetch(url)).status < 500, timeoutMs, url);
}

export async function waitTcp(port, timeoutMs = 10_000) {
  const { connect } = await import("node:net");
  await eventually(
    () =>
      new Promise((ok) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => (s.end(), ok(true)));
        s.once("error", () => ok(false));
      }),
    timeoutMs,
    `port ${port}`,
  );
}

export async function memcached() {
  const port = await freePort();
  const args = ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64"];
  if (process.getuid?.() === 0) args.push("-u", "root");
  const proc = new Proc(`memcached-${port}`, "/usr/bin/memcached", args);
  await waitTcp(port);
  proc.addr = `127.0.0.1:${port}`;
  return proc;
}

export const S3_KEYS = { access: "stormscope-test", secret: "stormscope-test-secret" };

export async function s3() {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), "stormscope-ui-s3-"));
  mkdirSync(join(root, "reports"));
  const bin = existsSync(join(process.env.HOME ?? "/root", ".cargo/bin/s3s-fs")) ? join(process.env.HOME ?? "/root", ".cargo/bin/s3s-fs") : "s3s-fs";
  const proc = new Proc(`s3s-fs-${port}`, bin, ["--host", "127.0.0.1", "--port", String(port), "--access-key", S3_KEYS.access, "--secret-key", S3_KEYS.secret, root]);
  await waitTcp(port);
  proc.env_ = {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: S3_KEYS.access,
    AWS_SECRET_ACCESS_KEY: S3_KEYS.secret,
    AWS_REGION: "us-east-1",
    AWS_ALLOW_HTTP: "true",
  };
  proc.root = root;
  return proc;
}

/** `stormscope <args...>` listening on a free port; resolves once `/healthz` answers. */
export async function stormscope(name, args, env = {}) {
  const port = await freePort();
  const proc = new Proc(`${name}-${port}`, stormscopeBin(), [...args, "--listen", `127.0.0.1:${port}`], { RUST_LOG: "warn", ...env });
  proc.url = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(`${proc.url}/healthz`);
  } catch (e) {
    throw new Error(`${name} did not start: ${e.message}\n${proc.tail()}`);
  }
  return proc;
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      // Containers often have a small /dev/shm, where large pages crash the renderer.
      "--disable-dev-shm-usage",
      // WebGL through the software renderer: a CI machine has no GPU.
      "--enable-unsafe-swiftshader",
      "--use-angle=swiftshader",
    ],
  });
}

/** A page at 1280x800 that fails the test on script errors. */
export async function newPage(b, colorScheme = "light") {
  const context = await b.newContext({ viewport: { width: 1280, height: 800 }, colorScheme });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  return page;
}

/** Posts one probe body as a Scope probe sends it. */
export async function postReport(url, body, { probe = "ui-test-probe", tenant, contentType = "application/msgpack", gzip = true } = {}) {
  const headers = { "Content-Type": contentType, "X-Scope-Probe-ID": probe };
  if (gzip) headers["Content-Encoding"] = "gzip";
  if (tenant) headers["X-Scope-OrgID"] = tenant;
  const response = await fetch(`${url}/api/report`, { method: "POST", headers, body });
  if (!response.ok && response.status !== 503) throw new Error(`POST /api/report: ${response.status} ${await response.text()}`);
  return response;
}

export function fixture(name) {
  return readFileSync(join(fixtures, name));
}

/** The renderer's own counts, through the UI's read-only debug object. */
export function debug(page, what, ...args) {
  return page.evaluate(([w, a]) => window.__stormscope[w](...a), [what, args]);
}

/**
 * How many pixels of the element differ clearly from its background (its most common colour):
 * what a person would see drawn there. A graph that lost its drawing shows only its controls.
 */
export async function drawnPixels(page, selector) {
  // Inset by 2 px: a fractional edge would take in a neighbour's border.
  const box = await page.locator(selector).boundingBox();
  const clip = { x: box.x + 2, y: box.y + 2, width: box.width - 4, height: box.height - 4 };
  const { data } = PNG.sync.read(await page.screenshot({ clip }));
  const frequency = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const rgb = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    frequency.set(rgb, (frequency.get(rgb) ?? 0) + 1);
  }
  const background = [...frequency].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  const [r0, g0, b0] = [background >> 16, (background >> 8) & 255, background & 255];
  let drawn = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - r0) + Math.abs(data[i + 1] - g0) + Math.abs(data[i + 2] - b0) > 48) drawn++;
  }
  return drawn;
}
