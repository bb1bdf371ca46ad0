// Drives JWT connect authentication with the stock socket.io-client
// (default transports) against a real `rtcmesh dev --jwt-secret ...`, for
// test/auth.
//
// usage: AUTH_TOKENS='{"alice":..., "bob":..., "badsig":..., "expired":..., "wrongaud":...}' \
//        node auth.mjs --gw=URL --room=ROOM
//
// Checks, in order: each bad token (or none) gets connect_error with the
// expected message and never connects; alice's valid token connects; her
// rooms claim refuses another room (join-room and check-room get
// join-error forbidden) while ROOM (a prefix match) and "lobby" (an exact
// entry) join; bob, without rooms or name claims, joins ROOM and sees
// alice under the name from her token, not the one her client sent.
// Prints "RESULT key=value" lines for the Go test (socket ids).

import { io } from "socket.io-client";
import { assertDeepEqual, check, log, parseArgs, run, waitConnect, waitFor, withTimeout } from "./sio_lib.mjs";

const { flags } = parseArgs();
const gw = flags.gw;
const room = flags.room;
const tokens = JSON.parse(process.env.AUTH_TOKENS || "{}");
const T = Number(flags["step-ms"]) || 15000;

if (!/^https?:\/\//.test(gw || "") || !room) {
  console.error("usage: AUTH_TOKENS=JSON node auth.mjs --gw=URL --room=ROOM");
  process.exit(2);
}

const sockets = [];
function connect(auth) {
  const opts = { reconnection: false, forceNew: true };
  if (auth !== undefined) opts.auth = auth;
  const s = io(gw, opts);
  sockets.push(s);
  return s;
}

// refused connects with auth and requires connect_error with message.
async function refused(name, auth, message) {
  const s = connect(auth);
  let onConnect, onError;
  const outcome = new Promise((resolve) => {
    onConnect = () => resolve({ connected: true });
    onError = (err) => resolve({ err });
    s.once("connect", onConnect);
    s.once("connect_error", onError);
  });
  const r = await withTimeout(outcome, T, `connect_error for ${name}`);
  s.off("connect", onConnect);
  s.off("connect_error", onError);
  check(!r.connected, `${name}: connected, want connect_error ${JSON.stringify(message)}`);
  check(r.err && r.err.message === message, `${name}: connect_error message ${JSON.stringify(r.err && r.err.message)}, want ${JSON.stringify(message)}`);
  check(!s.connected && !s.id, `${name}: socket has an id after connect_error`);
  log(`${name}: refused with ${JSON.stringify(r.err.message)}`);
  s.close();
}

// next waits for the socket's next `event` and returns its arguments.
const next = (s, event, what) => waitFor(s, event, T, what);

run(
  "auth",
  async () => {
    for (const k of ["alice", "bob", "badsig", "expired", "wrongaud", "noaud"]) {
      check(typeof tokens[k] === "string" && tokens[k] !== "", `AUTH_TOKENS lacks ${k}`);
    }
    await refused("no-auth", undefined, "unauthorized: token missing");
    await refused("empty-auth", {}, "unauthorized: token missing");
    await refused("token-not-a-string", { token: 42 }, "unauthorized: token malformed");
    await refused("garbage", { token: "not-a-jwt" }, "unauthorized: token malformed");
    await refused("bad-signature", { token: tokens.badsig }, "unauthorized: bad token signature");
    await refused("expired", { token: tokens.expired }, "unauthorized: token expired");
    await refused("wrong-audience", { token: tokens.wrongaud }, "unauthorized: wrong token audience");
    await refused("no-audience", { token: tokens.noaud }, "unauthorized: wrong token audience");

    const alice = connect({ token: tokens.alice });
    await waitConnect(alice, T, "alice's connect");
    log(`alice connected as ${alice.id}`);

    let p = next(alice, "join-error", "join-error for a room outside alice's claim");
    alice.emit("join-room", { roomId: "secret", name: "Alice" });
    assertDeepEqual(await p, [{ reason: "forbidden", roomId: "secret" }], "join-room secret");

    p = next(alice, "join-error", "join-error for check-room outside the claim");
    alice.emit("check-room", { roomId: "secret" });
    assertDeepEqual(await p, [{ reason: "forbidden", roomId: "secret" }], "check-room secret");

    p = next(alice, "room-check-ok", "room-check-ok for an allowed room");
    alice.emit("check-room", { roomId: room });
    assertDeepEqual(await p, [{ roomId: room, passwordRequired: false }], "check-room allowed");

    p = next(alice, "join-ok", "alice's join-ok (prefix entry)");
    alice.emit("join-room", { roomId: room, name: "spoofed by the client" });
    assertDeepEqual(await p, [{ roomId: room }], "join-room by prefix");

    p = next(alice, "join-ok", "alice's join-ok (exact entry)");
    alice.emit("join-room", { roomId: "lobby" });
    assertDeepEqual(await p, [{ roomId: "lobby" }], "join-room lobby");

    const bob = connect({ token: tokens.bob });
    await waitConnect(bob, T, "bob's connect");
    const uc = next(bob, "user-connected", "bob's backfill of alice");
    p = next(bob, "join-ok", "bob's join-ok");
    const aliceSees = next(alice, "user-connected", "alice hearing of bob");
    bob.emit("join-room", { roomId: room, name: "Bob" });
    assertDeepEqual(await uc, [{ id: alice.id, name: "Alice (token)" }], "bob's user-connected for alice");
    assertDeepEqual(await p, [{ roomId: room }], "bob's join-ok");
    assertDeepEqual(await aliceSees, [{ id: bob.id, name: "Bob" }], "alice's user-connected for bob");

    process.stdout.write(`RESULT alice=${alice.id}\nRESULT bob=${bob.id}\n`);
  },
  { timeoutMs: 120000, cleanup: () => sockets.forEach((s) => s.close()) },
);
