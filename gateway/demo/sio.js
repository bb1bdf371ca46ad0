// A deliberately small Socket.IO v5 client (Engine.IO v4, WebSocket only)
// for the demo page. It speaks just what the demo needs: the default
// namespace, text events, acks for our own emits, server pings, and
// reconnecting with backoff. See docs/socketio-protocol.md.

const EVENT = "2";
const ACK = "3";

export class SioClient {
  constructor(url) {
    this.url = url;
    this.handlers = new Map(); // event name -> [fn]
    this.acks = new Map(); // ack id -> resolve
    this.nextAck = 0;
    this.ws = null;
    this.sid = null; // Socket.IO socket id (not the Engine.IO session id)
    this.attempt = 0;
    this.stopped = false;
  }

  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(fn);
  }

  fire(name, ...args) {
    for (const fn of this.handlers.get(name) || []) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`handler for ${name}`, err);
      }
    }
  }

  get connected() {
    return this.sid !== null;
  }

  // emit sends 42["name",arg]; without a connection the event is dropped,
  // as socket.io's volatile emits are: the app re-sends state on connect.
  emit(name, arg) {
    this.send(EVENT + JSON.stringify(arg === undefined ? [name] : [name, arg]));
  }

  // emitWithAck sends 42<id>["name"] and resolves with the first argument
  // of the server's 43<id>[...], or rejects after timeoutMs.
  emitWithAck(name, timeoutMs) {
    const id = this.nextAck++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`no ack for ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, (args) => {
        clearTimeout(timer);
        resolve(args[0]);
      });
      this.send(EVENT + id + JSON.stringify([name]));
    });
  }

  send(sioPacket) {
    if (this.connected && this.ws.readyState === WebSocket.OPEN) this.ws.send("4" + sioPacket);
  }

  connect() {
    this.stopped = false;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onmessage = (e) => this.onFrame(ws, e.data);
    ws.onclose = () => this.onClose(ws);
  }

  // close stops for good (no reconnect).
  close() {
    this.stopped = true;
    if (this.ws) this.drop(this.ws);
  }

  onFrame(ws, data) {
    if (ws !== this.ws || typeof data !== "string") return; // we never ask for binary
    const body = data.slice(1);
    switch (data[0]) {
      case "0": // Engine.IO open: learn the heartbeat, then connect to namespace "/"
        this.heartbeat = JSON.parse(body);
        this.armWatchdog();
        ws.send("40");
        break;
      case "2": // server ping (v4: the server pings, the client answers)
        this.armWatchdog();
        ws.send("3");
        break;
      case "1": // server closes the session
        this.drop(ws);
        break;
      case "4":
        this.onPacket(body);
        break;
      // 3 (pong), 5 (upgrade) and 6 (noop) need nothing on a WebSocket.
    }
  }

  // The client only learns the connection is dead when pings stop, so, like
  // socket.io-client, give up after pingInterval + pingTimeout of silence.
  armWatchdog() {
    clearTimeout(this.watchdog);
    const { pingInterval = 25000, pingTimeout = 20000 } = this.heartbeat || {};
    const ws = this.ws;
    this.watchdog = setTimeout(() => this.drop(ws), pingInterval + pingTimeout);
  }

  // drop abandons ws at once: on a dead network close() may take long to
  // report onclose, and the reconnect should not wait for it.
  drop(ws) {
    ws.onmessage = ws.onclose = null;
    ws.close();
    this.onClose(ws);
  }

  onPacket(p) {
    // <type>[<attachments>-][<nsp>,][<ack id>][<json>]
    const type = p[0];
    let i = 1;
    if (type === "5" || type === "6") return; // binary: never used by the demo
    if (p[i] === "/") {
      const comma = p.indexOf(",", i);
      const nsp = comma < 0 ? p.slice(i) : p.slice(i, comma);
      if (nsp !== "/") return; // another namespace: not ours
      i = comma < 0 ? p.length : comma + 1;
    }
    let ackId = "";
    while (i < p.length && p[i] >= "0" && p[i] <= "9") ackId += p[i++];
    let payload;
    try {
      payload = i < p.length ? JSON.parse(p.slice(i)) : undefined;
    } catch {
      return;
    }
    switch (type) {
      case "0": // CONNECT reply: {sid}. A new sid on every (re)connect.
        this.sid = payload.sid;
        this.attempt = 0;
        this.fire("connect", this.sid);
        break;
      case "1": // the server disconnected us: like socket.io, do not retry
        this.stopped = true;
        this.drop(this.ws);
        break;
      case "4": // CONNECT_ERROR from a middleware: not retried either
        this.stopped = true;
        this.fire("connect_error", payload);
        this.drop(this.ws);
        break;
      case EVENT:
        if (Array.isArray(payload) && typeof payload[0] === "string") this.fire(payload[0], ...payload.slice(1));
        break;
      case ACK: {
        const resolve = this.acks.get(Number(ackId));
        this.acks.delete(Number(ackId));
        if (resolve) resolve(Array.isArray(payload) ? payload : []);
        break;
      }
    }
  }

  onClose(ws) {
    if (ws !== this.ws) return;
    clearTimeout(this.watchdog);
    const wasConnected = this.connected;
    this.sid = null;
    if (wasConnected) this.fire("disconnect");
    if (this.stopped) return;
    // Exponential backoff with jitter, 0.5 s doubling up to 10 s.
    const delay = Math.min(10000, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.fire("reconnecting", delay);
    setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }
}
