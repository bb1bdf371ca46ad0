// Shared helpers for the browser scripts run by test/browser: launching
// Debian's Chromium through puppeteer-core with fake media devices, opening
// the demo page, reading its test hook (window.rtcmeshDemo) and waiting
// with deadlines. Every wait has a timeout and names what it waited for.

import puppeteer from "puppeteer-core";
import { createInterface } from "node:readline";
import { inspect } from "node:util";

/** Prints a timestamped diagnostic line (stdout, shown by the Go test). */
export function log(...args) {
  const parts = args.map((a) => (typeof a === "string" ? a : inspect(a, { depth: 6, breakLength: Infinity })));
  process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${parts.join(" ")}\n`);
}

/** Parses --key=value flags. */
export function flags(argv = process.argv.slice(2)) {
  const out = {};
  for (const a of argv) {
    const m = /^--([^=]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(a)} (want --key=value)`);
    out[m[1]] = m[2];
  }
  return out;
}

/** Throws with msg unless cond holds. */
export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

/**
 * Polls fn (async; returns a truthy value when done) every intervalMs and
 * returns that value, or throws after ms naming what, with detail() (if
 * given) describing the last state seen.
 */
export async function eventually(fn, ms, what, { intervalMs = 250, detail } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) {
      const extra = detail ? `\nlast state: ${inspect(await detail(), { depth: 8, breakLength: 120 })}` : "";
      throw new Error(`timed out after ${ms} ms waiting for ${what}${extra}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Lines the Go test writes to our stdin, read in order by askGo.
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/**
 * Asks the Go test to do something to the servers (e.g. restart a
 * gateway): prints "GO <request>" and waits up to ms for the test to answer
 * "DONE <request>" on stdin.
 */
export async function askGo(request, ms) {
  log(`GO ${request}`);
  const answer = (async () => {
    for (;;) {
      const { value, done } = await stdinLines.next();
      if (done) throw new Error(`stdin closed while waiting for the Go test to ${request}`);
      if (value.trim() === `DONE ${request}`) return;
      log(`ignoring unexpected stdin line ${JSON.stringify(value)}`);
    }
  })();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the Go test did not ${request} within ${ms} ms`)), ms);
  });
  return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Launches Chromium (path in $CHROMIUM; the Go test finds it) headless with
 * a fake camera and microphone that need no permission prompt.
 */
export async function launch() {
  const executablePath = process.env.CHROMIUM;
  check(executablePath, "CHROMIUM is not set: the Go test passes the Chromium path");
  return puppeteer.launch({
    executablePath,
    headless: true, // puppeteer turns this into --headless=new
    args: [
      "--no-sandbox",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      "--autoplay-policy=no-user-gesture-required",
    ],
    protocolTimeout: 30000,
  });
}

/**
 * Runs in the page before its scripts (evaluateOnNewDocument): records
 * every RTCPeerConnection the demo creates in window.__pcProbe.pcs and
 * counts, in .yields, the offers applied over an outstanding local offer
 * (the polite side of a collision yielding). The demo itself is untouched.
 */
function instrumentPeerConnections() {
  const Native = window.RTCPeerConnection;
  const probe = { pcs: [], yields: 0 };
  window.__pcProbe = probe;
  const pendingLocal = new WeakMap(); // pc -> setLocalDescription calls in flight
  const sld = Native.prototype.setLocalDescription;
  const srd = Native.prototype.setRemoteDescription;
  Native.prototype.setLocalDescription = function (...args) {
    pendingLocal.set(this, (pendingLocal.get(this) || 0) + 1);
    return sld.apply(this, args).finally(() => pendingLocal.set(this, pendingLocal.get(this) - 1));
  };
  Native.prototype.setRemoteDescription = function (d, ...rest) {
    if (d && d.type === "offer" && (this.signalingState === "have-local-offer" || pendingLocal.get(this) > 0)) probe.yields++;
    return srd.call(this, d, ...rest);
  };
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      probe.pcs.push(this);
    }
  };
}

/**
 * Opens the demo page at baseURL for room and name in a new tab of browser,
 * forwarding the page's console warnings and errors to our log.
 */
export async function openDemo(browser, label, baseURL, room, name) {
  const page = await browser.newPage();
  await page.evaluateOnNewDocument(instrumentPeerConnections);
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn" || m.type() === "warning") log(`${label} console.${m.type()}:`, m.text());
  });
  page.on("pageerror", (e) => log(`${label} page error:`, e.message));
  const url = `${baseURL}/?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`;
  const resp = await page.goto(url, { waitUntil: "load", timeout: 30000 });
  check(resp && resp.ok(), `${label}: GET ${url}: status ${resp && resp.status()}`);
  await page.waitForFunction(() => window.rtcmeshDemo !== undefined, { timeout: 10000 });
  return { page, label, name, url };
}

/** The demo's state (window.rtcmeshDemo.state()) in tab. */
export function demoState(tab) {
  return tab.page.evaluate(() => window.rtcmeshDemo.state());
}

/** The states of all tabs, keyed by label (for failure messages). */
export async function allStates(tabs) {
  const out = {};
  for (const t of tabs) {
    try {
      out[t.label] = await demoState(t);
    } catch (e) {
      out[t.label] = `unavailable: ${e.message}`;
    }
  }
  return out;
}

/**
 * Runs body under a global deadline, closes the browser, prints PASS or
 * FAIL and exits 0 or 1.
 */
// waitJoined waits until every tab has joined room and records its socket
// id on the tab.
export async function waitJoined(tabs, room) {
  const detail = () => allStates(tabs);
  for (const t of tabs) {
    const s = await eventually(async () => {
      const s = await demoState(t);
      return s.joined && s.sid ? s : null;
    }, 20000, `${t.label} to join ${room}`, { detail });
    t.sid = s.sid;
    log(`${t.label} joined as ${t.sid}`);
  }
}

export function run(name, body, timeoutMs) {
  const started = Date.now();
  let browser = null;
  const finish = async (code, msg) => {
    if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    if (browser && browser.process() && browser.process().exitCode === null) browser.process().kill("SIGKILL");
    log(msg, `(${Date.now() - started} ms)`);
    process.stdout.write("", () => process.exit(code));
  };
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  const work = (async () => {
    browser = await launch();
    await body(browser);
  })();
  Promise.race([work, deadline]).then(
    () => finish(0, `PASS: ${name}`),
    (e) => finish(1, `FAIL: ${name}: ${e && e.stack ? e.stack : e}`),
  ).finally(() => clearTimeout(timer));
}
