// Drives the stock socket.io-client against the in-process servers that
// test/sioclient/features_test.go configures: one server per scenario, all
// scenarios of one transport mode in one Node process (Node's start-up
// dominates the run time on a loaded machine).
//
// usage: node sio_features.mjs [--transport=default|polling|websocket] NAME=URL...
//
// Each scenario prints "=== scenario NAME", its "RESULT NAME.key=value"
// lines (parsed by the Go test, which checks the server's side) and
// "SCENARIO PASS NAME" or "SCENARIO FAIL NAME: reason". A failed scenario
// does not stop the next; the exit status is 0 only if all passed.

import { io, Manager } from "socket.io-client";
import {
  assertDeepEqual,
  check,
  emitAckAll,
  isBinary,
  log,
  parseArgs,
  run,
  transportOptions,
  waitConnect,
  waitFor,
  withTimeout,
} from "./sio_lib.mjs";

const { pos, flags } = parseArgs();
const mode = flags.transport || "default";
const T = 10000; // per-step timeout (generous: the machine may be loaded)
const scenarioTimeout = 45000;

const scenarios = {
  namespaces,
  acks,
  binary,
  auth,
  ordering,
  "server-disconnect": serverDisconnect,
  "server-close": serverClose,
  "server-close-upgrading": serverCloseUpgrading,
  "client-disconnect": clientDisconnect,
};

const plan = pos.map((a) => {
  const i = a.indexOf("=");
  return { name: a.slice(0, i), url: a.slice(i + 1) };
});
if (plan.length === 0 || plan.some((p) => !scenarios[p.name] || !/^https?:\/\//.test(p.url))) {
  console.error(`usage: node sio_features.mjs [--transport=default|polling|websocket] NAME=URL... (NAME: ${Object.keys(scenarios).join("|")})`);
  process.exit(2);
}

const opts = transportOptions(mode);
let url; // the current scenario's server
let current; // the current scenario's name
let opened = []; // the current scenario's sockets

function result(key, value) {
  process.stdout.write(`RESULT ${current}.${key}=${value}\n`);
}

/** A new connection (own Manager), tracked for cleanup. */
function connect(nsp = "/", extra = {}) {
  const s = io(url + (nsp === "/" ? "" : nsp), { ...opts, forceNew: true, ...extra });
  opened.push(s);
  return s;
}

/** Fails the step when s disconnects before the returned disarm is called. */
function noDisconnect(s, what) {
  let armed = true;
  let fail;
  const p = new Promise((_, reject) => (fail = reject));
  p.catch(() => {});
  s.on("disconnect", (reason) => armed && fail(new Error(`${what}: unexpected disconnect: ${reason}`)));
  return { guard: (q) => Promise.race([q, p]), disarm: () => (armed = false) };
}

function closeAll() {
  for (const s of opened) s.disconnect();
  opened = [];
}

run(
  `features ${mode}`,
  async () => {
    const failed = [];
    for (const p of plan) {
      url = p.url;
      current = p.name;
      process.stdout.write(`=== scenario ${p.name}\n`);
      try {
        await withTimeout(scenarios[p.name](), scenarioTimeout, `scenario ${p.name}`);
        process.stdout.write(`SCENARIO PASS ${p.name}\n`);
      } catch (e) {
        failed.push(p.name);
        process.stdout.write(`SCENARIO FAIL ${p.name}: ${e && e.stack ? e.stack : e}\n`);
      } finally {
        closeAll();
      }
    }
    check(failed.length === 0, `failed scenarios: ${failed.join(", ")}`);
  },
  { timeoutMs: Number(process.env.SIO_SCRIPT_TIMEOUT_MS) || 150000, cleanup: closeAll },
);

// "/" and "/custom" from one Manager share one engine connection; an
// unknown namespace is refused with "Invalid namespace" and the shared
// connection survives the refusal.
async function namespaces() {
  const manager = new Manager(url, { ...opts, reconnection: false });
  const root = manager.socket("/");
  const custom = manager.socket("/custom", { auth: { ns: "custom" } });
  opened.push(root, custom);
  const rootAuth = waitFor(root, "auth", T, `"auth" on "/"`);
  const customAuth = waitFor(custom, "auth", T, `"auth" on "/custom"`);
  const g1 = noDisconnect(root, '"/"');
  const g2 = noDisconnect(custom, '"/custom"');
  const guard = (p) => g1.guard(g2.guard(p));

  await guard(Promise.all([waitConnect(root, T), waitConnect(custom, T)]));
  assertDeepEqual(await rootAuth, [{}], '"/" auth');
  assertDeepEqual(await customAuth, [{ ns: "custom" }], '"/custom" auth');
  check(root.io === manager && custom.io === manager, "both sockets must belong to the one Manager");
  check(root.io.engine && root.io.engine === custom.io.engine, "both namespaces must share socket.io.engine");
  const engineId = root.io.engine.id;
  check(root.id !== custom.id, `namespace socket ids must differ (${root.id})`);
  check(root.id !== engineId && custom.id !== engineId, "socket ids must differ from the engine id");
  log("engine", engineId, "on", root.io.engine.transport.name, "root", root.id, "custom", custom.id);
  result("root", root.id);
  result("custom", custom.id);

  const sessions = await guard(root.timeout(T).emitWithAck("engine-sessions"));
  check(sessions === 1, `server has ${sessions} engine sessions, want 1 (namespaces must be multiplexed)`);

  const nope = manager.socket("/nope");
  opened.push(nope);
  let nopeConnected = false;
  nope.on("connect", () => (nopeConnected = true));
  const [err] = await guard(waitFor(nope, "connect_error", T, 'connect_error on "/nope"'));
  check(err instanceof Error, `connect_error must carry an Error, got ${err}`);
  check(err.message === "Invalid namespace", `"/nope" connect_error message ${JSON.stringify(err.message)}, want "Invalid namespace"`);
  check(!nopeConnected && !nope.connected, '"/nope" must not connect');
  log('"/nope" refused:', err.message);

  // The shared connection is still up and both namespaces still work.
  check(root.connected && custom.connected, "root and custom must stay connected after the refusal");
  check(root.io.engine.id === engineId && root.io.engine.readyState === "open", "the engine must survive the refusal");
  assertDeepEqual(await guard(emitAckAll(root, T, "echo", "after-nope", 1)), ["after-nope", 1], '"/" echo after refusal');
  assertDeepEqual(await guard(emitAckAll(custom, T, "echo", "custom", Buffer.from([7]))), ["custom", Buffer.from([7])], '"/custom" echo');
  check((await guard(root.timeout(T).emitWithAck("engine-sessions"))) === 1, "still one engine session");

  // The server's view of the transport follows the client's.
  const engine = root.io.engine;
  if (mode === "default" && engine.transport.name !== "websocket") {
    await guard(waitFor(engine, "upgrade", T, "the engine upgrade to websocket"));
  }
  const want = mode === "polling" ? "polling" : "websocket";
  check(engine.transport.name === want, `client transport ${engine.transport.name}, want ${want}`);
  for (const s of [root, custom]) {
    const seen = await guard(s.timeout(T).emitWithAck("transport"));
    check(seen === want, `server reports transport ${JSON.stringify(seen)} for ${s.nsp}, want ${want}`);
  }
  g1.disarm();
  g2.disarm();
}

// Acks in both directions, with JSON and binary arguments.
async function acks() {
  const s = connect("/", { reconnection: false });
  const g = noDisconnect(s, "socket");
  await g.guard(waitConnect(s, T));
  result("sid", s.id);

  // client -> server, ack with every argument echoed.
  assertDeepEqual(await g.guard(s.timeout(T).emitWithAck("echo", "x")), "x", "emitWithAck echo");
  const args = [1, "two", { three: [3, null, false] }, Buffer.from([0xca, 0xfe])];
  assertDeepEqual(await g.guard(emitAckAll(s, T, "echo", ...args)), args, "ack with all args");
  assertDeepEqual(await g.guard(emitAckAll(s, T, "echo")), [], "ack without args");
  // Plain callback style (no timeout flag), as most applications write it.
  const plain = await g.guard(
    withTimeoutCb((cb) => s.emit("echo", { cb: true }, cb), "callback-style ack"),
  );
  assertDeepEqual(plain, [{ cb: true }], "callback-style ack args");

  // server -> client: the server's EmitWithAck reaches our handler, our
  // callback's arguments travel back, and the server reports them as
  // "answer".
  let question;
  s.on("question", (...a) => {
    const cb = a.pop();
    check(typeof cb === "function", `"question" must come with an ack callback, got ${typeof cb}`);
    question = a;
    cb({ answer: 42 }, Buffer.from([1, 2, 3]));
  });
  const answer = waitFor(s, "answer", T, '"answer" (server ack result)');
  s.emit("ask");
  const got = await g.guard(answer);
  assertDeepEqual(question, [{ q: 41 }, Buffer.from([0xde, 0xad, 0xbe, 0xef])], '"question" args');
  check(isBinary(question[1]), '"question" binary arg must be binary');
  assertDeepEqual(got, [{ answer: 42 }, Buffer.from([1, 2, 3])], '"answer" args (what the server got as ack)');
  log("server ack round trip ok:", got);

  // Many concurrent server EmitWithAck calls: each ack reaches its own
  // callback (the server checks and reports the count).
  s.on("q", (i, cb) => cb(i * 2));
  const many = waitFor(s, "many-done", T, '"many-done"');
  s.emit("ask-many", 50);
  assertDeepEqual(await g.guard(many), [{ ok: 50, bad: 0 }], "50 concurrent server acks");

  // A handler that never calls back: the server's ack times out.
  s.on("question-ignored", () => {});
  const failed = waitFor(s, "answer-error", T, '"answer-error" (server ack timeout)');
  s.emit("ask-ignored");
  assertDeepEqual(await g.guard(failed), ["sio: ack timeout"], "server ack timeout");
  g.disarm();
}

function withTimeoutCb(start, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${T} ms waiting for ${what}`)), T);
    start((...a) => {
      clearTimeout(timer);
      resolve(a);
    });
  });
}

// Binary both ways: Buffers from the client arrive as attachments (the Go
// test checks the bytes); []byte from the server arrives as Buffers.
async function binary() {
  const s = connect("/", { reconnection: false });
  const g = noDisconnect(s, "socket");
  await g.guard(waitConnect(s, T));
  result("sid", s.id);

  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const up = await g.guard(s.timeout(T).emitWithAck("upload", all, { name: "n.bin", data: Buffer.from("hello") }));
  assertDeepEqual(up, { attachments: 2 }, "upload ack");

  const big = Buffer.alloc(200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const upBig = await g.guard(s.timeout(T).emitWithAck("upload", big));
  assertDeepEqual(upBig, { attachments: 1 }, "big upload ack");

  const blob = waitFor(s, "blob", T, '"blob"');
  const sent = await g.guard(s.timeout(T).emitWithAck("download", { size: 256, mul: 1 }));
  check(sent === "sent", `download ack ${sent}, want "sent"`);
  const [data, meta] = await g.guard(blob);
  check(Buffer.isBuffer(data), `"blob" data must arrive as a Buffer, got ${Object.prototype.toString.call(data)}`);
  check(data.equals(all), `"blob" bytes ${data.toString("hex").slice(0, 40)}..., want 00..ff`);
  assertDeepEqual(meta, { name: "b.bin", size: 256 }, '"blob" meta');

  const bigBlob = waitFor(s, "blob", T, 'big "blob"');
  check((await g.guard(s.timeout(T).emitWithAck("download", { size: big.length, mul: 7 }))) === "sent", "big download ack");
  const [bigData, bigMeta] = await g.guard(bigBlob);
  check(Buffer.isBuffer(bigData) && bigData.equals(big), `big "blob": ${bigData && bigData.length} bytes, want ${big.length} matching bytes`);
  assertDeepEqual(bigMeta, { name: "b.bin", size: big.length }, 'big "blob" meta');
  log("binary both ways ok");
  g.disarm();
}

// A middleware refusing with a ConnectError shows its message and data in
// connect_error; a plain error shows its message; a good token connects.
async function auth() {
  const bad = connect("/secure", { reconnection: false, auth: { token: "bad" } });
  let badConnected = false;
  bad.on("connect", () => (badConnected = true));
  const [err] = await waitFor(bad, "connect_error", T, "connect_error for a bad token");
  check(err.message === "invalid token", `bad token: err.message ${JSON.stringify(err.message)}, want "invalid token"`);
  check(err.data && err.data.reason === "x", `bad token: err.data ${JSON.stringify(err.data)}, want {reason:"x"}`);
  check(!badConnected && !bad.connected, "a refused socket must not connect");
  check(!bad.active, "a socket refused by a middleware must not retry by itself");
  log("bad token refused:", err.message, err.data);

  // The usual recovery: fix the credentials and connect again.
  bad.auth = { token: "good" };
  const welcomeBad = waitFor(bad, "welcome", T, '"welcome" after fixing the token');
  bad.connect();
  await waitConnect(bad, T, "reconnect with a fixed token");
  assertDeepEqual(await welcomeBad, [{ token: "good" }, "user-good"], '"welcome" args after fixing the token');
  result("sid-fixed", bad.id);
  bad.disconnect();

  const none = connect("/secure", { reconnection: false });
  const [err2] = await waitFor(none, "connect_error", T, "connect_error without a token");
  check(err2.message === "missing token", `no token: err.message ${JSON.stringify(err2.message)}, want "missing token"`);
  check(err2.data === undefined, `no token: err.data ${JSON.stringify(err2.data)}, want undefined`);

  const good = connect("/secure", { reconnection: false, auth: { token: "good" } });
  const welcome = waitFor(good, "welcome", T, '"welcome"');
  await waitConnect(good, T, "connect with a good token");
  assertDeepEqual(await welcome, [{ token: "good" }, "user-good"], '"welcome" args');
  result("sid", good.id);
}

// socket.Disconnect(false) on the server: the client sees
// "io server disconnect" and does not reconnect by itself, but can
// reconnect explicitly.
async function serverDisconnect() {
  const s = connect("/"); // stock reconnection, which must not kick in
  await waitConnect(s, T);
  const first = s.id;
  result("sid", first);
  const disc = waitFor(s, "disconnect", T, '"disconnect" after "kick"');
  s.emit("kick");
  const [reason] = await disc;
  check(reason === "io server disconnect", `disconnect reason ${JSON.stringify(reason)}, want "io server disconnect"`);
  check(!s.connected && !s.active, "after a server disconnect the socket must be inactive (no automatic reconnection)");
  check(!s.io._reconnecting, "the manager must not be reconnecting");
  log("server disconnect seen:", reason);

  s.connect();
  await waitConnect(s, T, "explicit reconnect after server disconnect");
  check(s.id && s.id !== first, `reconnected socket id ${s.id} must be new (was ${first})`);
  result("sid2", s.id);
  assertDeepEqual(await s.timeout(T).emitWithAck("echo", "again"), "again", "echo after reconnect");

}

// socket.Disconnect(true) on the server: DISCONNECT, then the engine
// connection closes. The client must still report "io server disconnect"
// and stay disconnected (stock reconnection is on), whenever the kick
// lands (during the upgrade is covered by "server-close-upgrading").
async function serverClose() {
  const s = connect("/"); // stock reconnection, which must not kick in
  await waitConnect(s, T);
  result("sid", s.id);
  await kickClose(s, () => s.emit("kick-close"));
}

// Disconnect(true) while the client upgrades (default mode only): the
// server kicks 30 ms after the client joined (asked through auth), which
// usually falls between "3probe" and "5". Run by upgrade_close_test.go.
async function serverCloseUpgrading() {
  check(mode === "default", "server-close-upgrading needs --transport=default");
  const s = connect("/", { auth: { kickCloseAfterMs: 30 } });
  const disc = kickClose(s, () => {});
  await waitConnect(s, T);
  result("sid", s.id);
  await disc;
}

async function kickClose(s, kick) {
  let reconnects = 0;
  s.io.on("reconnect_attempt", () => reconnects++);
  const engine = s.io.engine;
  const disc = waitFor(s, "disconnect", T, '"disconnect" after the kick');
  const engineClosed = waitFor(engine, "close", T, "the engine to close after the kick");
  kick();
  const [reason] = await disc;
  const [engineReason] = await engineClosed;
  log("disconnect reason", reason, "engine close reason", engineReason, "active", s.active, "transport", engine.transport.name);
  if (reason !== "io server disconnect") {
    // Document the consequence: the stock client may reconnect by itself.
    const reconnected = await waitFor(s, "connect", 3000, "an automatic reconnection").then(
      () => `reconnected automatically as ${s.id}`,
      () => "did not reconnect within 3 s",
    );
    log("after the wrong reason the client", reconnected);
    result("reconnected", reconnected);
  }
  check(reason === "io server disconnect", `disconnect reason ${JSON.stringify(reason)}, want "io server disconnect" (the client ${s.active ? "WILL reconnect automatically" : "stays disconnected"})`);
  check(!s.active, "after Disconnect(true) the socket must be inactive (no automatic reconnection)");
  check(reconnects === 0, `${reconnects} reconnection attempts`);
}

// Events keep their order in both directions while the server streams and
// the client emits from the moment it connects, which in default mode
// spans the polling -> websocket upgrade. Every 25th event carries binary.
async function ordering() {
  const N = 400;
  const s = connect("/stream", { reconnection: false });
  const g = noDisconnect(s, "socket");
  const engine = s.io.engine;
  let received = 0;
  let bad = null;
  const ended = new Promise((resolve) => s.once("seq-end", (count) => resolve(count)));
  s.on("seq", (i, bin) => {
    if (bad) return;
    if (i !== received) bad = `server event #${received} carried ${i}`;
    else if (i % 25 === 0 && !(Buffer.isBuffer(bin) && bin.length === 2 && bin[0] === (i & 0xff) && bin[1] === i >> 8)) {
      bad = `server event ${i}: binary ${bin && bin.toString("hex")}, want ${i} as 2 bytes`;
    }
    received++;
  });

  await g.guard(waitConnect(s, T));
  result("sid", s.id);
  // Client -> server, paced by the event loop, while the server streams.
  for (let i = 0; i < N; i++) {
    if (i % 25 === 0) s.emit("cseq", i, Buffer.from([i & 0xff, i >> 8]));
    else s.emit("cseq", i);
    if (i % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  const report = await g.guard(s.timeout(T).emitWithAck("cseq-done"));
  assertDeepEqual(report, { count: N, inOrder: true }, "server's view of the client's events");

  const count = await g.guard(withTimeout(ended, T, '"seq-end"'));
  check(!bad, bad);
  check(received === N && count === N, `received ${received} server events (server sent ${count}), want ${N}`);
  log(`both directions in order; now on ${engine.transport.name}`);
  g.disarm();
}

// socket.disconnect() on the client: the server runs OnDisconnect with
// "client namespace disconnect" while the engine connection, still used by
// "/custom", stays up.
async function clientDisconnect() {
  const manager = new Manager(url, { ...opts, reconnection: false });
  const root = manager.socket("/");
  const custom = manager.socket("/custom");
  opened.push(root, custom);
  await Promise.all([waitConnect(root, T), waitConnect(custom, T)]);
  const rootId = root.id;
  result("sid", rootId);
  const g = noDisconnect(custom, '"/custom"');

  const local = waitFor(root, "disconnect", T, '"disconnect" on "/"');
  root.disconnect();
  const [why] = await local;
  check(why === "io client disconnect", `local reason ${JSON.stringify(why)}, want "io client disconnect"`);

  // Packets are handled in order on one connection, so the server has run
  // OnDisconnect for "/" before it handles this event.
  const reason = await g.guard(custom.timeout(T).emitWithAck("disconnect-reason", rootId));
  check(reason === "client namespace disconnect", `server-side reason ${JSON.stringify(reason)}, want "client namespace disconnect"`);
  check(custom.connected && custom.io.engine.readyState === "open", '"/custom" and its engine must stay up');
  check((await g.guard(custom.timeout(T).emitWithAck("engine-sessions"))) === 1, "one engine session still open");
  log("client disconnect seen by server:", reason);

  // Rejoining "/" on the same engine connection gets a new socket.
  const engineId = custom.io.engine.id;
  root.connect();
  await g.guard(waitConnect(root, T, 'rejoin of "/"'));
  check(root.id && root.id !== rootId, `rejoined "/" socket id ${root.id} must be new (was ${rootId})`);
  check(root.io.engine.id === engineId, "the rejoin must reuse the engine connection");
  result("sid2", root.id);
  assertDeepEqual(await g.guard(root.timeout(T).emitWithAck("echo", "rejoined")), "rejoined", "echo after rejoin");
  check((await g.guard(custom.timeout(T).emitWithAck("engine-sessions"))) === 1, "still one engine session after the rejoin");
  g.disarm();
}
