// Unit tests of alerts.js's pure functions: reading alert bodies, merging
// live raises and clears with the API's list, ordering, and the texts the
// list shows. No browser needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activeCount, alertKey, alertText, describe as describeAlert, mergeAlert, normalizeAlert, orderAlerts, reconcile, span, summaryText } from '../js/alerts.js';

// body is an alert as the API and the hub send it (alert.Alert in the app).
const body = (over = {}) => ({
  ruleId: 'hot',
  deviceId: 'kitchen',
  metric: 'temperature',
  state: 'firing',
  since: '2026-11-23T10:05:00.123456789Z',
  value: 31.5,
  ...over,
});
const at = (s) => Date.parse('2026-11-23T10:05:00Z') + s * 1000;
const iso = (s) => new Date(at(s)).toISOString();
const alert = (over = {}) => normalizeAlert(body(over));

describe('normalizeAlert', () => {
  test('reads what the page shows, times in ms', () => {
    assert.deepEqual(normalizeAlert(body({ acknowledgedAt: '2026-11-23T10:06:00Z' })), {
      key: alertKey('hot', 'kitchen'),
      ruleId: 'hot',
      deviceId: 'kitchen',
      metric: 'temperature',
      state: 'firing',
      since: at(0) + 123,
      value: 31.5,
      acknowledgedAt: at(60),
      received: null,
    });
  });

  test('refuses what it cannot key or show, and tolerates the optional', () => {
    const cases = [
      { name: 'not an object', raw: 'firing', want: null },
      { name: 'an array', raw: [body()], want: null },
      { name: 'null', raw: null, want: null },
      { name: 'no rule id', raw: body({ ruleId: '' }), want: null },
      { name: 'device id not a string', raw: body({ deviceId: 7 }), want: null },
      { name: 'unknown state', raw: body({ state: 'pending' }), want: null },
      { name: 'no since', raw: body({ since: undefined }), want: null },
      { name: 'zero since', raw: body({ since: '0001-01-01T00:00:00Z' }), want: null },
      { name: 'value null', raw: body({ value: null }), want: { value: null } },
      { name: 'value a string', raw: body({ value: '31.5' }), want: { value: null } },
      { name: 'value 0', raw: body({ value: 0 }), want: { value: 0 } },
      { name: 'offline rule, metric empty', raw: body({ metric: '' }), want: { metric: '' } },
      { name: 'metric missing', raw: body({ metric: undefined }), want: { metric: '' } },
      { name: 'acknowledgedAt garbage', raw: body({ acknowledgedAt: 'soon' }), want: { acknowledgedAt: null } },
      { name: 'markup in an id stays text', raw: body({ deviceId: '<img src=x onerror=alert(1)>' }), want: { deviceId: '<img src=x onerror=alert(1)>' } },
    ];
    for (const c of cases) {
      const got = normalizeAlert(c.raw);
      if (c.want === null) {
        assert.equal(got, null, c.name);
        continue;
      }
      assert.notEqual(got, null, c.name);
      for (const [k, v] of Object.entries(c.want)) assert.equal(got[k], v, `${c.name}: ${k}`);
    }
  });
});

describe('mergeAlert', () => {
  test('keeps one alert per rule and device, the later since winning, an ack kept', () => {
    const acked = (s) => ({ acknowledgedAt: iso(s) });
    const cases = [
      { name: 'new key is added', list: [alert()], next: alert({ deviceId: 'hall' }), want: [['hot', 'kitchen', 'firing'], ['hot', 'hall', 'firing']] },
      { name: 'a clear replaces the raise', list: [alert()], next: alert({ state: 'cleared', since: iso(30), value: 28 }), want: [['hot', 'kitchen', 'cleared']] },
      { name: 'a late raise does not undo the clear', list: [alert({ state: 'cleared', since: iso(30) })], next: alert(), want: [['hot', 'kitchen', 'cleared']] },
      { name: 'a new episode replaces the cleared one', list: [alert({ state: 'cleared', since: iso(30) })], next: alert({ since: iso(60) }), want: [['hot', 'kitchen', 'firing']] },
      { name: 'another rule on the device is its own alert', list: [alert()], next: alert({ ruleId: 'cold' }), want: [['hot', 'kitchen', 'firing'], ['cold', 'kitchen', 'firing']] },
    ];
    for (const c of cases) {
      const got = mergeAlert(c.list, c.next, 1);
      assert.deepEqual(got.map((a) => [a.ruleId, a.deviceId, a.state]), c.want, c.name);
    }

    const ackCases = [
      { name: 'an ack of the same episode is taken', cur: {}, next: acked(10), want: at(10) },
      { name: 'the raise again does not lose the ack', cur: acked(10), next: {}, want: at(10) },
      { name: 'the clear carries the ack', cur: acked(10), next: { state: 'cleared', since: iso(30), ...acked(10) }, want: at(10) },
      { name: 'a new episode starts unacknowledged', cur: acked(10), next: { since: iso(60) }, want: null },
    ];
    for (const c of ackCases) {
      const [got] = mergeAlert([alert(c.cur)], alert(c.next));
      assert.equal(got.acknowledgedAt, c.want, c.name);
    }
  });

  test('returns the same list when nothing changes, and never mutates it', () => {
    const list = Object.freeze([Object.freeze(alert({ state: 'cleared', since: iso(30) }))]);
    assert.equal(mergeAlert(list, alert()), list);
    const next = mergeAlert(list, alert({ since: iso(60) }), 5);
    assert.notEqual(next, list);
    assert.equal(next[0].received, 5);
    assert.equal(list[0].state, 'cleared');
  });
});

describe('reconcile', () => {
  test('the snapshot wins, except over what came live after the read began', () => {
    const started = 1000;
    const cases = [
      {
        name: 'an alert the snapshot no longer lists goes',
        list: [{ ...alert(), received: null }],
        snapshot: [],
        want: [],
      },
      {
        name: 'a raise that came live while the read ran stays',
        list: [{ ...alert(), received: 1500 }],
        snapshot: [],
        want: [['hot', 'kitchen', 'firing']],
      },
      {
        name: 'a live clear newer than the snapshot stays',
        list: [{ ...alert({ state: 'cleared', since: iso(30) }), received: 1500 }],
        snapshot: [alert()],
        want: [['hot', 'kitchen', 'cleared']],
      },
      {
        name: 'a live event from before the read gives way',
        list: [{ ...alert({ deviceId: 'gone' }), received: 500 }],
        snapshot: [alert()],
        want: [['hot', 'kitchen', 'firing']],
      },
      {
        name: 'the snapshot\'s newer state replaces an older one',
        list: [{ ...alert(), received: null }],
        snapshot: [alert({ state: 'cleared', since: iso(30) })],
        want: [['hot', 'kitchen', 'cleared']],
      },
    ];
    for (const c of cases) {
      const got = reconcile(c.list, c.snapshot, started);
      assert.deepEqual(got.map((a) => [a.ruleId, a.deviceId, a.state]), c.want, c.name);
    }
  });

  test('an acknowledgement answered after the read began is not lost', () => {
    const got = reconcile([{ ...alert({ acknowledgedAt: iso(5) }), received: 1500 }], [alert()], 1000);
    assert.equal(got[0].acknowledgedAt, at(5));
  });
});

describe('orderAlerts and activeCount', () => {
  test('firing first, then newest first', () => {
    const list = [
      alert({ ruleId: 'a', state: 'cleared', since: iso(50) }),
      alert({ ruleId: 'b', since: iso(10) }),
      alert({ ruleId: 'c', state: 'cleared', since: iso(90) }),
      alert({ ruleId: 'd', since: iso(20) }),
      alert({ ruleId: 'e', since: iso(20), deviceId: 'attic' }),
    ];
    assert.deepEqual(orderAlerts(list).map((a) => a.ruleId), ['d', 'e', 'b', 'c', 'a']);
    assert.equal(list[0].ruleId, 'a', 'the list itself is not sorted');
    assert.equal(activeCount(list), 3);
    assert.equal(activeCount([]), 0);
  });
});

describe('texts', () => {
  test('what raised or cleared an alert', () => {
    const cases = [
      { over: {}, want: 'temperature 31.5 °C' },
      { over: { state: 'cleared', value: 28 }, want: 'temperature back to 28.0 °C' },
      { over: { metric: 'humidity', value: 81.25 }, want: 'humidity 81.3 %' },
      { over: { metric: 'pressure', value: 955 }, want: 'pressure 955.0 hPa' },
      { over: { metric: 'light', value: 1234.5 }, want: 'light 1234.5' },
      { over: { value: 0, metric: 'temperature' }, want: 'temperature 0.0 °C' },
      { over: { value: null }, want: 'temperature' },
      { over: { metric: 'offline', value: 360 }, want: 'offline (silent 6 min when raised)' },
      { over: { metric: '', value: 45 }, want: 'offline (silent 45 s when raised)' },
      { over: { metric: 'offline', state: 'cleared', value: 1 }, want: 'back online' },
    ];
    for (const c of cases) assert.equal(describeAlert(alert(c.over)), c.want, JSON.stringify(c.over));
  });

  test('spans in the largest whole unit', () => {
    const cases = [[0, '0 s'], [59.4, '59 s'], [60, '1 min'], [3599, '59 min'], [3600, '1 h'], [47 * 3600, '47 h'], [48 * 3600, '2 d'], [-5, '0 s']];
    for (const [s, want] of cases) assert.equal(span(s), want, String(s));
  });

  test('state, times and whether it can be acknowledged', () => {
    const cases = [
      { name: 'firing, unacknowledged', over: {}, want: { since: 'since 2 min ago', ack: '', canAck: true } },
      { name: 'firing, acknowledged', over: { acknowledgedAt: iso(60) }, want: { since: 'since 2 min ago', ack: 'acknowledged 1 min ago', canAck: false } },
      { name: 'cleared, unacknowledged', over: { state: 'cleared', since: iso(90) }, want: { since: 'cleared 30 s ago', ack: '', canAck: false } },
    ];
    for (const c of cases) {
      const t = alertText(alert({ since: iso(0), ...c.over }), at(120));
      for (const [k, v] of Object.entries(c.want)) assert.equal(t[k], v, `${c.name}: ${k}`);
      assert.equal(t.rule, 'rule hot', c.name);
    }
  });

  test('the summary of the list', () => {
    const cases = [
      { list: [], want: 'No active or recent alerts' },
      { list: [alert()], want: '1 firing · 0 cleared' },
      { list: [alert({ state: 'cleared' }), alert({ ruleId: 'x', state: 'cleared' })], want: 'None firing · 2 cleared' },
    ];
    for (const c of cases) assert.equal(summaryText(c.list), c.want);
  });
});
