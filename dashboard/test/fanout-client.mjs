// The fan-out load client of the Go benchmark app/e2e BenchmarkFanout: N
// connections of the official @microsoft/signalr client, over WebSockets,
// negotiating the way the dashboard does (POST NEGOTIATE_URL/negotiate
// answers {url, accessToken} for the SignalR service).
//
//   NEGOTIATE_URL=http://127.0.0.1:PORT/api node fanout-client.mjs [N]
//
// N defaults to CLIENTS, else 1000. Each newMessage carries {seq, sentAt},
// sentAt being the sender's Date.now()-style milliseconds on this machine.
// Protocol, one JSON line each way:
//   stdout {"ready":N}             every client is connected
//   stdin  {"sent":M}              a round of M messages (seq 0..M-1) was sent
//   stdout {"clients":…, …}        the round's summary, once every client has
//                                  all M, or DRAIN_MS (default 10000) later
// When stdin ends, the current round is summarized (if it has deliveries)
// and the process exits.
import * as signalR from '@microsoft/signalr';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const url = process.env.NEGOTIATE_URL;
const n = Number(process.argv[2] || process.env.CLIENTS || 1000);
const drainMs = Number(process.env.DRAIN_MS || 10000);
const concurrency = 50; // clients connecting at once: they join in waves, as page loads would
if (!url || !(n > 0)) {
  console.error('usage: NEGOTIATE_URL=… node fanout-client.mjs [clients]');
  process.exit(2);
}
const print = (v) => process.stdout.write(JSON.stringify(v) + '\n');

// Per round: what each client saw, and every delivery's latency. One
// process handles every client's messages, so its own event-loop delay is
// reported too: latency this client added, not the service.
const clients = [];
let latencies = [];
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let stopping = false;

function connect() {
  const c = { seen: new Set(), closed: false };
  c.conn = new signalR.HubConnectionBuilder()
    .withUrl(url, { transport: signalR.HttpTransportType.WebSockets })
    .configureLogging(signalR.LogLevel.Error)
    .build();
  c.conn.on('newMessage', ({ seq, sentAt }) => {
    latencies.push(Date.now() - sentAt);
    c.seen.add(seq);
    check();
  });
  // No automatic reconnect: a client that loses its connection has dropped.
  c.conn.onclose(() => {
    if (!stopping) c.closed = true;
  });
  clients.push(c);
  return c.conn.start();
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : 0);

function summarize(sent) {
  const sorted = Float64Array.from(latencies).sort();
  const complete = clients.filter((c) => !c.closed && c.seen.size === sent);
  print({
    clients: clients.length,
    complete: complete.length,
    sent,
    minReceived: Math.min(...clients.map((c) => c.seen.size)),
    deliveries: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : 0,
    disconnected: clients.filter((c) => c.closed).length,
    loopDelayP99: Math.round(loopDelay.percentile(99) / 1e6),
  });
  latencies = [];
  loopDelay.reset();
  for (const c of clients) c.seen.clear();
}

// drain is the round being finished: from {"sent":M} to its summary.
let drain = null;
function startDrain(sent) {
  drain = { sent, timer: setTimeout(finish, drainMs) };
  check();
}
function check() {
  if (drain && clients.every((c) => c.closed || c.seen.size >= drain.sent)) finish();
}
function finish() {
  clearTimeout(drain.timer);
  summarize(drain.sent);
  drain = null;
}

try {
  for (let i = 0; i < n; i += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, connect));
  }
} catch (err) {
  console.error(`fanout-client: a client failed to connect (${clients.length} of ${n} started): ${err?.message ?? err}`);
  process.exit(1);
}
print({ ready: clients.length });
loopDelay.enable();

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => startDrain(JSON.parse(line).sent));
lines.on('close', async () => {
  stopping = true;
  if (drain) finish();
  else if (latencies.length) summarize(Math.max(...clients.map((c) => c.seen.size)));
  await Promise.allSettled(clients.map((c) => c.conn.stop()));
  process.exit(0);
});
