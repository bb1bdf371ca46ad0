// Drives the stock socket.io-client against the conformance fixture
// (`rtcmesh conformance`): "/" emits "auth" on connect, echoes "message" as
// "message-back" and acks "message-with-ack" with its own arguments.
//
// usage: node sio_conformance.mjs <url> [--transport=default|polling|websocket]
//
// default:   stock options; the client starts on polling and must upgrade
//            to websocket.
// polling:   transports: ["polling"]; it must stay on polling.
// websocket: transports: ["websocket"]; it starts and stays on websocket.

import { randomBytes } from "node:crypto";
import { io } from "socket.io-client";
import {
  assertDeepEqual,
  bytesOf,
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
const url = pos[0];
const mode = flags.transport || "default";
const T = 10000; // per-step timeout (generous: the machine may be loaded)

if (!url) {
  console.error("usage: node sio_conformance.mjs <url> [--transport=default|polling|websocket]");
  process.exit(2);
}

let socket;

run(`conformance ${mode}`, async () => {
  const opts = transportOptions(mode);
  log("connecting", url, "mode", mode, "options", opts);
  socket = io(url, opts);

  // Anything that ends the connection while the test runs is a failure.
  let broken;
  const fatal = new Promise((_, reject) => {
    broken = reject;
  });
  fatal.catch(() => {});
  socket.on("disconnect", (reason, desc) => broken(new Error(`unexpected disconnect: ${reason} ${desc ? desc.message || desc : ""}`)));
  socket.io.on("error", (err) => log("manager error (client will retry):", err && err.message));
  const guard = (p) => Promise.race([p, fatal]);

  const engine = socket.io.engine;
  check(engine, "socket.io.engine must exist once io() returned (autoConnect)");
  const first = engine.transport && engine.transport.name;
  const wantFirst = mode === "websocket" ? "websocket" : "polling";
  check(first === wantFirst, `first transport is ${first}, want ${wantFirst}`);
  const upgrades = [];
  engine.on("upgrade", (t) => {
    log("engine upgraded to", t.name);
    upgrades.push(t.name);
  });
  engine.on("upgradeError", (err) => log("upgrade error:", err && err.message));
  const authP = waitFor(socket, "auth", T, `"auth" from "/"`);

  await guard(waitConnect(socket, T));
  check(typeof socket.id === "string" && socket.id.length > 0, `socket.id ${socket.id} must be a non-empty string`);
  log("connected, socket id", socket.id, "engine id", engine.id, "transport", engine.transport.name);

  const auth = await guard(authP);
  assertDeepEqual(auth, [{}], `"auth" args (no auth given)`);
  log("auth ok:", auth);

  // The first batch starts right away. In default mode the upgrade may
  // still be under way (the CONNECT reply itself often crosses it: queued
  // while polling, delivered over the new websocket).
  await guard(roundTrips("batch 1"));

  if (mode === "default") {
    if (upgrades.length === 0) await guard(waitFor(engine, "upgrade", T, "the engine upgrade to websocket"));
    check(engine.transport.name === "websocket", `after upgrade transport is ${engine.transport.name}, want websocket`);
    await guard(roundTrips("batch 2 (after upgrade)"));
  }

  // Heartbeats keep working on the final transport (the fixture pings
  // every 300 ms and closes a session whose pong is late).
  for (let i = 1; i <= 2; i++) {
    await guard(waitFor(engine, "ping", T, `ping #${i}`));
  }
  log("received 2 pings on", engine.transport.name);
  await guard(roundTrips("batch 3 (after pings)"));

  const want = mode === "polling" ? "polling" : "websocket";
  check(engine.transport.name === want, `final transport is ${engine.transport.name}, want ${want}`);
  assertDeepEqual(upgrades, mode === "default" ? ["websocket"] : [], "engine upgrade events");
  check(socket.connected, "socket must still be connected");
  log("transport", engine.transport.name, "upgrades", upgrades);
});

async function roundTrips(label) {
  log(label, "on", socket.io.engine.transport.name);

  // emitWithAck with a plain value and with binary.
  const n = await socket.timeout(T).emitWithAck("message-with-ack", 42);
  assertDeepEqual(n, 42, `${label}: ack of 42`);

  const obj = { a: [1, "2", { b: true, c: null }], s: "héllo ✓ <&> \"q\" \u2028", f: 1.5, neg: -7 };
  const o = await socket.timeout(T).emitWithAck("message-with-ack", obj);
  assertDeepEqual(o, obj, `${label}: ack of an object`);

  const buf = Buffer.from([0, 1, 2, 3, 127, 128, 254, 255]);
  const b = await socket.timeout(T).emitWithAck("message-with-ack", buf);
  check(isBinary(b), `${label}: binary ack must be binary, got ${typeof b} ${JSON.stringify(b)}`);
  check(Buffer.from(bytesOf(b)).equals(buf), `${label}: binary ack bytes ${Buffer.from(bytesOf(b)).toString("hex")}, want ${buf.toString("hex")}`);

  const u8 = new Uint8Array([9, 8, 7, 0, 6]);
  const u = await socket.timeout(T).emitWithAck("message-with-ack", u8);
  check(isBinary(u), `${label}: Uint8Array ack must be binary`);
  assertDeepEqual(u, u8, `${label}: ack of a Uint8Array`);

  // Every ack argument, mixing JSON and binary (top-level and nested).
  const big = randomBytes(64 * 1024);
  const mixed = [1, "2", { 3: [true] }, Buffer.from("bin"), { nested: Buffer.from([4, 5]), list: [Buffer.from([6])] }, big, Buffer.alloc(0)];
  const all = await emitAckAll(socket, T, "message-with-ack", ...mixed);
  assertDeepEqual(all, mixed, `${label}: all ack args (mixed JSON and binary)`);

  // message -> message-back, JSON only and with binary.
  let back = waitFor(socket, "message-back", T, `${label}: "message-back" (JSON)`);
  socket.emit("message", 1, "2", { 3: [true] });
  assertDeepEqual(await back, [1, "2", { 3: [true] }], `${label}: message-back (JSON)`);

  const payload = ["text", Buffer.from([1, 2, 3]), { k: Buffer.from([4]) }, new Uint8Array([250, 251])];
  back = waitFor(socket, "message-back", T, `${label}: "message-back" (binary)`);
  socket.emit("message", ...payload);
  const args = await back;
  assertDeepEqual(args, payload, `${label}: message-back (binary)`);
  check(isBinary(args[1]) && isBinary(args[2].k) && isBinary(args[3]), `${label}: message-back binary args must arrive as binary`);

  // Concurrent acks are matched to their own emits.
  const many = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      withTimeout(socket.timeout(T).emitWithAck("message-with-ack", { i, bin: Buffer.from([i]) }), T + 1000, `${label}: concurrent ack ${i}`),
    ),
  );
  many.forEach((r, i) => assertDeepEqual(r, { i, bin: Buffer.from([i]) }, `${label}: concurrent ack ${i}`));
  log(label, "ok");
}
