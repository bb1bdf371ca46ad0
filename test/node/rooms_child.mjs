// A room member in its own process, for rooms_scenarios.mjs to SIGKILL:
// connects with the stock client (polling, then upgrade), waits for the
// WebSocket upgrade (a killed process then closes a TCP connection the
// gateway reads from, instead of leaving a long-poll for the heartbeat to
// find), joins the room and prints "READY <sid>", then idles until killed
// (or exits by itself after --lifetime-ms, so it can never be orphaned).
//
// With --transport=polling the client is pinned to HTTP long-polling (no
// upgrade): a killed process then aborts its pending poll request.
//
// usage: node rooms_child.mjs --url=URL --room=ROOM [--name=NAME] [--transport=polling] [--lifetime-ms=60000]

import { io } from "socket.io-client";
import { log, parseArgs, waitConnect, waitFor } from "./sio_lib.mjs";

const { flags } = parseArgs();
const T = 15000;
if (!flags.url || !flags.room) {
  console.error("usage: node rooms_child.mjs --url=URL --room=ROOM [--name=NAME] [--transport=polling] [--lifetime-ms=60000]");
  process.exit(2);
}

setTimeout(() => {
  log("child: lifetime over, exiting");
  process.exit(3);
}, Number(flags["lifetime-ms"]) || 60000);

try {
  const polling = flags.transport === "polling";
  const s = io(flags.url, { forceNew: true, reconnection: false, ...(polling ? { transports: ["polling"] } : {}) });
  await waitConnect(s, T, "child connect");
  if (!polling && s.io.engine.transport.name !== "websocket") {
    await waitFor(s.io.engine, "upgrade", T, "child upgrade to websocket");
  }
  const joined = waitFor(s, "join-ok", T, "child join-ok");
  s.emit("join-room", flags.name === undefined ? { roomId: flags.room } : { roomId: flags.room, name: flags.name });
  const [ok] = await joined;
  if (!ok || ok.roomId !== flags.room) throw new Error(`child: join-ok ${JSON.stringify(ok)}`);
  if (polling) {
    // Report only once the next long-poll GET is out (it is issued right
    // after the response that carried join-ok is handled), plus a margin for
    // it to reach the gateway: killed with a poll pending, the client is
    // found by the aborted request, not by the heartbeat.
    const transport = s.io.engine.transport;
    if (!transport._polling) await waitFor(transport, "poll", T, "child next poll");
    await new Promise((resolve) => setTimeout(resolve, Number(flags["poll-margin-ms"] ?? 100)));
  }
  process.stdout.write(`READY ${s.id}\n`);
} catch (e) {
  process.stdout.write(`FAILED ${e && e.message}\n`);
  process.exit(1);
}
