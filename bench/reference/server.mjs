// Node reference server for `make bench` comparisons. It is not part of
// rtcmesh: it stands in for what rtcmesh replaces, so the benchmarks can
// measure both side by side. It behaves like rtc.io-server 1.2 with its
// default handlers (#rtcio:message relay, #rtcio:peer-left) plus the rtc.io
// example server's room logic (join/check/leave with room passwords,
// media-state, chat-message, stopScreenShare), on socket.io 4.8.3 with
// default options. Like the reference, it has no auth, rate limits or room
// cap, and its state is process-local.
//
//   PORT=3001 [HOST=0.0.0.0] [RTCIO_RECOVERY=1] node server.mjs
//
// Prints "listening <port>" once listening; exits 0 on SIGTERM/SIGINT.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT || 3001);
const host = process.env.HOST || undefined;

// socket.io hands requests outside /socket.io/ to the server's own
// "request" listeners; without one they would never be answered.
const httpServer = createServer((req, res) => res.writeHead(404).end());
const options = { cors: { origin: "*" } };
if (process.env.RTCIO_RECOVERY === "1") {
  options.connectionStateRecovery = { maxDisconnectionDuration: 120000, skipMiddlewares: true };
}
const io = new Server(httpServer, options);

const lastMediaState = new Map(); // socket id -> {mic, cam}, across rooms
const roomPasswords = new Map(); // room id -> password

const roomSize = (roomId) => io.of("/").adapter.rooms.get(roomId)?.size ?? 0;

// check validates a check-room or join-room request against the room's
// password; it returns a join-error payload, or null when it may proceed.
function check(roomId, supplied) {
  if (!roomId || typeof roomId !== "string") return { reason: "invalid-room", roomId };
  const stored = roomPasswords.get(roomId) ?? "";
  if (roomSize(roomId) > 0 && stored && supplied !== stored) {
    return { reason: supplied ? "wrong-password" : "password-required", roomId };
  }
  return null;
}
const trimmed = (password) => (typeof password === "string" ? password.trim() : "");

io.on("connection", (socket) => {
  // rtc.io-server's default handlers.
  socket.on("#rtcio:message", (payload) => {
    if (!payload || typeof payload !== "object") return;
    socket.to(payload.target).emit("#rtcio:message", payload);
  });
  socket.on("disconnecting", () => {
    for (const room of socket.rooms) {
      if (room !== socket.id) socket.to(room).emit("#rtcio:peer-left", { id: socket.id });
    }
  });

  // The example server's room logic.
  socket.on("check-room", (data) => {
    const { roomId, password } = data ?? {};
    const err = check(roomId, trimmed(password));
    if (err) return socket.emit("join-error", err);
    const passwordRequired = roomSize(roomId) > 0 && !!roomPasswords.get(roomId);
    socket.emit("room-check-ok", { roomId, passwordRequired });
  });

  socket.on("join-room", (data) => {
    const { name, roomId, password } = data ?? {};
    const supplied = trimmed(password);
    const err = check(roomId, supplied);
    if (err) return socket.emit("join-error", err);
    if (roomSize(roomId) === 0) {
      if (supplied) roomPasswords.set(roomId, supplied);
      else roomPasswords.delete(roomId);
    }
    socket.data.name = name;
    socket.data.roomId = roomId;
    const members = [...(io.of("/").adapter.rooms.get(roomId) ?? [])].filter((id) => id !== socket.id);
    socket.join(roomId);
    for (const id of members) {
      const member = io.of("/").sockets.get(id);
      if (!member) continue;
      socket.emit("user-connected", { name: member.data.name, id });
      const media = lastMediaState.get(id);
      if (media) socket.emit("media-state", { id, roomId, mic: media.mic, cam: media.cam });
    }
    socket.emit("join-ok", { roomId });
    socket.to(roomId).emit("user-connected", { name, id: socket.id });
    socket.to(roomId).emit("#rtcio:init-offer", { source: socket.id });
  });

  socket.on("media-state", (data) => {
    if (!data || !data.roomId) return;
    if (typeof data.mic === "boolean" && typeof data.cam === "boolean") {
      lastMediaState.set(socket.id, { mic: data.mic, cam: data.cam });
    }
    socket.to(data.roomId).emit("media-state", data);
  });

  socket.on("chat-message", (message) => {
    if (message && message.roomId) socket.to(message.roomId).emit("chat-message", message);
  });

  socket.on("stopScreenShare", (data) => {
    if (data && data.roomId) socket.to(data.roomId).emit("stopScreenShare", data);
  });

  socket.on("leave-room", (data) => {
    const roomId = data?.roomId;
    if (!socket.rooms.has(roomId)) return;
    socket.leave(roomId);
    socket.to(roomId).emit("user-disconnected", { id: socket.id });
    if (roomSize(roomId) === 0) roomPasswords.delete(roomId);
  });

  socket.on("disconnecting", () => {
    lastMediaState.delete(socket.id);
    for (const room of socket.rooms) {
      if (room === socket.id) continue;
      socket.to(room).emit("user-disconnected", { id: socket.id });
      if (roomSize(room) <= 1) roomPasswords.delete(room); // the leaver still counts
    }
  });
});

httpServer.on("error", (err) => {
  console.error(`reference server: ${err.message}`);
  process.exit(1);
});
httpServer.listen(port, host, () => console.log(`listening ${httpServer.address().port}`));

let closing = false;
function shutdown() {
  if (closing) return;
  closing = true;
  // io.close disconnects every socket, then closes the engine and the HTTP
  // server; the timer bounds waiting for WebSocket close handshakes.
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
