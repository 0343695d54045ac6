// The live connection: the official SignalR client against {apiBase}/api,
// whose negotiate answers {url, accessToken} for the SignalR service. After
// every (re)connection the page resyncs from GET /api/devices, since
// messages sent while it was away are lost.

/** STATES of the connection indicator. */
export const STATES = ['connecting', 'live', 'reconnecting', 'offline'];

// Retry delays while reconnecting; after reconnectGiveUpMs the client gives
// up, the page shows "offline" and starts over with restartDelays.
const reconnectDelays = [0, 1000, 2000, 5000, 10000];
const reconnectGiveUpMs = 60000;
const restartDelays = [1000, 2000, 5000, 10000, 20000, 30000];

/**
 * Live keeps a hub connection up. onMessage gets each newMessage argument;
 * onState gets (state, detail); resync is called after each connection and
 * while offline (as a slow poll), and must not throw.
 */
export class Live {
  constructor({ apiBase, signalR, onMessage, onState, resync }) {
    this.signalR = signalR;
    this.onState = onState;
    this.resync = resync;
    this.state = 'connecting';
    this.failures = 0;
    this.timer = 0;
    this.stopped = false;
    if (!signalR) return;
    this.connection = new signalR.HubConnectionBuilder()
      // No cookies: the service's access token is the credential, and an
      // API on another origin need not allow credentialed CORS.
      .withUrl(`${apiBase}/api`, { withCredentials: false })
      .withAutomaticReconnect({
        nextRetryDelayInMilliseconds: ({ previousRetryCount, elapsedMilliseconds }) => {
          if (elapsedMilliseconds > reconnectGiveUpMs) return null;
          return jitter(reconnectDelays[Math.min(previousRetryCount, reconnectDelays.length - 1)]);
        },
      })
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    this.connection.on('newMessage', (msg) => onMessage(msg));
    this.connection.onreconnecting(() => this.set('reconnecting'));
    this.connection.onreconnected(() => {
      this.set('live');
      this.resync();
    });
    this.connection.onclose(() => {
      if (!this.stopped) this.retry();
    });
  }

  /** start connects, retrying with backoff until it succeeds. */
  async start() {
    this.stopped = false;
    if (!this.connection) {
      // No SignalR client (vendor/ not built): poll instead.
      this.set('offline', 'no live client: polling');
      this.poll();
      return;
    }
    this.set(this.failures === 0 ? 'connecting' : 'offline', this.failures === 0 ? '' : 'connecting…');
    try {
      await this.connection.start();
    } catch (err) {
      if (this.stopped) return;
      console.warn('enviromon: live connection failed:', err?.message ?? err);
      this.retry();
      return;
    }
    this.failures = 0;
    this.set('live');
    this.resync();
  }

  /** stop closes the connection for good (tests, page unload). */
  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.connection?.stop();
    this.set('offline', 'stopped');
  }

  retry() {
    const delay = jitter(restartDelays[Math.min(this.failures, restartDelays.length - 1)]);
    this.failures++;
    this.set('offline', 'retrying');
    this.resync(); // the API may be up while the hub is not
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), delay);
  }

  poll() {
    this.resync();
    this.timer = setTimeout(() => this.poll(), 10000);
  }

  set(state, detail = '') {
    this.state = state;
    this.onState(state, detail);
  }
}

// jitter spreads the retries of many viewers after an outage: ±20 %.
function jitter(ms) {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}
