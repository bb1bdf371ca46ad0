// rtcmesh demo: a small mesh video call speaking the rtc.io signaling
// contract (docs/rtcio-protocol.md) over our own Socket.IO client.
//
// Roles: when someone joins, the server sends #rtcio:init-offer {source:
// newcomer} to every EXISTING member, which creates a POLITE peer and makes
// the offer. The newcomer stays passive and creates an IMPOLITE peer when
// the first message from that member arrives. Negotiation follows the W3C
// "perfect negotiation" pattern, so renegotiation from either side is safe.

import { SioClient } from "./sio.js";

const params = new URLSearchParams(location.search);
const roomId = params.get("room") || "";
const myName = params.get("name") || `guest-${Math.random().toString(36).slice(2, 6)}`;
const $ = (id) => document.getElementById(id);

const state = {
  sid: null, // our socket id; a new one after every reconnect
  joined: false,
  status: "starting",
  iceServers: [],
  local: null, // our MediaStream, or null when capture failed
  mic: true,
  cam: true,
  roster: new Map(), // id -> {name, mic, cam}: the other members
  peers: new Map(), // id -> peer (see createPeer)
};

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const sio = new SioClient(`${scheme}//${location.host}/socket.io/?EIO=4&transport=websocket`);

// ---- signaling -------------------------------------------------------------

sio.on("connect", async (sid) => {
  state.sid = sid;
  setStatus("connected, asking for ICE servers");
  // Peers are created only after join-ok, so the ICE servers are known by
  // then. A server without TURN answers with an empty list, which is fine
  // for host candidates; if it does not answer at all we go on without.
  try {
    const reply = await sio.emitWithAck("ask-ice", 5000);
    state.iceServers = Array.isArray(reply?.iceServers) ? reply.iceServers : [];
  } catch (err) {
    console.warn(err.message);
    state.iceServers = [];
  }
  if (sio.sid !== sid) return; // dropped while waiting; the next connect re-joins
  setStatus(`joining ${roomId}`);
  sio.emit("join-room", { roomId, name: myName });
});

sio.on("disconnect", () => {
  // Our socket id dies with the connection and the server tells the others
  // we left, so every peer connection is stale: drop them all. After the
  // reconnect we join as a newcomer and the others offer to our new id.
  state.sid = null;
  state.joined = false;
  for (const id of [...state.peers.keys()]) removePeer(id);
  state.roster.clear();
  render();
});

sio.on("reconnecting", (delay) => setStatus(`disconnected; reconnecting in ${(delay / 1000).toFixed(1)} s`));
sio.on("connect_error", (err) => setStatus(`refused by server: ${err?.message ?? "unknown"}`));

sio.on("join-ok", () => {
  state.joined = true;
  setStatus(`in room ${roomId}`);
  sendMediaState(); // so the others (and later newcomers, via backfill) know it
});

sio.on("join-error", ({ reason } = {}) => setStatus(`cannot join ${roomId}: ${reason}`));

// The backfill of existing members arrives before join-ok; later joiners
// arrive just before their init-offer.
sio.on("user-connected", ({ id, name } = {}) => {
  if (!id || id === state.sid) return;
  const prev = state.roster.get(id) || {};
  state.roster.set(id, { ...prev, name: name ?? prev.name ?? id });
  render();
});

sio.on("user-disconnected", ({ id } = {}) => {
  state.roster.delete(id);
  removePeer(id);
  render();
});

sio.on("#rtcio:peer-left", ({ id } = {}) => removePeer(id));

sio.on("media-state", ({ id, mic, cam } = {}) => {
  if (!id || id === state.sid) return;
  const prev = state.roster.get(id) || { name: id };
  state.roster.set(id, { ...prev, mic, cam });
  render();
});

// We are an existing member and `source` just joined: we are the polite
// side and make the offer (adding our tracks fires negotiationneeded).
sio.on("#rtcio:init-offer", ({ source } = {}) => {
  if (!source || source === state.sid) return;
  removePeer(source); // never keep two connections to one socket
  createPeer(source, true);
});

sio.on("#rtcio:message", ({ source, data } = {}) => {
  if (!source || !data || source === state.sid) return;
  let peer = state.peers.get(source);
  if (!peer) {
    // A stranger's first message makes us the impolite side. Only a
    // description can open a connection; a stray candidate from a socket
    // we no longer know (it left meanwhile) would just leave a ghost peer.
    if (!data.description) return;
    peer = createPeer(source, false);
  }
  // Handle one peer's messages strictly in arrival order: a candidate must
  // not overtake the description it belongs to.
  peer.queue = peer.queue
    .then(() => onSignal(peer, data))
    .catch((err) => console.warn(`signal from ${source}:`, err));
});

function signal(peer, data) {
  sio.emit("#rtcio:message", { source: state.sid, target: peer.id, data });
}

// ---- peers and perfect negotiation ----------------------------------------

function createPeer(id, polite) {
  const pc = new RTCPeerConnection({ iceServers: state.iceServers });
  const peer = {
    id,
    pc,
    polite,
    makingOffer: false,
    ignoreOffer: false,
    answerPending: false,
    queue: Promise.resolve(),
    framesDecoded: 0,
    tile: makeTile(),
  };
  state.peers.set(id, peer);

  pc.onnegotiationneeded = async () => {
    try {
      peer.makingOffer = true;
      await pc.setLocalDescription(); // creates the offer
      signal(peer, { description: pc.localDescription.toJSON() });
    } catch (err) {
      console.warn(`offer to ${id}:`, err);
    } finally {
      peer.makingOffer = false;
    }
  };
  pc.onicecandidate = ({ candidate }) => {
    // null marks the end of gathering; rtc.io sends only real candidates.
    if (candidate) signal(peer, { candidate: candidate.toJSON() });
  };
  pc.ontrack = ({ track, streams }) => {
    const video = peer.tile.querySelector("video");
    if (!video.srcObject) video.srcObject = streams[0] || new MediaStream();
    if (!video.srcObject.getTracks().includes(track)) video.srcObject.addTrack(track);
    playWithSound(video);
  };
  pc.onconnectionstatechange = () => render();
  pc.oniceconnectionstatechange = () => {
    // ICE usually fails on both sides at once; letting only the polite side
    // restart it avoids a needless offer collision.
    if (pc.iceConnectionState === "failed" && polite) pc.restartIce();
  };

  if (state.local) {
    for (const track of state.local.getTracks()) pc.addTrack(track, state.local);
  } else if (polite) {
    // Without a camera we still want to see the others: ask to receive.
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  render();
  return peer;
}

async function onSignal(peer, { description, candidate }) {
  const pc = peer.pc;
  if (pc.signalingState === "closed") return;
  if (description) {
    // An offer collides with our own when we are making one or already
    // have one outstanding. The impolite side ignores the other's offer;
    // the polite side yields: setRemoteDescription(offer) rolls back its
    // own offer implicitly and answers instead.
    const readyForOffer = !peer.makingOffer && (pc.signalingState === "stable" || peer.answerPending);
    const collision = description.type === "offer" && !readyForOffer;
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    peer.answerPending = description.type === "answer";
    await pc.setRemoteDescription(description);
    peer.answerPending = false;
    if (description.type === "offer") {
      await pc.setLocalDescription(); // creates the answer
      signal(peer, { description: pc.localDescription.toJSON() });
    }
    if (collision) {
      // Chromium (seen in 148) stops encoding video on a sender whose
      // offer was rolled back: the other side's picture freezes. Handing
      // the sender its own track again restarts it.
      for (const sender of pc.getSenders()) if (sender.track) await sender.replaceTrack(sender.track);
    }
  } else if (candidate) {
    try {
      await pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored are expected to fail.
      if (!peer.ignoreOffer) throw err;
    }
  }
}

function removePeer(id) {
  const peer = state.peers.get(id);
  if (!peer) return;
  state.peers.delete(id);
  peer.pc.close();
  peer.tile.remove();
  render();
}

// framesDecoded comes from getStats(), which is asynchronous, so it is
// sampled once a second and cached for the UI and the test hook.
setInterval(async () => {
  for (const peer of state.peers.values()) {
    try {
      const report = await peer.pc.getStats();
      let frames = 0;
      report.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
      });
      peer.framesDecoded = frames;
    } catch {
      // closed meanwhile
    }
  }
  render();
}, 1000);

// ---- local media and controls ---------------------------------------------

function sendMediaState() {
  if (state.joined) sio.emit("media-state", { roomId, mic: state.mic, cam: state.cam });
}

function toggle(what) {
  state[what] = !state[what];
  const kind = what === "mic" ? "audio" : "video";
  for (const track of state.local?.getTracks() || []) {
    if (track.kind === kind) track.enabled = state[what]; // no renegotiation needed
  }
  sendMediaState();
  render();
}

// Autoplay with sound may be refused without a user gesture: fall back to
// muted playback and let a click on the tile turn the sound on.
function playWithSound(video) {
  video.play().catch(() => {
    video.muted = true;
    video.title = "click to unmute";
    video.onclick = () => {
      video.muted = false;
      video.title = "";
    };
    video.play().catch(() => {});
  });
}

// ---- rendering -------------------------------------------------------------

function makeTile() {
  const tile = $("tile-tpl").content.firstElementChild.cloneNode(true);
  $("tiles").append(tile);
  return tile;
}

function flags(m) {
  const f = (on, label) => (on === false ? `${label} off` : on === true ? `${label} on` : "");
  return [f(m.mic, "mic"), f(m.cam, "cam")].filter(Boolean).join(", ");
}

function setStatus(text) {
  state.status = text;
  render();
}

function render() {
  $("status").textContent = state.status;
  $("mic").textContent = state.mic ? "Mute mic" : "Unmute mic";
  $("cam").textContent = state.cam ? "Stop camera" : "Start camera";
  $("local-label").textContent = `${myName} (you${state.sid ? `, ${state.sid}` : ""})`;
  const names = [...state.roster.values()].map((m) => m.name);
  $("roster").textContent = names.length ? `With you: ${names.join(", ")}` : "Nobody else is here yet.";
  for (const [id, peer] of state.peers) {
    const member = state.roster.get(id) || { name: id };
    peer.tile.querySelector(".name").textContent = member.name;
    peer.tile.querySelector(".media").textContent = flags(member);
    peer.tile.querySelector(".conn").textContent = `${peer.pc.connectionState}, ${peer.framesDecoded} frames`;
  }
}

// ---- test hook and start ---------------------------------------------------

// Read-only view for tests and curious humans (try rtcmeshDemo.state()).
window.rtcmeshDemo = Object.freeze({
  get sid() {
    return state.sid;
  },
  roomId,
  state: () => ({
    sid: state.sid,
    roomId,
    joined: state.joined,
    status: state.status,
    peers: Object.fromEntries(
      [...state.peers].map(([id, p]) => [
        id,
        {
          name: state.roster.get(id)?.name ?? null,
          polite: p.polite,
          connectionState: p.pc.connectionState,
          framesDecoded: p.framesDecoded,
        },
      ]),
    ),
    roster: [...state.roster].map(([id, m]) => ({ id, name: m.name, mic: m.mic, cam: m.cam })),
  }),
});

async function start() {
  if (!roomId) {
    $("join").hidden = false; // a plain GET form: submitting reloads with ?room=&name=
    return;
  }
  $("call").hidden = false;
  document.title = `${roomId} · rtcmesh`;
  $("room").textContent = roomId;
  $("mic").onclick = () => toggle("mic");
  $("cam").onclick = () => toggle("cam");
  setStatus("starting camera");
  try {
    state.local = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    $("local").srcObject = state.local;
  } catch (err) {
    console.warn("getUserMedia:", err);
    state.mic = state.cam = false;
    $("mic").disabled = $("cam").disabled = true;
  }
  setStatus("connecting");
  sio.connect();
}

start();
