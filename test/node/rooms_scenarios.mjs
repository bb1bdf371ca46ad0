// Drives rooms with the stock socket.io-client (default transports: polling,
// then upgrade to WebSocket, as rtc.io uses it) against real rtcmesh
// gateways, for test/rooms. Sockets are spread round-robin over the given
// gateways (one URL for `rtcmesh dev`, two for the split deployment).
//
// usage: node rooms_scenarios.mjs --gw=URL[,URL...] --scenarios=NAME[,NAME...] [--tag=T]
//
// Each scenario prints "=== scenario NAME", its "RESULT NAME.key=value"
// lines (checked by the Go test) and "SCENARIO PASS NAME" or "SCENARIO FAIL
// NAME: reason". A failed scenario does not stop the next; the exit status
// is 0 only if all passed. The "tools" scenario prints "HOLD NAME.step" and
// waits for a line on stdin before going on, so the Go test can inspect the
// rosters while the members are connected.
//
// Every socket records every event it receives, in order. Assertions are on
// exact sequences: expect() takes the next N unread events of a socket and
// compares them (names and all arguments) with the expected ones; quiet()
// sends check-room and requires its answer to be the very next event. The
// room service handles a room's commands one at a time, so once quiet()
// returns, every event the room's earlier commands produced for that socket
// has arrived: nothing unexpected was pending.

import { spawn } from "node:child_process";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { inspect, isDeepStrictEqual } from "node:util";
import { io } from "socket.io-client";
import { assertDeepEqual, check, log, parseArgs, run, waitConnect, waitFor, withTimeout } from "./sio_lib.mjs";

const { flags } = parseArgs();
const gws = (flags.gw || "").split(",").filter(Boolean);
const plan = (flags.scenarios || "").split(",").filter(Boolean);
const tag = flags.tag || Math.random().toString(36).slice(2, 8);
const T = Number(flags["step-ms"]) || 15000; // per step (the machine may be loaded)
const here = dirname(fileURLToPath(import.meta.url));

const scenarios = {
  "join-order": joinOrder,
  passwords,
  leave,
  disconnect,
  media,
  relay,
  presence,
  tools,
};

if (gws.length === 0 || gws.some((u) => !/^https?:\/\//.test(u)) || plan.length === 0 || plan.some((n) => !scenarios[n])) {
  console.error(`usage: node rooms_scenarios.mjs --gw=URL[,URL...] --scenarios=${Object.keys(scenarios).join("|")}[,...] [--tag=T]`);
  process.exit(2);
}

const fmt = (v) => inspect(v, { depth: 6, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 300 });

let current = "";
function result(key, value) {
  process.stdout.write(`RESULT ${current}.${key}=${value}\n`);
}

// ---------------------------------------------------------------------------
// Sockets

let peers = []; // the current scenario's peers
let children = []; // the current scenario's child processes
let nextGateway = 0;

/** Event and payload constructors (args is always the full argument list). */
const E = (ev, arg) => ({ ev, args: [arg] });
const uc = (p) => E("user-connected", p.name === undefined ? { id: p.sid } : { id: p.sid, name: p.name });
const ud = (p) => E("user-disconnected", { id: p.sid });
const peerLeft = (p) => E("#rtcio:peer-left", { id: p.sid });
const initOffer = (p) => E("#rtcio:init-offer", { source: p.sid });
const joinOk = (room) => E("join-ok", { roomId: room });
const joinError = (reason, room) => E("join-error", { reason, roomId: room });
const checkOk = (room, passwordRequired) => E("room-check-ok", { roomId: room, passwordRequired });

/** Events that are about another socket, with the member naming it. */
const ABOUT = { "user-connected": "id", "media-state": "id", "#rtcio:init-offer": "source", "#rtcio:peer-left": "id", "user-disconnected": "id" };

class Peer {
  constructor(label, gw) {
    this.label = label;
    this.gw = gw;
    this.url = gws[gw];
    this.sock = io(this.url, { forceNew: true });
    this.log = [];
    this.raw = []; // engine message strings (see captureRaw)
    this.cursor = 0;
    this.problems = [];
    this.leaving = false;
    this.waiters = new Set();
    this.sock.onAny((ev, ...args) => {
      this.log.push({ ev, args });
      this.wake();
    });
    this.sock.on("disconnect", (reason) => {
      if (!this.leaving) this.problems.push(`unexpected disconnect: ${reason}`);
      this.wake();
    });
    this.sock.on("connect", () => {
      if (this.sid && this.sock.id !== this.sid) this.problems.push(`reconnected as ${this.sock.id}`);
    });
  }

  async ready() {
    await waitConnect(this.sock, T, `${this.label} connect to ${this.url}`);
    this.sid = this.sock.id;
    log(`${this.label}: ${this.sid} on gateway ${this.gw} (${this.sock.io.engine.transport.name})`);
    return this;
  }

  emit(ev, ...args) {
    this.sock.emit(ev, ...args);
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  unread() {
    return this.log.slice(this.cursor);
  }

  /** Resolves when pred() holds (re-checked on every event); what() names the wait. */
  until(pred, what, ms = T) {
    return new Promise((resolve, reject) => {
      let timer;
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(w);
      };
      const w = () => {
        if (this.problems.length) {
          done();
          reject(new Error(`${this.label} (${this.sid}): ${this.problems.join("; ")} while waiting for ${what()}`));
          return;
        }
        let ok;
        try {
          ok = pred();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (ok) {
          done();
          resolve();
        }
      };
      timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label} (${this.sid}): timed out after ${ms} ms waiting for ${what()}`));
      }, ms);
      this.waiters.add(w);
      w();
    });
  }

  /** The next unread events must be exactly want (names and all arguments). */
  async expect(want, what) {
    // Stops waiting as soon as an arrived event differs from the expected one.
    await this.until(
      () => {
        const have = this.log.slice(this.cursor, this.cursor + want.length);
        return have.length === want.length || have.some((e, i) => !isDeepStrictEqual(e, want[i]));
      },
      () => `${what}: want ${fmt(want)}, unread ${fmt(this.unread())}`,
    );
    const got = this.log.slice(this.cursor, this.cursor + want.length);
    if (!isDeepStrictEqual(got, want)) {
      throw new Error(`${this.label} (${this.sid}): ${what}:\n  got  ${fmt(got)}\n  want ${fmt(want)}`);
    }
    this.cursor += want.length;
  }

  /**
   * Barrier: check-room on room; its answer must be the next event (so no
   * other event is pending for this socket from the room's earlier
   * commands). Returns the answer.
   */
  async quiet(room, password) {
    const isAnswer = (e) => (e.ev === "room-check-ok" || e.ev === "join-error") && e.args[0] && e.args[0].roomId === room;
    this.emit("check-room", password === undefined ? { roomId: room } : { roomId: room, password });
    await this.until(
      () => this.unread().some(isAnswer),
      () => `the check-room answer (barrier) on ${JSON.stringify(room)}; unread ${fmt(this.unread())}`,
    );
    const unread = this.unread();
    const i = unread.findIndex(isAnswer);
    if (i !== 0) throw new Error(`${this.label} (${this.sid}): unexpected events on ${JSON.stringify(room)}: ${fmt(unread.slice(0, i))}`);
    this.cursor++;
    return unread[0];
  }

  /** Records the raw Engine.IO message strings (Socket.IO packets) from now on. */
  captureRaw() {
    this.sock.io.engine.on("message", (data) => {
      if (typeof data === "string") this.raw.push(data);
    });
  }

  close() {
    this.leaving = true;
    this.sock.disconnect();
  }
}

/** A connected peer on the next gateway (round-robin) or on gateway gw. */
async function peer(label, gw) {
  const p = new Peer(label, gw === undefined ? nextGateway++ % gws.length : gw % gws.length);
  peers.push(p);
  return p.ready();
}

/** Waits until the socket runs on WebSocket (the default client upgrades). */
async function upgraded(p) {
  const engine = p.sock.io.engine;
  if (engine.transport.name !== "websocket") await waitFor(engine, "upgrade", T, `${p.label} upgrade to websocket`);
  check(engine.transport.name === "websocket", `${p.label}: transport ${engine.transport.name} after upgrade`);
}

/**
 * A member in its own process (rooms_child.mjs) on gateway gw, joined to
 * room; returns {label, sid, name, child} once the child saw join-ok.
 */
async function spawnMember(label, gw, room, transport) {
  const child = spawn(
    process.execPath,
    ["rooms_child.mjs", `--url=${gws[gw % gws.length]}`, `--room=${room}`, `--name=${label}`, `--transport=${transport}`],
    { cwd: here, stdio: ["ignore", "pipe", "inherit"] },
  );
  children.push(child);
  const sid = await withTimeout(
    new Promise((resolve, reject) => {
      let buf = "";
      child.stdout.on("data", (d) => {
        buf += d;
        const m = /^READY (\S+)$/m.exec(buf);
        if (m) resolve(m[1]);
        const f = /^FAILED (.*)$/m.exec(buf);
        if (f) reject(new Error(`${label}: ${f[1]}`));
      });
      child.on("exit", (code, sig) => reject(new Error(`${label} exited early: ${code ?? sig}; output ${buf}`)));
    }),
    T * 2,
    `${label} (child process) to join`,
  );
  return { label, sid, name: label, child };
}

/** No socket ever receives user-connected, media-state, init-offer or a departure about itself. */
function checkNoSelfEvents() {
  for (const p of peers) {
    for (const e of p.log) {
      const key = ABOUT[e.ev];
      if (key && e.args[0] && e.args[0][key] === p.sid) throw new Error(`${p.label} (${p.sid}) received ${e.ev} about itself: ${fmt(e)}`);
    }
    check(p.problems.length === 0, `${p.label}: ${p.problems.join("; ")}`);
  }
}

function closeAll() {
  for (const p of peers) p.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  peers = [];
  children = [];
}

// ---------------------------------------------------------------------------
// A model of one room: its members in join order and their stored media
// state, from which the exact expected events are derived.

class Room {
  constructor(id, password) {
    this.id = id;
    this.password = password; // what members pass on check-room barriers
    this.members = [];
    this.media = new Map(); // peer -> {mic, cam}
    this.gone = []; // departed members, in order
  }

  backfill() {
    const out = [];
    for (const m of this.members) {
      out.push(uc(m));
      const st = this.media.get(m);
      if (st) out.push(E("media-state", { id: m.sid, roomId: this.id, mic: st.mic, cam: st.cam }));
    }
    return out;
  }

  /**
   * p joins (name null: no name sent): p gets the backfill then join-ok;
   * every earlier member gets user-connected then init-offer.
   */
  async join(p, { name = p.label, password } = {}) {
    const payload = { roomId: this.id };
    if (name !== null) payload.name = name;
    if (password !== undefined) payload.password = password;
    p.name = name === null ? undefined : name;
    p.emit("join-room", payload);
    await p.expect([...this.backfill(), joinOk(this.id)], `backfill and join-ok of ${JSON.stringify(this.id)}`);
    for (const m of this.members) await m.expect([uc(p), initOffer(p)], `${p.label} joined ${JSON.stringify(this.id)}`);
    this.members.push(p);
  }

  remove(p) {
    this.members = this.members.filter((m) => m !== p);
    this.media.delete(p);
    this.gone.push(p);
  }

  /** p leaves with leave-room: the others get user-disconnected only. */
  async leave(p) {
    p.emit("leave-room", { roomId: this.id });
    this.remove(p);
    for (const m of this.members) await m.expect([ud(p)], `${p.label} left ${JSON.stringify(this.id)} (leave-room)`);
  }

  /** p's socket went away (already triggered): peer-left, then user-disconnected. */
  async departed(p, how) {
    this.remove(p);
    for (const m of this.members) await m.expect([peerLeft(p), ud(p)], `${p.label} departed ${JSON.stringify(this.id)} (${how})`);
  }

  /** p sends media-state msg: the others get it with id stamped; booleans are stored. */
  async mediaState(p, msg) {
    p.emit("media-state", msg);
    const { id: _spoofed, ...rest } = msg;
    const relayed = { id: p.sid, ...rest };
    if (typeof msg.mic === "boolean" && typeof msg.cam === "boolean") this.media.set(p, { mic: msg.mic, cam: msg.cam });
    for (const m of this.members) if (m !== p) await m.expect([E("media-state", relayed)], `media-state from ${p.label}`);
  }

  /** Barrier on every member: nothing unexpected pending for any. */
  async quietAll() {
    for (const m of this.members) await m.quiet(this.id, this.password);
  }
}

// ---------------------------------------------------------------------------
// Scenarios

// 1. Join order, backfill, one init-offer per pair (also for concurrent
// joins), idempotent re-join, nothing about oneself.
async function joinOrder() {
  const r = new Room(`join order ${tag} ✓.x`);
  const A = await peer("Alice");
  const B = await peer("Bob");
  const C = await peer("C");

  await r.join(A); // empty room: join-ok alone
  await r.mediaState(A, { roomId: r.id, mic: true, cam: false });
  await A.quiet(r.id); // the media state is stored before B joins
  await r.join(B); // B: user-connected A, media-state A, join-ok; A: user-connected B, init-offer B
  await r.join(C, { name: null }); // no name: user-connected {id} only
  // A re-join only confirms.
  A.emit("join-room", { roomId: r.id, name: "Alice" });
  await A.expect([joinOk(r.id)], "re-join");
  await r.quietAll();

  const offers = (p) => p.log.filter((e) => e.ev === "#rtcio:init-offer").map((e) => e.args);
  assertDeepEqual(offers(A), [[{ source: B.sid }], [{ source: C.sid }]], "init-offers received by A");
  assertDeepEqual(offers(B), [[{ source: C.sid }]], "init-offers received by B");
  assertDeepEqual(offers(C), [], "init-offers received by C");

  // Concurrent joins, each pair on different gateways: exactly one
  // init-offer, to whichever the room service ordered first.
  await Promise.all(
    [0, 1, 2].map(async (i) => {
      const room = `join race ${tag} ${i}`;
      const D = await peer(`D${i}`, i);
      const F = await peer(`F${i}`, i + 1);
      D.name = D.label;
      F.name = F.label;
      D.emit("join-room", { roomId: room, name: D.label });
      F.emit("join-room", { roomId: room, name: F.label });
      const joined = (p) => p.until(() => p.log.some((e) => e.ev === "join-ok"), () => `join-ok in ${room}; got ${fmt(p.log)}`);
      await Promise.all([joined(D), joined(F)]);
      const first = D.log[0].ev === "join-ok" ? D : F;
      const second = first === D ? F : D;
      await second.expect([uc(first), joinOk(room)], `later of a concurrent pair in ${room}`);
      await first.expect([joinOk(room), uc(second), initOffer(second)], `earlier of a concurrent pair in ${room}`);
      await D.quiet(room);
      await F.quiet(room);
      result(`race${i}`, `${first.label} first`);
    }),
  );
}

// 2. Passwords: set by the first occupant, checked by check-room and
// join-room, cleared when the room empties (by leave-room and by
// disconnect).
async function passwords() {
  const room = `pw room ${tag} ü`;
  const A = await peer("A");
  const X = await peer("X");
  const r = new Room(room, "s3cret");

  X.emit("check-room", { roomId: room });
  await X.expect([checkOk(room, false)], "check of an empty room");
  await r.join(A, { password: "s3cret" });

  X.emit("check-room", { roomId: room });
  await X.expect([joinError("password-required", room)], "check without password");
  X.emit("check-room", { roomId: room, password: "nope" });
  await X.expect([joinError("wrong-password", room)], "check with a wrong password");
  X.emit("check-room", { roomId: room, password: "s3cret" });
  await X.expect([checkOk(room, true)], "check with the right password");
  X.emit("join-room", { roomId: room, name: "X", password: "nope" });
  await X.expect([joinError("wrong-password", room)], "join with a wrong password");
  X.emit("join-room", { roomId: room, name: "X" });
  await X.expect([joinError("password-required", room)], "join without password");
  await A.quiet(room, "s3cret"); // A heard of neither attempt
  await r.join(X, { password: "s3cret" });
  await r.quietAll();

  // Emptied by leave-room: the password is gone.
  await r.leave(A);
  await r.leave(X);
  assertDeepEqual(await X.quiet(room), checkOk(room, false), "check once the room emptied by leave-room");

  // A new first occupant sets another password.
  const Y = await peer("Y");
  const Z = await peer("Z");
  const W = await peer("W");
  const r2 = new Room(room, "pw2");
  await r2.join(Y, { password: "pw2" });
  W.emit("check-room", { roomId: room, password: "s3cret" });
  await W.expect([joinError("wrong-password", room)], "old password after the room was re-created");
  W.emit("join-room", { roomId: room, name: "W", password: "s3cret" });
  await W.expect([joinError("wrong-password", room)], "join with the old password");
  await r2.join(Z, { password: "pw2" });
  await r2.quietAll();

  // Emptied by disconnect: the password is gone too.
  Z.close();
  await r2.departed(Z, "disconnect");
  Y.close();
  r2.remove(Y);
  // Nobody is left to be told; poll check-room until Y's departure is processed.
  let answer;
  const deadline = Date.now() + T;
  for (;;) {
    W.emit("check-room", { roomId: room });
    await W.until(() => W.log.length > W.cursor, () => "a check-room answer");
    answer = W.log[W.cursor++];
    if (isDeepStrictEqual(answer, checkOk(room, false))) break;
    assertDeepEqual(answer, joinError("password-required", room), "check while the last member departs");
    check(Date.now() < deadline, "the password was not cleared after the last member disconnected");
    await new Promise((res) => setTimeout(res, 50));
  }

  // A new first occupant sets none: anyone joins, a password is ignored.
  const V = await peer("V");
  const U = await peer("U");
  const r3 = new Room(room);
  await r3.join(V);
  await r3.join(U, { password: "whatever" });
  W.emit("check-room", { roomId: room, password: "pw2" });
  await W.expect([checkOk(room, false)], "check of a room without password");
  await r3.quietAll();
}

// 3. leave-room: user-disconnected only; the leaver hears nothing more from
// the room and cannot post to it; its later disconnect is not a second
// departure.
async function leave() {
  const r = new Room(`leave room ${tag} .x`);
  const A = await peer("A");
  const B = await peer("B");
  const C = await peer("C");
  await r.join(A);
  await r.join(B);
  await r.join(C);
  await r.leave(B);
  await r.quietAll(); // no #rtcio:peer-left after user-disconnected

  A.emit("chat-message", { roomId: r.id, text: "after B left", n: 1 });
  await C.expect([E("chat-message", { roomId: r.id, text: "after B left", n: 1 })], "chat relayed to C");
  await B.quiet(r.id); // the chat to the room reached the leaver? It must not have.
  await r.mediaState(C, { roomId: r.id, mic: false, cam: false });
  await B.quiet(r.id);

  B.emit("chat-message", { roomId: r.id, text: "from the leaver" });
  await B.expect([E("error", { code: "not-a-member", event: "chat-message", roomId: r.id })], "chat from the leaver");
  await r.quietAll();

  // B's disconnect is not a second departure. Nothing can observe the
  // no-op, so give it time: a new member connects (on B's gateway) and
  // joins, which the others must see right after the earlier events.
  B.close();
  const engine = B.sock.io.engine;
  if (engine.readyState !== "closed") await waitFor(engine, "close", T, "B's connection to close");
  const N = await peer("N", B.gw);
  await r.join(N);
  await r.quietAll();
  const departures = (p) => p.log.filter((e) => e.ev === "#rtcio:peer-left" || e.ev === "user-disconnected");
  assertDeepEqual(departures(A), [ud(B)], "departures seen by A");
  assertDeepEqual(departures(C), [ud(B)], "departures seen by C");
}

// 4. Disconnects: socket.disconnect(), a force-closed TCP connection and
// SIGKILLed client processes (on WebSocket, and on long-polling with a poll
// pending) each give every other member #rtcio:peer-left then
// user-disconnected, exactly once.
async function disconnect() {
  const r = new Room(`disc room ${tag} é`);
  const A = await peer("A", 0);
  const B = await peer("B", 1);
  await r.join(A);
  await r.join(B);

  // socket.disconnect()
  const V1 = await peer("V1", 1);
  await r.join(V1);
  await r.mediaState(V1, { roomId: r.id, mic: true, cam: true });
  const gone = waitFor(V1.sock, "disconnect", T, "V1 disconnect event");
  V1.close();
  const [reason] = await gone;
  check(reason === "io client disconnect", `V1 disconnect reason ${reason}`);
  await r.departed(V1, "socket.disconnect()");
  await r.quietAll();

  // The TCP connection destroyed under the client, after the upgrade.
  const V2 = await peer("V2", 0);
  await upgraded(V2);
  await r.join(V2);
  V2.leaving = true;
  V2.sock.io.reconnection(false);
  const ws = V2.sock.io.engine.transport.ws;
  check(ws && ws._socket, "V2: no underlying TCP socket on the websocket transport");
  ws._socket.destroy();
  await r.departed(V2, "TCP connection destroyed");
  await r.quietAll();

  // Client processes killed with SIGKILL: one on WebSocket (after the
  // upgrade), one pinned to long-polling (its pending poll is aborted).
  for (const [label, gw, transport] of [["V3", 1, "default"], ["V4", 0, "polling"]]) {
    const v = await spawnMember(label, gw, r.id, transport);
    for (const m of r.members) await m.expect([uc(v), initOffer(v)], `${label} (child process, ${transport}) joined`);
    r.members.push(v);
    const exited = new Promise((resolve) => v.child.on("exit", resolve));
    v.child.kill("SIGKILL");
    await withTimeout(exited, T, `${label} to exit`);
    log(`${label} ${v.sid} (${transport}) killed`);
    await r.departed(v, `process killed (${transport})`);
    await r.quietAll();
  }
  const [V3, V4] = r.gone.slice(-2);

  for (const p of [A, B]) {
    const deps = p.log.filter((e) => e.ev === "#rtcio:peer-left" || e.ev === "user-disconnected");
    const want = [V1, V2, V3, V4].flatMap((v) => [peerLeft(v), ud(v)]);
    assertDeepEqual(deps, want, `departures seen by ${p.label}`);
  }
}

// 5. media-state: relayed with id stamped (a spoofed id replaced); the last
// boolean state is backfilled to newcomers right after the member's
// user-connected; a non-boolean state is relayed, not stored.
async function media() {
  const r = new Room(`media room ${tag} 🎤`);
  const A = await peer("A");
  const B = await peer("B");
  const C = await peer("C");
  const D = await peer("D");
  await r.join(A);
  await r.mediaState(A, { roomId: r.id, mic: true, cam: false });
  await A.quiet(r.id);
  await r.join(B); // backfill: user-connected A, media-state A, join-ok
  await r.mediaState(B, { roomId: r.id, mic: false, cam: true, id: A.sid, extra: { k: [1, "two"] } }); // spoofed id
  await r.mediaState(B, { roomId: r.id, mic: true, cam: true });
  await r.mediaState(A, { roomId: r.id, mic: null, cam: true }); // relayed, A's stored state stays
  await r.join(C);
  await r.mediaState(C, { roomId: r.id, mic: "yes", cam: 1 }); // relayed, not stored
  await r.quietAll();
  check(!r.media.has(C) && r.media.get(A).mic === true && r.media.get(B).cam === true, "model");
  await r.join(D); // user-connected A, media-state A {true,false}, user-connected B, media-state B {true,true}, user-connected C, join-ok
  await r.quietAll();
}

// 6. #rtcio:message: 1,000 from A to B (different gateways when there are
// two) arrive exactly once, in order, with source stamped and target and
// data byte for byte as sent; nothing reaches anyone else.
async function relay() {
  const N = 1000;
  const r = new Room(`relay room ${tag}`);
  const A = await peer("A", 0);
  const B = await peer("B", 1);
  const C = await peer("C", 1);
  await r.join(A);
  await r.join(B);
  await r.join(C);
  B.captureRaw();
  C.captureRaw();

  const big = "a=candidate:".repeat(1500); // about 18 KB
  const sent = [];
  for (let i = 0; i < N; i++) {
    const data = {
      seq: i,
      description: { type: i % 2 ? "answer" : "offer", sdp: `v=0\r\no=- ${i} 2 IN IP4 127.0.0.1\r\ns=-\r\n` },
      text: `café ☕ <b>&amp;</b> \u2028 "q" \\ ${i}`,
      nums: [1e21, -0.5, 3, 1.25e-7],
      misc: [null, true, {}, [], ""],
    };
    if (i % 100 === 7) data.lone = "\ud800"; // JSON.stringify writes it escaped
    if (i === 500) data.big = big;
    let msg;
    switch (i % 3) {
      case 0:
        msg = { source: C.sid, target: B.sid, data }; // spoofing another member
        break;
      case 1:
        msg = { target: B.sid, data }; // no source at all
        break;
      default:
        msg = { target: B.sid, source: "spoofed", data }; // source after target
    }
    sent.push(msg);
    A.emit("#rtcio:message", msg);
  }
  const isRelay = (e) => e.ev === "#rtcio:message";
  await B.until(
    () => B.log.filter(isRelay).length >= N,
    () => `${N} #rtcio:message; got ${B.log.filter(isRelay).length}`,
    T * 4,
  );
  // A sentinel to C and one from B to A: anything misrouted earlier on
  // those pairs would arrive before them.
  A.emit("#rtcio:message", { source: A.sid, target: C.sid, data: { sentinel: "A->C" } });
  await C.until(() => C.log.some(isRelay), () => "the A->C sentinel");
  B.emit("#rtcio:message", { source: B.sid, target: A.sid, data: { sentinel: "B->A" } });
  await A.until(() => A.log.some(isRelay), () => "the B->A sentinel");

  const got = B.unread().filter(isRelay);
  check(got.length === N, `B got ${got.length} #rtcio:message, want ${N}`);
  for (let i = 0; i < N; i++) {
    const { args } = got[i];
    check(args.length === 1, `message #${i}: ${args.length} arguments`);
    const m = args[0];
    check(m && m.data && m.data.seq === i, `message #${i} out of order or missing: seq ${m && m.data && m.data.seq}`);
    assertDeepEqual(m, { source: A.sid, target: B.sid, data: sent[i].data }, `message #${i}`);
  }
  // Byte for byte: target and data as the client serialised them, source
  // stamped where it was (first when it was absent).
  const raws = B.raw.filter((s) => s.startsWith('2["#rtcio:message",'));
  check(raws.length === N, `B got ${raws.length} raw #rtcio:message packets, want ${N}`);
  for (let i = 0; i < N; i++) {
    const s = sent[i];
    const stamped = "source" in s ? { ...s, source: A.sid } : { source: A.sid, ...s };
    const want = `2["#rtcio:message",${JSON.stringify(stamped)}]`;
    if (raws[i] !== want) {
      const at = [...raws[i]].findIndex((ch, k) => ch !== want[k]);
      throw new Error(`raw packet #${i} differs at ${at}:\n  got  ${raws[i].slice(Math.max(0, at - 40), at + 80)}\n  want ${want.slice(Math.max(0, at - 40), at + 80)}`);
    }
    check(raws[i].includes(`"target":${JSON.stringify(s.target)}`) && raws[i].includes(`"data":${JSON.stringify(s.data)}`), `raw packet #${i}: target/data not byte-exact`);
  }
  B.cursor = B.log.length;
  await C.expect([E("#rtcio:message", { source: A.sid, target: C.sid, data: { sentinel: "A->C" } })], "C: only the sentinel");
  assertDeepEqual(C.raw.filter((s) => s.includes("#rtcio:message")).length, 1, "raw relay packets at C");
  await A.expect([E("#rtcio:message", { source: B.sid, target: A.sid, data: { sentinel: "B->A" } })], "A: only the sentinel, no echo");
  await r.quietAll();
  result("relayed", N);
}

// 7. (split) Presence events of room "stand-up café.1" amid decoy rooms
// whose ids are close to it; the Go test replays them afterwards with
// `rtcmesh presence watch --from-start --room`.
async function presence() {
  const R = "stand-up café.1";
  const decoys = ["stand-up café.10", "stand-up café", "stand-up café=2E1", "stand-up café.1 "];
  const r = new Room(R, "pw7");
  const M1 = await peer("M1", 0);
  const M2 = await peer("M2", 1);
  const D = [];
  for (let i = 0; i < decoys.length; i++) D.push(await peer(`Decoy${i}`, i + 1));
  const dr = decoys.map((id) => new Room(id));

  await dr[0].join(D[0], { name: "Ann" });
  await r.join(M1, { name: "Ann", password: "pw7" });
  await dr[1].join(D[1], { name: "Ben" });
  await r.join(M2, { name: "Ben", password: "pw7" });
  await dr[0].mediaState(D[0], { roomId: decoys[0], mic: true, cam: true });
  await D[0].quiet(decoys[0]);
  await r.mediaState(M1, { roomId: R, mic: true, cam: false });
  await r.mediaState(M2, { roomId: R, mic: "on", cam: false }); // not stored: no presence event
  await r.quietAll();
  await dr[2].join(D[2]);
  await dr[3].join(D[3], { name: "Ann" });
  await dr[3].mediaState(D[3], { roomId: decoys[3], mic: false, cam: false });
  await D[3].quiet(decoys[3]);
  await r.leave(M2); // presence leave, reason "leave"
  await r.quietAll();
  // The decoys leave before M1, so that M1's leave is the last event of
  // the stream: a leaked decoy event would show before it.
  for (let i = 0; i < decoys.length; i++) {
    await dr[i].leave(D[i]);
    assertDeepEqual(await D[i].quiet(decoys[i]), checkOk(decoys[i], false), `decoy room ${i} empty`);
  }
  M1.close(); // presence leave, reason "disconnect"
  // Poll until M1's departure is processed (the room then needs no password).
  const deadline = Date.now() + T;
  for (;;) {
    const answer = await D[0].quiet(R);
    if (isDeepStrictEqual(answer, checkOk(R, false))) break;
    assertDeepEqual(answer, joinError("password-required", R), "check while M1 departs");
    check(Date.now() < deadline, "M1's disconnect was not processed");
    await new Promise((res) => setTimeout(res, 50));
  }
  result("room", JSON.stringify(R));
  result("m1", M1.sid);
  result("m1gw", M1.gw);
  result("m2", M2.sid);
  result("m2gw", M2.gw);
}

// 8. (split) Members held in a password-protected room while the Go test
// runs `rtcmesh rooms show/list`; then they leave and the Go test checks
// again.
async function tools() {
  const room = `tools room ${tag} ü.x`;
  const r = new Room(room, "hunter2");
  const T1 = await peer("T1", 0);
  const T2 = await peer("T2", 1);
  const T3 = await peer("T3", 0);
  const O = await peer("O", 1);
  await r.join(T1, { name: "Tess", password: "hunter2" });
  await r.join(T2, { name: "Uli", password: "hunter2" });
  await r.join(T3, { name: null, password: "hunter2" });
  await r.mediaState(T1, { roomId: room, mic: false, cam: true });
  await r.quietAll(); // every earlier command, KV writes included, is done
  result("room", JSON.stringify(room));
  for (const p of [T1, T2, T3]) {
    result(p.label.toLowerCase(), p.sid);
    result(`${p.label.toLowerCase()}gw`, p.gw);
  }
  await hold("members");
  await r.leave(T2);
  T1.close();
  await r.departed(T1, "disconnect");
  T3.close();
  r.remove(T3);
  const deadline = Date.now() + T;
  for (;;) {
    const answer = await O.quiet(room);
    if (isDeepStrictEqual(answer, checkOk(room, false))) break;
    assertDeepEqual(answer, joinError("password-required", room), "check while T3 departs");
    check(Date.now() < deadline, "T3's disconnect was not processed");
    await new Promise((res) => setTimeout(res, 50));
  }
  await hold("empty");
}

// stdin lines from the Go test, which answers each HOLD (closing stdin
// instead makes the HOLD fail at once).
let stdinLines;
let stdinClosed = false;
const stdinWaiters = [];
function hold(step) {
  if (!stdinLines) {
    stdinLines = [];
    const rl = createInterface({ input: process.stdin });
    const wake = () => {
      for (const w of stdinWaiters.splice(0)) w();
    };
    rl.on("line", (l) => {
      stdinLines.push(l);
      wake();
    });
    rl.on("close", () => {
      stdinClosed = true;
      wake();
    });
  }
  process.stdout.write(`HOLD ${current}.${step}\n`);
  return withTimeout(
    new Promise((resolve, reject) => {
      const take = () => {
        if (stdinLines.length) resolve(stdinLines.shift());
        else if (stdinClosed) reject(new Error(`stdin closed at HOLD ${current}.${step}`));
        else stdinWaiters.push(take);
      };
      take();
    }),
    60000,
    `the Go test to release HOLD ${current}.${step}`,
  );
}

// ---------------------------------------------------------------------------

run(
  `rooms on ${gws.length} gateway(s)`,
  async () => {
    const failed = [];
    for (const name of plan) {
      current = name;
      process.stdout.write(`=== scenario ${name}\n`);
      const started = Date.now();
      try {
        await withTimeout(scenarios[name](), 90000, `scenario ${name}`);
        checkNoSelfEvents();
        process.stdout.write(`SCENARIO PASS ${name} (${Date.now() - started} ms)\n`);
      } catch (e) {
        failed.push(name);
        process.stdout.write(`SCENARIO FAIL ${name}: ${e && e.stack ? e.stack : e}\n`);
      } finally {
        closeAll();
      }
    }
    check(failed.length === 0, `failed scenarios: ${failed.join(", ")}`);
  },
  { timeoutMs: Number(process.env.SIO_SCRIPT_TIMEOUT_MS) || 240000, cleanup: closeAll },
);
