// Connects to a SignalR hub the way the dashboard does, with the official
// client, and prints one JSON line per event on stdout:
//   {"event":"connected","transport":"WebSocketTransport"}
//   {"event":"newMessage","args":[...]}
// Environment: SIGNALR_URL, the app's negotiate base URL (the client posts
// to SIGNALR_URL/negotiate and follows the {url, accessToken} it gets);
// TRANSPORT, "WebSockets", "ServerSentEvents" or "" (any, in the client's
// order of preference); EXPECT, the number of messages to wait for.
import * as signalR from "@microsoft/signalr";

const url = process.env.SIGNALR_URL;
const expect = Number(process.env.EXPECT || "1");
const transport = signalR.HttpTransportType[process.env.TRANSPORT || ""];

const print = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const fail = (err) => {
  process.stderr.write(`client.mjs: ${err?.stack || err}\n`);
  process.exit(1);
};
setTimeout(() => fail(new Error("timed out")), 20000).unref();

const connection = new signalR.HubConnectionBuilder()
  .withUrl(url, transport === undefined ? {} : { transport })
  .configureLogging(signalR.LogLevel.Warning)
  .build();

let received = 0;
connection.on("newMessage", async (...args) => {
  print({ event: "newMessage", args });
  if (++received === expect) {
    await connection.stop();
  }
});
connection.onclose((err) => (err ? fail(err) : process.exit(0)));

try {
  await connection.start();
  // HttpConnection is internal; its transport tells which one was chosen.
  print({ event: "connected", transport: connection.connection?.transport?.constructor?.name ?? "unknown" });
} catch (err) {
  fail(err);
}
