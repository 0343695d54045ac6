// Unit tests of the page's pure modules: merging device states, reading
// newMessage payloads, the fleet's figures, formatting and settings. The
// API bodies and live frames are the app's own (test/fixtures, written by
// `make fixtures`); the edge cases are hand-made from them. No browser
// needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { figures, normalizeFleet } from '../js/fleet.js';
import { ago, integer, parseTime, reading } from '../js/format.js';
import { HISTORY, Model, isOlder, normalize, parsePayload } from '../js/model.js';
import { readSettings } from '../js/settings.js';
import { fixture, fixtureNames } from './devserver.mjs';

const listed = fixture('devices.json');
const base = fixture('device-sim-001.json');
const frames = fixture('live.json').filter((f) => f.target === 'newMessage');
const device = (over = {}) => ({ ...base, ...over });
// later is base's lastSeen moved by s seconds.
const later = (s) => new Date(Date.parse(base.lastSeen) + s * 1000).toISOString();

describe('Model.apply', () => {
  test('normalize reads every device the app lists, 0 as 0 and a missing value as null', () => {
    const metrics = ['temperature', 'humidity', 'pressure', 'light'];
    for (const d of listed) {
      const n = normalize(d);
      assert.equal(n.id, d.deviceId);
      for (const m of metrics) assert.equal(n[m], d[m], `${d.deviceId} ${m}`);
      assert.deepEqual([n.count, n.rejected, n.geo, n.lastRejection, n.messageId], [d.count, d.rejected, d.geo ?? '', d.lastRejection ?? '', d.messageId ?? ''], d.deviceId);
      assert.deepEqual([n.firstSeen, n.lastSeen], [Date.parse(d.firstSeen), Date.parse(d.lastSeen)], d.deviceId);
    }
    assert.ok(listed.some((d) => d.temperature === 0) && listed.some((d) => d.temperature === null), 'the fixtures hold 0 °C and no temperature');
  });

  test('takes the listed devices, then the app\'s live frames, and a late resync changes nothing', () => {
    const m = new Model();
    for (const d of listed) assert.equal(m.apply(d), 'added', d.deviceId);
    const last = new Map();
    for (const f of frames) {
      for (const d of parsePayload(f.arguments[0])) {
        const want = m.get(d.deviceId) ? 'updated' : 'added';
        assert.equal(m.apply(d), want, d.deviceId);
        last.set(d.deviceId, d);
      }
    }
    for (const [id, d] of last) assert.deepEqual([m.get(id).count, m.get(id).lastSeen], [d.count, Date.parse(d.lastSeen)], id);
    for (const d of listed) assert.equal(m.apply(d), last.has(d.deviceId) ? 'stale' : 'updated', d.deviceId);
  });

  test('keeps the newest state whatever the arrival order', () => {
    const cases = [
      { name: 'older lastSeen', first: device(), late: device({ lastSeen: later(-1), count: base.count + 8, temperature: 1 }) },
      { name: 'same lastSeen, lower count', first: device(), late: device({ count: base.count - 1, temperature: 1 }) },
      { name: 'same lastSeen, rejected lower', first: device(), late: device({ rejected: base.rejected - 1, temperature: 1 }) },
      { name: 'nanosecond times', first: device({ lastSeen: base.lastSeen.replace('Z', '.123456789Z') }), late: device({ lastSeen: base.lastSeen.replace('Z', '.122999999Z'), temperature: 1 }) },
    ];
    for (const c of cases) {
      const m = new Model();
      assert.equal(m.apply(c.first), 'added', c.name);
      assert.equal(m.apply(c.late), 'stale', c.name);
      assert.equal(m.get('sim-001').temperature, base.temperature, c.name);
    }
  });

  test('takes a newer state: later lastSeen, or more messages at the same time', () => {
    const m = new Model();
    m.apply(device());
    assert.equal(m.apply(device({ count: base.count + 1, temperature: 22 })), 'updated');
    assert.equal(m.apply(device({ count: base.count + 1, rejected: base.rejected + 1, lastRejection: 'bad' })), 'updated');
    assert.equal(m.get('sim-001').rejected, base.rejected + 1);
    // A state store that was wiped starts counting again with later times.
    assert.equal(m.apply(device({ count: 1, rejected: 0, lastSeen: later(86400) })), 'updated');
  });

  test('keeps 0 as a value and a missing reading as null', () => {
    const d = normalize(device({ temperature: 0, humidity: undefined, pressure: null }));
    assert.equal(d.temperature, 0);
    assert.equal(d.humidity, null);
    assert.equal(d.pressure, null);
    assert.equal(reading(0), '0.0');
    assert.equal(reading(-0.01), '0.0');
    assert.equal(reading(null), '—');
  });

  test('refuses a device without an id', () => {
    const m = new Model();
    assert.equal(m.apply({ temperature: 1 }), 'invalid');
    assert.equal(m.apply({ deviceId: '' }), 'invalid');
    assert.equal(m.apply(null), 'invalid');
    assert.equal(m.size, 0);
  });

  test('accepts the original PascalCase DeviceId', () => {
    const m = new Model();
    assert.equal(m.apply({ DeviceId: 'pi', temperature: 20 }), 'added');
    assert.equal(m.get('pi').temperature, 20);
  });

  test('keeps the last HISTORY accepted readings, not rejections or repeats', () => {
    const m = new Model();
    const t0 = Date.parse(base.lastSeen);
    for (let i = 1; i <= HISTORY + 20; i++) {
      m.apply(device({ count: i, rejected: 0, temperature: i, lastSeen: new Date(t0 + i * 1000).toISOString() }));
    }
    const h = m.get('sim-001').history;
    assert.equal(h.length, HISTORY);
    assert.equal(h[0].temperature, 21);
    assert.equal(h.at(-1).temperature, HISTORY + 20);
    const last = m.get('sim-001');
    m.apply({ ...device(), count: last.count, rejected: 1, lastSeen: new Date(t0 + 999999).toISOString() });
    m.apply({ ...device(), count: last.count, rejected: 1, lastSeen: new Date(t0 + 999999).toISOString() });
    assert.equal(m.get('sim-001').history.length, HISTORY);
    assert.equal(m.get('sim-001').history.at(-1).temperature, HISTORY + 20);
  });

  test('sorts ids naturally and filters by substring', () => {
    const m = new Model();
    for (const id of ['sim-10', 'sim-2', 'Kitchen', 'sim-1']) m.apply(device({ deviceId: id }));
    assert.deepEqual(m.ids, ['Kitchen', 'sim-1', 'sim-2', 'sim-10']);
    assert.deepEqual(m.filter('SIM-1'), ['sim-1', 'sim-10']);
    assert.deepEqual(m.filter('  '), m.ids);
    m.apply(device({ deviceId: 'sim-11' }));
    assert.deepEqual(m.filter('sim-1'), ['sim-1', 'sim-10', 'sim-11']);
  });
});

test('isOlder treats a missing lastSeen as oldest', () => {
  const a = normalize(device({ lastSeen: null }));
  const b = normalize(device());
  assert.equal(isOlder(a, b), true);
  assert.equal(isOlder(b, a), false);
});

test('parsePayload reads an array, one device, or JSON of either', () => {
  const one = device();
  for (const f of frames) {
    assert.deepEqual(parsePayload(f.arguments[0]), f.arguments[0], 'the app sends an array');
    assert.deepEqual(parsePayload(JSON.stringify(f.arguments[0])), f.arguments[0]);
  }
  const cases = [
    [[one], 1],
    [one, 1],
    [JSON.stringify([one, one]), 2],
    [JSON.stringify(one), 1],
    ['not json', 0],
    [null, 0],
    [42, 0],
  ];
  for (const [input, n] of cases) assert.equal(parsePayload(input).length, n, String(input));
});

describe('fleet figures', () => {
  // summary is the app's GET /api/summary; fleet changes some of it.
  const summary = fixture('summary.json');
  const fleet = (over = {}) => ({ ...summary, ...over });

  test('normalizeFleet reads the summary, a Go zero lastSeen as never', () => {
    assert.deepEqual(normalizeFleet(fleet()), { ...summary, lastSeen: Date.parse(summary.lastSeen) });
    assert.equal(normalizeFleet(fleet({ lastSeen: '2026-11-23T10:05:00.123456789Z' })).lastSeen, Date.parse('2026-11-23T10:05:00.123Z'));
    assert.equal(normalizeFleet(fleet({ lastSeen: '0001-01-01T00:00:00Z' })).lastSeen, null);
    assert.equal(normalizeFleet(fleet({ devices: 0, online: 0, offline: 0, messages: 0 })).devices, 0);
  });

  test('normalizeFleet refuses what is not a summary', () => {
    const cases = [
      ['markup for a figure', fleet({ online: '<img src=x onerror=alert(1)>' })],
      ['a figure as a numeric string', fleet({ messages: '12' })],
      ['a missing figure', fleet({ rejected: undefined })],
      ['a negative figure', fleet({ offline: -1 })],
      ['a fraction', fleet({ devices: 1.5 })],
      ['not finite', fleet({ messages: Infinity })],
      ['an array', [fleet()]],
      ['null', null],
      ['a string', JSON.stringify(fleet())],
    ];
    for (const [name, raw] of cases) assert.equal(normalizeFleet(raw), null, name);
  });

  test('figures lists devices, online, offline, messages, rejected; offline and rejected above 0 alert', () => {
    const got = figures(normalizeFleet(fleet({ rejected: 0 })));
    assert.ok(summary.offline > 0 && summary.messages > 999, 'the fixture has devices offline and thousands of messages');
    assert.deepEqual(
      got.map((f) => [f.key, f.label, f.value, f.text, f.alert]),
      [
        ['devices', 'Devices', summary.devices, integer(summary.devices), false],
        ['online', 'Online', summary.online, integer(summary.online), false],
        ['offline', 'Offline', summary.offline, integer(summary.offline), true],
        ['messages', 'Messages', summary.messages, integer(summary.messages), false],
        ['rejected', 'Rejected', 0, integer(0), false],
      ],
    );
    const rejectedOnly = figures(normalizeFleet(fleet({ offline: 0, rejected: 4 })));
    assert.deepEqual(rejectedOnly.filter((f) => f.alert).map((f) => f.key), ['rejected']);
  });
});

test('parseTime reads RFC 3339 and treats Go zero time as never', () => {
  assert.equal(parseTime('2026-11-23T10:05:00.123456789Z'), Date.parse('2026-11-23T10:05:00.123Z'));
  assert.equal(parseTime('2026-11-23T12:05:00+02:00'), Date.parse('2026-11-23T10:05:00Z'));
  assert.equal(parseTime('0001-01-01T00:00:00Z'), null);
  assert.equal(parseTime(''), null);
  assert.equal(parseTime(undefined), null);
});

test('ago says how long ago', () => {
  const now = Date.parse('2026-11-23T10:05:00Z');
  const cases = [
    [now - 12_000, '12 s ago'],
    [now + 3_000, '0 s ago'],
    [now - 125_000, '2 min ago'],
    [now - 3 * 3600_000, '3 h ago'],
    [now - 72 * 3600_000, '3 d ago'],
    [null, 'never'],
  ];
  for (const [t, want] of cases) assert.equal(ago(t, now), want);
});

describe('readSettings', () => {
  const config = { apiBase: '', offlineAfterSeconds: 60, pageSize: 50 };
  const cases = [
    { search: '', want: { apiBase: '', offlineAfterSeconds: 60, pageSize: 50 }, problems: 0 },
    { search: '?api=https://api.example.test/&offline=3', want: { apiBase: 'https://api.example.test', offlineAfterSeconds: 3, pageSize: 50 }, problems: 0 },
    { search: '?api=/enviromon/', want: { apiBase: '/enviromon', offlineAfterSeconds: 60, pageSize: 50 }, problems: 0 },
    { search: '?api=javascript:alert(1)', want: { apiBase: '', offlineAfterSeconds: 60, pageSize: 50 }, problems: 1 },
    { search: '?api=//evil.test', want: { apiBase: '', offlineAfterSeconds: 60, pageSize: 50 }, problems: 1 },
    { search: '?offline=-1&pageSize=abc', want: { apiBase: '', offlineAfterSeconds: 60, pageSize: 50 }, problems: 2 },
    { search: '?pageSize=10', want: { apiBase: '', offlineAfterSeconds: 60, pageSize: 10 }, problems: 0 },
  ];
  for (const c of cases) {
    test(c.search || '(none)', () => {
      const { settings, problems } = readSettings(config, c.search);
      assert.deepEqual(settings, c.want);
      assert.equal(problems.length, c.problems, problems.join('; '));
    });
  }

  test('config.js values apply without query parameters', () => {
    const { settings } = readSettings({ apiBase: 'http://127.0.0.1:9/', offlineAfterSeconds: 5, pageSize: 7 }, '');
    assert.deepEqual(settings, { apiBase: 'http://127.0.0.1:9', offlineAfterSeconds: 5, pageSize: 7 });
  });
});

describe('device page helpers', async () => {
  const { CSV_HEADER, columns, csvName, normalizePoints, rangeQuery, toCSV } = await import('../js/history.js');
  const { deviceHref, parseRoute } = await import('../js/route.js');
  const { calibrationBody, fieldOf } = await import('../js/calibration.js');

  test('rangeQuery ends at the next whole step and asks for the step of its range', () => {
    const now = Date.parse('2026-11-30T05:17:19.500Z');
    assert.deepEqual(rangeQuery('1h', now), { from: '2026-11-30T04:18:00Z', to: '2026-11-30T05:18:00Z', step: '1m' });
    assert.deepEqual(rangeQuery('24h', now), { from: '2026-11-29T05:18:00Z', to: '2026-11-30T05:18:00Z', step: '1m' });
    assert.deepEqual(rangeQuery('7d', now), { from: '2026-11-23T06:00:00Z', to: '2026-11-30T06:00:00Z', step: '1h' });
  });

  test('normalizePoints reads the app\'s history answers; a day of minutes has no gap', () => {
    for (const name of fixtureNames(/^history-(sim-001|no-readings)-.*\.json$/)) {
      const h = fixture(name);
      const points = normalizePoints(h);
      assert.deepEqual(points, h.points.map((p) => ({ t: Date.parse(p.t), min: p.min, avg: p.avg, max: p.max, n: p.n })), name);
      if (h.step === '1m' && points.length > 0) assert.equal(columns(points, 60e3)[2].indexOf(null), -1, name);
    }
  });

  test('columns break the line over a gap, and normalizePoints drops bad points', () => {
    const points = normalizePoints({
      points: [
        { t: '2026-11-30T05:03:00Z', min: 3, avg: 3, max: 3, n: 1 },
        { t: '2026-11-30T05:00:00Z', min: 1, avg: 2, max: 3, n: 2 },
        { t: 'bad', min: 1, avg: 1, max: 1, n: 1 },
        { t: '2026-11-30T05:01:00.123456789Z', min: 1, avg: 1, max: 1, n: 1 },
      ],
    });
    assert.equal(points.length, 3);
    const [x, min, avg] = columns(points, 60e3);
    assert.deepEqual(avg, [2, 1, null, 3]);
    assert.equal(x[2], Date.parse('2026-11-30T05:01:00.123Z') / 1000 + 60);
    assert.deepEqual(min, [1, 1, null, 3]);
  });

  test('toCSV writes one header row and one row per bucket and metric, in time order', () => {
    const t0 = Date.parse('2026-11-30T05:00:00Z');
    const csv = toCSV({
      pressure: [{ t: t0, min: 1000, avg: 1001.5, max: 1003, n: 4 }],
      temperature: [{ t: t0, min: -1.5, avg: 0, max: 2, n: 4 }, { t: t0 + 60e3, min: 1, avg: 1, max: 1, n: 1 }],
    });
    assert.equal(csv, [CSV_HEADER, '2026-11-30T05:00:00Z,temperature,-1.5,0,2,4', '2026-11-30T05:00:00Z,pressure,1000,1001.5,1003,4', '2026-11-30T05:01:00Z,temperature,1,1,1,1', ''].join('\r\n'));
    assert.equal(toCSV({}), `${CSV_HEADER}\r\n`);
    assert.equal(csvName('a/b <c>', '24h', '2026-11-30T05:18:00Z'), 'a_b_c_-24h-2026-11-30T051800Z.csv');
  });

  test('routes: the fleet, or a device whose id may hold any character', () => {
    assert.deepEqual(parseRoute(''), { view: 'fleet' });
    assert.deepEqual(parseRoute('#/'), { view: 'fleet' });
    assert.deepEqual(parseRoute('#/devices/'), { view: 'fleet' });
    assert.deepEqual(parseRoute('#/devices/%E0%A4%A'), { view: 'fleet' });
    for (const id of ['sim-001', 'a/b?c#d', '<img src=x>', 'ü 1']) assert.deepEqual(parseRoute(deviceHref(id)), { view: 'device', id });
  });

  test('calibrationBody sends numbers as typed, leaves empty fields out, and catches non-numbers', () => {
    assert.deepEqual(calibrationBody({ temperatureSlope: ' 1.5 ', humiditySlope: '', pressureYIntercept: '1e999' }), { body: '{"temperatureSlope":1.5,"pressureYIntercept":1e999}' });
    assert.deepEqual(calibrationBody({}), { body: '{}' });
    assert.deepEqual(Object.keys(calibrationBody({ humiditySlope: '1,5', pressureSlope: 'NaN' }).errors), ['humiditySlope', 'pressureSlope']);
  });

  test('fieldOf finds the field each of the app\'s calibration refusals names', () => {
    const refusals = fixture('calibration-refused.json');
    assert.ok(refusals.length >= 12);
    for (const r of refusals) assert.equal(fieldOf(r.body.error), r.field ?? '', r.request);
  });

  test('fieldOf finds the field an API error names', () => {
    assert.equal(fieldOf('invalid calibration: temperatureYIntercept is not a finite number'), 'temperatureYIntercept');
    assert.equal(fieldOf('bad request: calibration must be a JSON object of finite numbers: json: cannot unmarshal number 1e999 into Go struct field calibrationBody.humiditySlope of type float64'), 'humiditySlope');
    assert.equal(fieldOf('bad request: one JSON object expected'), '');
  });
});
