// Opens many stock socket.io-client connections at once against the server
// of test/sioclient/many_test.go, round-trips an ack on each, then closes
// them all and waits until the server has seen every disconnect.
//
// usage: node sio_many.mjs <url> [--clients=200] [--transport=default|polling|websocket]
//
// The server's "/" acks "echo" with its arguments; "/control" acks "stats"
// with {connects, disconnects, engineSessions} for "/". The control
// connection is separate (websocket) and is not counted in connects.

import { io } from "socket.io-client";
import {
  assertDeepEqual,
  check,
  emitAckAll,
  eventually,
  log,
  parseArgs,
  run,
  transportOptions,
  waitConnect,
  withTimeout,
} from "./sio_lib.mjs";

const { pos, flags } = parseArgs();
const url = pos[0];
const n = Number(flags.clients || 200);
const mode = flags.transport || "default";
const T = Number(flags["step-timeout-ms"] || 30000);

if (!url || !(n > 0)) {
  console.error("usage: node sio_many.mjs <url> [--clients=200] [--transport=default|polling|websocket]");
  process.exit(2);
}

const opened = [];

run(
  `many ${n} ${mode}`,
  async () => {
    const control = io(url + "/control", { transports: ["websocket"], forceNew: true, reconnection: false });
    opened.push(control);
    await waitConnect(control, T, "control connect");
    const stats = () => control.timeout(T).emitWithAck("stats");
    const before = await stats();
    assertDeepEqual(before, { connects: 0, disconnects: 0, engineSessions: 1 }, "stats before the clients");

    const started = Date.now();
    let disconnectedEarly = 0;
    const clients = Array.from({ length: n }, (_, i) => {
      const s = io(url, { ...transportOptions(mode), forceNew: true, reconnection: false });
      opened.push(s);
      s.on("disconnect", (reason) => {
        if (!s.closing) {
          disconnectedEarly++;
          log(`client ${i}: unexpected disconnect: ${reason}`);
        }
      });
      return s;
    });

    // All connect and ack concurrently; each checks its own echo.
    let acked = 0;
    await Promise.all(
      clients.map(async (s, i) => {
        await waitConnect(s, T, `connect of client ${i}`);
        const args = [{ i, nonce: Math.random().toString(36).slice(2) }, Buffer.from([i & 0xff, i >> 8])];
        const got = await withTimeout(emitAckAll(s, T, "echo", ...args), T + 1000, `ack of client ${i}`);
        assertDeepEqual(got, args, `client ${i} echo`);
        acked++;
      }),
    );
    log(`${acked}/${n} clients connected and acked in ${Date.now() - started} ms`);
    check(acked === n, `${acked} of ${n} acks`);
    check(disconnectedEarly === 0, `${disconnectedEarly} clients disconnected during the run`);

    const ids = new Set(clients.map((s) => s.id));
    check(ids.size === n, `${ids.size} distinct socket ids, want ${n}`);
    const engines = new Set(clients.map((s) => s.io.engine.id));
    check(engines.size === n, `${engines.size} distinct engine sessions, want ${n} (forceNew)`);

    const during = await stats();
    assertDeepEqual(during, { connects: n, disconnects: 0, engineSessions: n + 1 }, "stats with every client connected");

    if (mode === "default") {
      // Every connection completes its upgrade, even with n of them at once.
      await eventually(() => clients.every((s) => s.io.engine.transport.name === "websocket"), T, "every engine to upgrade to websocket", 50);
      log("all engines upgraded to websocket");
    } else {
      const wrong = clients.filter((s) => s.io.engine.transport.name !== mode).length;
      check(wrong === 0, `${wrong} clients are not on ${mode}`);
    }

    // Close them all and wait until the server has counted every
    // disconnect and dropped every engine session but the control's.
    for (const s of clients) {
      s.closing = true;
      s.disconnect();
    }
    const after = await eventually(
      async () => {
        const st = await stats();
        return st.disconnects === n && st.engineSessions === 1 ? st : null;
      },
      T,
      `the server to see ${n} disconnects and 1 engine session`,
      50,
    );
    assertDeepEqual(after, { connects: n, disconnects: n, engineSessions: 1 }, "stats after closing");
    log("server saw", after);
    control.disconnect();
  },
  { timeoutMs: Number(process.env.SIO_SCRIPT_TIMEOUT_MS) || 90000, cleanup: () => opened.forEach((s) => s.disconnect()) },
);
