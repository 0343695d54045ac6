// A minimal stand-in for the SignalR service, for developing the dashboard
// without the Go app: the negotiate redirect's second step, WebSockets
// (RFC 6455, text frames only) and the JSON hub protocol, enough for the
// official client to connect, receive invocations, and reconnect.
import { createHash, randomUUID } from 'node:crypto';

const RS = '\x1e'; // the JSON hub protocol's record separator
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** FakeHub holds the browser connections of one hub. */
export class FakeHub {
  constructor() {
    this.conns = new Set();
    this.pinger = setInterval(() => this.broadcast({ type: 6 }), 10000);
    this.pinger.unref();
  }

  /** negotiate answers POST {hub}/negotiate. */
  negotiate() {
    const id = randomUUID();
    return {
      negotiateVersion: 1,
      connectionId: id,
      connectionToken: id,
      availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text'] }],
    };
  }

  /** upgrade takes over a socket whose request asked for a WebSocket. */
  upgrade(req, socket) {
    const key = req.headers['sec-websocket-key'];
    if (!key) {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const conn = { socket, buf: Buffer.alloc(0), parts: [], ready: false };
    this.conns.add(conn);
    socket.on('data', (d) => this.read(conn, d));
    socket.on('close', () => this.conns.delete(conn));
    socket.on('error', () => this.conns.delete(conn));
  }

  /** send invokes target(...args) on every connected client. */
  send(target, args) {
    this.broadcast({ type: 1, target, arguments: args });
  }

  /** drop cuts every connection without a close frame, like a network fault. */
  drop() {
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
  }

  close() {
    clearInterval(this.pinger);
    this.drop();
  }

  broadcast(msg) {
    const frame = encode(1, Buffer.from(JSON.stringify(msg) + RS));
    for (const c of this.conns) if (c.ready) c.socket.write(frame);
  }

  read(conn, data) {
    conn.buf = Buffer.concat([conn.buf, data]);
    for (;;) {
      const f = decode(conn.buf);
      if (!f) return;
      conn.buf = conn.buf.subarray(f.size);
      if (f.opcode === 8) {
        conn.socket.end(encode(8, Buffer.alloc(0)));
        return;
      }
      if (f.opcode === 9) conn.socket.write(encode(10, f.payload));
      if (f.opcode !== 1 && f.opcode !== 0) continue;
      conn.parts.push(f.payload);
      if (!f.fin) continue;
      const text = Buffer.concat(conn.parts).toString('utf8');
      conn.parts = [];
      for (const record of text.split(RS)) if (record) this.record(conn, JSON.parse(record));
    }
  }

  record(conn, msg) {
    if (!conn.ready) {
      // The handshake: {"protocol":"json","version":1}.
      const ok = msg.protocol === 'json';
      conn.socket.write(encode(1, Buffer.from(JSON.stringify(ok ? {} : { error: 'json only' }) + RS)));
      conn.ready = ok;
      return;
    }
    if (msg.type === 7) conn.socket.end(encode(8, Buffer.alloc(0)));
  }
}

// decode reads one client frame (always masked) from buf, or null if buf
// does not hold a whole frame yet.
function decode(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  const maskAt = at;
  if (masked) at += 4;
  if (buf.length < at + len) return null;
  const payload = Buffer.from(buf.subarray(at, at + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i % 4)];
  return { fin, opcode, payload, size: at + len };
}

// encode makes one unmasked server frame.
function encode(opcode, payload) {
  const len = payload.length;
  let head;
  if (len < 126) {
    head = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}
