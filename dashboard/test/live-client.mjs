// A live-update listener built on the official @microsoft/signalr client,
// used by the Go end-to-end test: it negotiates through the app
// (ENVIROMON_URL/api), prints "ready" once connected, then one JSON line per
// device received in a newMessage, with the receipt time in ms since epoch.
// TRANSPORT=sse forces Server-Sent Events.
import * as signalR from '@microsoft/signalr';

const base = process.env.ENVIROMON_URL;
if (!base) {
  console.error('ENVIROMON_URL is not set');
  process.exit(2);
}
const options = {};
if (process.env.TRANSPORT === 'sse') options.transport = signalR.HttpTransportType.ServerSentEvents;

const conn = new signalR.HubConnectionBuilder()
  .withUrl(`${base}/api`, options)
  .configureLogging(signalR.LogLevel.Warning)
  .build();

conn.on('newMessage', (msg) => {
  const now = Date.now();
  const parsed = typeof msg === 'string' ? JSON.parse(msg) : msg;
  for (const d of Array.isArray(parsed) ? parsed : [parsed]) {
    console.log(JSON.stringify({ at: now, deviceId: d.deviceId, messageId: d.messageId, count: d.count, temperature: d.temperature }));
  }
});

const stop = async () => {
  await conn.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop); // the parent closes stdin to stop us
process.stdin.resume();

await conn.start();
console.log(JSON.stringify({ ready: true, transport: conn.connection?.transport?.constructor?.name ?? '' }));
