// A three-party call through two gateways: the demo page in three tabs
// (alice and bob on gateway A, carol on gateway B), all in one room.
//
// Checks, in order:
//  1. every tab joins and gets a socket id;
//  2. every tab has exactly one RTCPeerConnection per other tab, keyed by
//     its socket id and named after it, "connected" and decoding video;
//     exactly one side of each pair is polite (one init-offer per pair);
//  3. video keeps flowing (framesDecoded grows by 20+) on every connection,
//     also after every tab restarts ICE on every connection at once: offer
//     glare that perfect negotiation must settle, with the polite side
//     yielding at least once;
//  4. carol's mic toggle reaches the others as media-state;
//  5. closing bob's tab removes bob from the others' peers and rosters
//     within 15 s, and alice and carol stay connected;
//  6. the Go test kills gateway B (SIGKILL) and starts a new one on the same
//     address: carol's page reconnects, gets a new socket id and joins
//     again; alice sees carol's old id leave (the room service reaps the
//     dead gateway's sockets when its lease expires) and connects to the
//     new one with video; both see each other's media state.
//
// Steps that need the servers changed are requested from the Go test over
// stdout/stdin (askGo).
//
// Usage: node browser_mesh.mjs --gateways=http://A,http://B --room=ROOM

import { allStates, askGo, check, demoState, eventually, flags, log, openDemo, run, waitJoined } from "./browser_lib.mjs";

const { gateways, room } = flags();
const [gwA, gwB] = (gateways || "").split(",");
check(gwA && gwB && room, "want --gateways=URL_A,URL_B --room=ROOM");

run(
  "three tabs on two gateways",
  async (browser) => {
    // Open all three at once: concurrent joins are the interesting case.
    const tabs = await Promise.all([
      openDemo(browser, "alice@A", gwA, room, "alice"),
      openDemo(browser, "bob@A", gwA, room, "bob"),
      openDemo(browser, "carol@B", gwB, room, "carol"),
    ]);
    const detail = () => allStates(tabs);

    // 1. Joined.
    await waitJoined(tabs, room);
    const others = (t) => tabs.filter((o) => o !== t);

    // videoFlows waits until every listed connection (tab t receiving from
    // o) has decoded at least minFrames more frames. A frozen picture never
    // gets there. Chromium may recreate a receiver's stats after a
    // renegotiation, restarting framesDecoded, so growth is summed over
    // samples rather than taken as one difference.
    const minFrames = 20;
    const videoFlows = async (pairs, what) => {
      const key = ([t, o]) => `${t.label}<-${o.label}`;
      const last = {};
      const grown = {};
      const sample = async () => {
        for (const [t, o] of pairs) {
          const f = (await demoState(t)).peers[o.sid]?.framesDecoded ?? 0;
          const k = key([t, o]);
          if (k in last) grown[k] += f >= last[k] ? f - last[k] : f;
          else grown[k] = 0;
          last[k] = f;
        }
        return pairs.every((p) => grown[key(p)] >= minFrames);
      };
      const t0 = Date.now();
      await eventually(sample, 15000, `${what}: ${minFrames} more decoded frames on every connection`, {
        detail: async () => ({ grown, states: await allStates(pairs.map(([t]) => t)) }),
      });
      log(`${what}: video flowing (${Date.now() - t0} ms; frames grown ${JSON.stringify(grown)})`);
    };
    const allPairs = () => tabs.flatMap((t) => others(t).map((o) => [t, o]));

    // 2. Full mesh, connected, decoding video.
    const meshReady = async () => {
      for (const t of tabs) {
        const s = await demoState(t);
        if (s.sid !== t.sid) throw new Error(`${t.label} reconnected (sid ${t.sid} -> ${s.sid}); the test expects a stable connection`);
        const want = others(t).map((o) => o.sid).sort();
        const got = Object.keys(s.peers).sort();
        if (got.join() !== want.join()) return false;
        for (const o of others(t)) {
          const p = s.peers[o.sid];
          if (p.connectionState !== "connected" || !(p.framesDecoded > 0)) return false;
        }
      }
      return true;
    };
    const t0 = Date.now();
    await eventually(meshReady, 45000, "every pair connected with decoded video", { detail });
    log(`full mesh connected and decoding after ${Date.now() - t0} ms`);

    const states = await allStates(tabs);
    for (const t of tabs) {
      for (const o of others(t)) {
        const p = states[t.label].peers[o.sid];
        check(p.name === o.name, `${t.label} names ${o.label}'s peer ${JSON.stringify(p.name)}, want ${JSON.stringify(o.name)}`);
        const q = states[o.label].peers[t.sid];
        check(p.polite !== q.polite, `${t.label} and ${o.label} are both ${p.polite ? "polite" : "impolite"}: want exactly one init-offer per pair`);
      }
      const roster = states[t.label].roster.map((m) => m.id).sort();
      check(roster.join() === others(t).map((o) => o.sid).sort().join(), `${t.label} roster ${roster} lacks or has extra members`);
    }

    // 3. Video keeps flowing on every connection.
    await videoFlows(allPairs(), "mesh");

    // 3b. Glare: every tab restarts ICE on every connection at the same
    // instant, so both sides of each pair offer at once. Perfect
    // negotiation must settle every pair (the polite side yields) with
    // video still flowing both ways.
    const at = Date.now() + 500;
    await Promise.all(tabs.map((t) => t.page.evaluate((at) => {
      setTimeout(() => {
        for (const pc of window.__pcProbe.pcs) if (pc.signalingState !== "closed") pc.restartIce();
      }, at - Date.now());
    }, at)));
    const probes = () => Promise.all(tabs.map((t) => t.page.evaluate(() => ({
      yields: window.__pcProbe.yields,
      pcs: window.__pcProbe.pcs.filter((pc) => pc.signalingState !== "closed").map((pc) => `${pc.signalingState}/${pc.connectionState}`),
    }))));
    await eventually(async () => {
      const ps = await probes();
      return Date.now() > at + 1000 && ps.every((p) => p.pcs.length === 2 && p.pcs.every((s) => s === "stable/connected"));
    }, 20000, "every connection to settle after the ICE-restart glare", { detail: probes });
    const yields = (await probes()).reduce((n, p) => n + p.yields, 0);
    log(`glare settled; polite sides yielded ${yields} time(s)`);
    check(yields > 0, "no offer collision happened: the glare step tested nothing");
    await videoFlows(allPairs(), "after the glare");

    // 4. media-state crosses gateways with carol's id stamped.
    const [alice, bob, carol] = tabs;
    await carol.page.click("#mic");
    for (const t of [alice, bob]) {
      await eventually(async () => {
        const m = (await demoState(t)).roster.find((r) => r.id === carol.sid);
        return m && m.mic === false && m.cam === true;
      }, 10000, `${t.label} to see carol's mic off`, { detail });
    }
    log("carol's mic-off reached alice and bob");

    // 5. Closing a tab closes its WebSocket: the others must drop it.
    const closedAt = Date.now();
    await bob.page.close();
    const rest = [alice, carol];
    await eventually(async () => {
      for (const t of rest) {
        const s = await demoState(t);
        if (bob.sid in s.peers || s.roster.some((m) => m.id === bob.sid)) return false;
      }
      return true;
    }, 15000, "alice and carol to see bob leave", { detail: () => allStates(rest) });
    log(`bob's departure seen by alice and carol after ${Date.now() - closedAt} ms`);
    const a = await demoState(alice);
    const c = await demoState(carol);
    check(a.peers[carol.sid]?.connectionState === "connected", `alice lost carol: ${JSON.stringify(a.peers)}`);
    check(c.peers[alice.sid]?.connectionState === "connected", `carol lost alice: ${JSON.stringify(c.peers)}`);

    // 6. Gateway B dies and comes back on the same address.
    const oldCarol = carol.sid;
    const killedAt = Date.now();
    await askGo("restart gateway B", 30000);
    const rejoined = await eventually(async () => {
      const s = await demoState(carol);
      return s.joined && s.sid && s.sid !== oldCarol ? s : null;
    }, 30000, "carol to reconnect and join again", { detail: () => allStates(rest) });
    carol.sid = rejoined.sid;
    log(`carol rejoined as ${carol.sid} ${Date.now() - killedAt} ms after the kill`);
    await eventually(async () => {
      const s = await demoState(alice);
      return !(oldCarol in s.peers) && !s.roster.some((m) => m.id === oldCarol);
    }, 20000, "alice to see carol's old socket leave", { detail: () => allStates(rest) });
    log(`alice dropped carol's old socket ${Date.now() - killedAt} ms after the kill`);
    await eventually(async () => {
      const a = await demoState(alice);
      const c = await demoState(carol);
      return a.peers[carol.sid]?.connectionState === "connected" && c.peers[alice.sid]?.connectionState === "connected";
    }, 30000, "alice and the new carol to connect", { detail: () => allStates(rest) });
    await videoFlows([[alice, carol], [carol, alice]], "after the gateway restart");
    // Media state survives too: carol got alice's from the join backfill,
    // and her page re-sent her own (mic still off) after joining again.
    await eventually(async () => {
      const am = (await demoState(carol)).roster.find((m) => m.id === alice.sid);
      const cm = (await demoState(alice)).roster.find((m) => m.id === carol.sid);
      return am?.mic === true && am?.cam === true && cm?.mic === false && cm?.cam === true;
    }, 10000, "media state after the restart (alice mic+cam on, carol mic off)", { detail: () => allStates(rest) });
    const a2 = await demoState(alice);
    check(Object.keys(a2.peers).join() === carol.sid, `alice's peers after the restart: ${JSON.stringify(a2.peers)}`);
    log(`alice and carol connected again ${Date.now() - killedAt} ms after the kill`);
  },
  80000,
);
