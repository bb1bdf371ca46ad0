// The negative control: two isolated rtcmesh dev processes (each with its
// own embedded NATS) behave like two plain socket.io servers. One tab on
// each joins the same room name; neither may ever see the other: each gets
// join-ok with an empty roster, and no peer or roster entry appears for
// observeMs afterwards. test/browser's mesh test is the positive control.
//
// Usage: node browser_isolated.mjs --gateways=http://A,http://B --room=ROOM [--observe-ms=5000]

import { check, demoState, eventually, flags, log, openDemo, run, waitJoined } from "./browser_lib.mjs";

const { gateways, room, "observe-ms": observe = "5000" } = flags();
const [gwA, gwB] = (gateways || "").split(",");
check(gwA && gwB && room, "want --gateways=URL_A,URL_B --room=ROOM");
const observeMs = Number(observe);

run(
  "two isolated servers",
  async (browser) => {
    const tabs = await Promise.all([
      openDemo(browser, "dave@dev1", gwA, room, "dave"),
      openDemo(browser, "erin@dev2", gwB, room, "erin"),
    ]);
    await waitJoined(tabs, room);

    // Watch for the whole window: any peer, roster entry or reconnect fails.
    const until = Date.now() + observeMs;
    let polls = 0;
    while (Date.now() < until) {
      for (const t of tabs) {
        const s = await demoState(t);
        check(s.sid === t.sid && s.joined, `${t.label} lost its connection: ${JSON.stringify(s)}`);
        check(s.roster.length === 0, `${t.label} sees members on another server: ${JSON.stringify(s.roster)}`);
        check(Object.keys(s.peers).length === 0, `${t.label} has peers on another server: ${JSON.stringify(s.peers)}`);
      }
      polls++;
      await new Promise((r) => setTimeout(r, 250));
    }
    log(`no tab saw the other in ${observeMs} ms (${polls} polls each)`);
  },
  60000,
);
