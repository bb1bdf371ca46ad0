// Shared helpers for the socket.io-client scripts run by test/sioclient.
//
// Every wait goes through waitFor/withTimeout, so a broken server makes a
// script fail with a message naming what it was waiting for, never hang.

import { monitorEventLoopDelay } from "node:perf_hooks";
import { isDeepStrictEqual, inspect } from "node:util";

/** Prints a diagnostic line (stdout, collected by the Go test). */
export function log(...args) {
  const parts = args.map((a) => (typeof a === "string" ? a : inspect(a, { depth: 6, breakLength: Infinity })));
  process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${parts.join(" ")}\n`);
}

/**
 * Parses argv: positional arguments and --key=value flags.
 * Returns { pos: [...], flags: {key: value} }.
 */
export function parseArgs(argv = process.argv.slice(2)) {
  const pos = [];
  const flags = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) flags[m[1]] = m[2] ?? "true";
    else pos.push(a);
  }
  return { pos, flags };
}

/**
 * Maps a transport mode to client options: "default" leaves the stock
 * defaults (polling, then upgrade); "polling" and "websocket" pin one.
 */
export function transportOptions(mode) {
  switch (mode) {
    case "default":
      return {};
    case "polling":
      return { transports: ["polling"] };
    case "websocket":
      return { transports: ["websocket"] };
    default:
      throw new Error(`unknown transport mode ${JSON.stringify(mode)} (want default, polling or websocket)`);
  }
}

/** Rejects with a clear message when p does not settle within ms. */
export function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the arguments of the next `event` on emitter, or rejects
 * after ms. Works for socket.io Sockets, Managers and engine.io Sockets.
 */
export function waitFor(emitter, event, ms, what = `"${event}"`) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, what).finally(() => emitter.off(event, handler));
}

/** Waits for `connect` on socket, failing fast on `connect_error`. */
export function waitConnect(socket, ms, what = `connect of ${socket.nsp}`) {
  if (socket.connected) return Promise.resolve();
  let onConnect, onError;
  const p = new Promise((resolve, reject) => {
    onConnect = () => resolve();
    onError = (err) => reject(new Error(`${what}: connect_error: ${err && err.message} ${inspect(err && err.data)}`));
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
  });
  return withTimeout(p, ms, what).finally(() => {
    socket.off("connect", onConnect);
    socket.off("connect_error", onError);
  });
}

/**
 * Emits event with args and resolves with ALL the ack arguments (unlike
 * emitWithAck, which keeps only the first).
 */
export function emitAckAll(socket, ms, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ms).emit(event, ...args, (err, ...ackArgs) => {
      if (err) reject(new Error(`no ack for "${event}" within ${ms} ms: ${err.message}`));
      else resolve(ackArgs);
    });
  });
}

/** Returns the bytes of a Buffer, ArrayBuffer or typed array, else null. */
export function bytesOf(v) {
  if (Buffer.isBuffer(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

/** Whether v is binary as the client decodes it (Buffer or ArrayBuffer). */
export function isBinary(v) {
  return bytesOf(v) !== null;
}

/**
 * Deep-copies v with every binary value replaced by {$bin: hex}, so binary
 * and JSON values can be compared with one deep-equality check and a
 * binary value never equals its JSON placeholder.
 */
export function normalize(v) {
  const b = bytesOf(v);
  if (b) return { $bin: Buffer.from(b).toString("hex") };
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = normalize(v[k]);
    return o;
  }
  return v;
}

/** Throws unless actual deep-equals expected, binary compared by bytes. */
export function assertDeepEqual(actual, expected, what) {
  const a = normalize(actual);
  const e = normalize(expected);
  if (!isDeepStrictEqual(a, e)) {
    throw new Error(`${what}: got ${inspect(a, { depth: 8 })}, want ${inspect(e, { depth: 8 })}`);
  }
}

/** Throws with msg unless cond holds. */
export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

/**
 * Polls fn (async, returns truthy when done) every intervalMs until it
 * holds, failing after ms with what. Returns fn's last value.
 */
export async function eventually(fn, ms, what, intervalMs = 20) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Runs the async body under a global deadline and exits: 0 and "PASS" on
 * success, 1 and "FAIL: <message>" otherwise. cleanup (optional) runs
 * before exiting either way.
 */
export function run(name, body, { timeoutMs = Number(process.env.SIO_SCRIPT_TIMEOUT_MS) || 30000, cleanup } = {}) {
  const started = Date.now();
  // A starved event loop (a loaded machine) delays timers and I/O alike;
  // its worst delay is printed so failures can be told apart from that.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let finished = false;
  const finish = (code, msg) => {
    if (finished) return;
    finished = true;
    log(`event loop delay: max ${(lag.max / 1e6).toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms`);
    try {
      cleanup && cleanup();
    } catch (e) {
      log("cleanup error:", e && e.message);
    }
    log(msg, `(${Date.now() - started} ms)`);
    process.exitCode = code;
    // Exit explicitly: open sockets must not keep a finished script alive.
    process.stdout.write("", () => process.exit(code));
  };
  process.on("unhandledRejection", (e) => finish(1, `FAIL: ${name}: unhandled rejection: ${e && e.stack ? e.stack : e}`));
  process.on("uncaughtException", (e) => finish(1, `FAIL: ${name}: uncaught exception: ${e && e.stack ? e.stack : e}`));
  withTimeout(Promise.resolve().then(body), timeoutMs, `${name} to finish`).then(
    () => finish(0, `PASS: ${name}`),
    (e) => finish(1, `FAIL: ${name}: ${e && e.stack ? e.stack : e}`),
  );
}
