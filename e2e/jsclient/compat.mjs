// Compatibility check: Eclipse Ditto's own JavaScript client (Node.js flavour), used
// unchanged through its documented API, against a running twinway gateway.
//
//   TWINWAY_ADDR=127.0.0.1:8080 node compat.mjs
//
// Prints one line per step ("ok - <step>" / "not ok - <step>: <reason>") and a final
// "N passed, M failed" line; exits 0 only if every step passed. Every wait is bounded and
// the whole run is cut off after 60 s.
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';

const require = createRequire(import.meta.url);
const {
  DefaultFieldsOptions,
  DefaultMatchOptions,
  DefaultMessagesOptions,
  DittoNodeClient,
  NodeHttpBasicAuth,
  NodeWebSocketBasicAuth,
  Thing,
} = require('@eclipse-ditto/ditto-javascript-client-node');
const clientVersion = require('@eclipse-ditto/ditto-javascript-client-node/package.json').version;

const ADDR = process.env.TWINWAY_ADDR;
if (!ADDR) {
  console.error('TWINWAY_ADDR (host:port of the gateway) is not set');
  process.exit(2);
}
const USER = process.env.TWINWAY_USER ?? 'ditto';
const PASSWORD = process.env.TWINWAY_PASSWORD ?? 'ditto';
const STEP_TIMEOUT_MS = 10_000;
const OVERALL_TIMEOUT_MS = 60_000;
// Talk to the gateway directly even if the environment sets HTTP(S)_PROXY.
const PROXY_OPTIONS = { ignoreProxyFromEnv: true };

let passed = 0;
let failed = 0;

const overall = setTimeout(() => {
  console.log(`not ok - overall: run did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
  failed++;
  finish();
}, OVERALL_TIMEOUT_MS);

function finish() {
  clearTimeout(overall);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

// The client rejects a promise nobody holds when a WebSocket closes without reconnecting
// ("Reconnect disabled"); that is expected at the end of the run and not a failure.
process.on('unhandledRejection', (reason) => {
  if (reason === 'Reconnect disabled') return;
  console.log(`# unhandled rejection: ${describe(reason)}`);
});

function describe(value) {
  if (value instanceof Error) return value.message;
  if (value && typeof value === 'object' && 'status' in value && 'body' in value) {
    // BasicErrorResponse (HTTP) has status, body and headers as getters.
    return `status ${value.status}, body ${JSON.stringify(value.body)}`;
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function withTimeout(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

function expectEqual(actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** Runs one step; returns whether it passed. A failed step never stops the run. */
async function step(name, fn) {
  try {
    await withTimeout(Promise.resolve().then(fn), name);
    console.log(`ok - ${name}`);
    passed++;
    return true;
  } catch (e) {
    console.log(`not ok - ${name}: ${describe(e)}`);
    failed++;
    return false;
  }
}

/** Awaits a promise that must reject with an error of the given status (HTTP or Ditto protocol). */
async function expectRejection(promise, status, errorCode) {
  let result;
  try {
    result = await promise;
  } catch (e) {
    expect(e && e.status === status, `expected a rejection with status ${status}, got ${describe(e)}`);
    if (errorCode !== undefined) {
      const body = e.body ?? e;
      expectEqual(body && body.error, errorCode, 'error code');
    }
    return;
  }
  throw new Error(`expected a rejection with status ${status}, but it resolved with ${describe(result)}`);
}

const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

// ---------------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------------
async function httpSteps() {
  const client = DittoNodeClient.newHttpClient(PROXY_OPTIONS)
    .withoutTls()
    .withDomain(ADDR)
    .withAuthProvider(NodeHttpBasicAuth.newInstance(USER, PASSWORD))
    .withTimeout(STEP_TIMEOUT_MS)
    .build();
  const things = client.getThingsHandle();
  const thingId = `org.twinway.jsclient:http-${runId}`;
  const features = client.getFeaturesHandle(thingId);

  await step('http: putThing creates the thing (201 with the thing)', async () => {
    const thing = Thing.fromObject({
      thingId,
      attributes: { room: 'kitchen', floor: 1 },
      features: { lamp: { properties: { on: false, brightness: 10 } } },
    });
    const response = await things.putThing(thing);
    expectEqual(response.status, 201, 'status');
    expect(response.wasCreated(), 'wasCreated() is false');
    const body = response.body;
    expect(body instanceof Thing, `body is not a Thing: ${describe(body)}`);
    expectEqual(body.thingId, thingId, 'thingId in the response');
    expectEqual(body.attributes, { room: 'kitchen', floor: 1 }, 'attributes in the response');
  });

  const sameThing = () => Thing.fromObject({
    thingId,
    attributes: { room: 'kitchen', floor: 1 },
    features: { lamp: { properties: { on: false, brightness: 10 } } },
  });
  let etag;

  await step('http: putThing on an existing thing updates it (204 with an ETag)', async () => {
    const response = await things.putThing(sameThing());
    expectEqual(response.status, 204, 'status');
    expect(response.wasUpdated(), 'wasUpdated() is false');
    etag = response.headers.get('etag');
    expect(typeof etag === 'string' && etag.length > 0, `no ETag header in ${JSON.stringify([...response.headers])}`);
  });

  await step('http: putThing with If-Match of the current ETag succeeds (204)', async () => {
    const response = await things.putThing(sameThing(), DefaultMatchOptions.getInstance().ifMatch(etag));
    expectEqual(response.status, 204, 'status');
  });

  await step('http: putThing with a stale If-Match fails with 412 things:precondition.failed', async () => {
    await expectRejection(
      things.putThing(sameThing(), DefaultMatchOptions.getInstance().ifMatch(etag)),
      412,
      'things:precondition.failed',
    );
  });

  await step('http: putThing with If-None-Match * on an existing thing fails with 412', async () => {
    await expectRejection(
      things.putThing(sameThing(), DefaultMatchOptions.getInstance().ifNoneMatchAny()),
      412,
      'things:precondition.failed',
    );
  });

  await step('http: putAttribute modifies an existing attribute (204)', async () => {
    const response = await things.putAttribute(thingId, 'room', 'hall');
    expectEqual(response.status, 204, 'status');
  });

  await step('http: putAttribute creates a nested attribute (201)', async () => {
    const response = await things.putAttribute(thingId, 'location/latitude', 47.1);
    expectEqual(response.status, 201, 'status');
    expectEqual(response.body, 47.1, 'value in the response');
  });

  await step('http: putProperty modifies a feature property (204)', async () => {
    const response = await features.putProperty('lamp', 'on', true);
    expectEqual(response.status, 204, 'status');
  });

  await step('http: getThing returns the modified thing', async () => {
    const thing = await things.getThing(thingId);
    expect(thing instanceof Thing, 'result is not a Thing');
    expectEqual(thing.thingId, thingId, 'thingId');
    expectEqual(thing.attributes, { room: 'hall', floor: 1, location: { latitude: 47.1 } }, 'attributes');
    expectEqual(thing.features.lamp.properties, { on: true, brightness: 10 }, 'lamp properties');
  });

  await step('http: getAttribute and getProperty return single values', async () => {
    expectEqual(await things.getAttribute(thingId, 'room'), 'hall', 'attribute room');
    expectEqual(await features.getProperty('lamp', 'on'), true, 'property lamp/on');
  });

  await step('http: getThing with fields selection', async () => {
    const thing = await things.getThing(thingId, DefaultFieldsOptions.getInstance().withFields('thingId', 'attributes/room'));
    expectEqual(thing.thingId, thingId, 'thingId');
    expectEqual(thing.attributes, { room: 'hall' }, 'attributes');
    expectEqual(thing.features, undefined, 'features');
  });

  await step('http: patchThing merges into the thing (204)', async () => {
    const patch = Thing.fromObject({
      thingId,
      attributes: { floor: 2, room: null },
      features: { lamp: { properties: { brightness: 80 } } },
    });
    const response = await things.patchThing(patch);
    expectEqual(response.status, 204, 'status');
  });

  await step('http: patchAttribute and patchProperty merge values (204)', async () => {
    expectEqual((await things.patchAttribute(thingId, 'location', { longitude: 8.5 })).status, 204, 'patchAttribute status');
    expectEqual((await features.patchProperty('lamp', 'color', { r: 255 })).status, 204, 'patchProperty status');
  });

  await step('http: getThing reflects the merges', async () => {
    const thing = await things.getThing(thingId);
    expectEqual(thing.attributes, { floor: 2, location: { latitude: 47.1, longitude: 8.5 } }, 'attributes');
    expectEqual(thing.features.lamp.properties, { on: true, brightness: 80, color: { r: 255 } }, 'lamp properties');
  });

  await step('http: deleteAttribute removes an attribute (204)', async () => {
    const response = await things.deleteAttribute(thingId, 'floor');
    expectEqual(response.status, 204, 'status');
    await expectRejection(things.getAttribute(thingId, 'floor'), 404, 'things:attribute.notfound');
  });

  await step('http: deleteThing deletes the thing (204)', async () => {
    const response = await things.deleteThing(thingId);
    expectEqual(response.status, 204, 'status');
  });

  await step('http: getThing after delete fails with 404 things:thing.notfound', async () => {
    await expectRejection(things.getThing(thingId), 404, 'things:thing.notfound');
  });
}

// ---------------------------------------------------------------------------------------------
// WebSocket clients: one changes a thing, the other one receives the events
// ---------------------------------------------------------------------------------------------

/** Builds a twin-channel (or live-channel) WebSocket client and resolves once it is connected. */
function connectWebSocketClient(live = false) {
  let onConnected;
  let onDisconnected;
  const connected = new Promise((resolve, reject) => {
    onConnected = resolve;
    onDisconnected = reject;
  });
  connected.catch(() => {}); // awaited (and reported) by the connect step
  const stateHandler = {
    connected: () => onConnected(),
    buffering: () => {},
    backPressure: () => {},
    reconnecting: () => {},
    bufferFull: () => {},
    disconnected: () => onDisconnected(new Error('WebSocket connection failed or was lost')),
  };
  const builder = DittoNodeClient.newWebSocketClient(PROXY_OPTIONS)
    .withoutTls()
    .withDomain(ADDR)
    .withAuthProvider(NodeWebSocketBasicAuth.newInstance(USER, PASSWORD))
    .withoutBuffer()
    .withReconnect(false);
  const client = (live ? builder.liveChannel() : builder.twinChannel()).withStateHandler(stateHandler).build();
  return { client, connected };
}

/** Collects the events a subscription receives; waitFor resolves when one matches. */
class EventLog {
  constructor() {
    this.events = [];
    this.waiters = [];
  }

  push(message) {
    this.events.push(message);
    this.waiters = this.waiters.filter(({ predicate, resolve }) => {
      if (predicate(message)) {
        resolve(message);
        return false;
      }
      return true;
    });
  }

  waitFor(predicate, what) {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    const p = new Promise((resolve) => this.waiters.push({ predicate, resolve }));
    return withTimeout(p, `${what} (events seen so far: ${JSON.stringify(this.events.map((e) => `${e.topic} ${e.path}`))})`);
  }
}

async function webSocketSteps() {
  const thingId = `org.twinway.jsclient:ws-${runId}`;
  const [namespace, name] = thingId.split(':');
  const eventTopic = (action) => `${namespace}/${name}/things/twin/events/${action}`;

  const writer = connectWebSocketClient();
  const listener = connectWebSocketClient();
  const allEvents = new EventLog();
  const thingEvents = new EventLog();

  try {
    const connectedBoth = await step('ws: both clients connect', async () => {
      await withTimeout(writer.connected, 'the writing client to connect');
      await withTimeout(listener.connected, 'the listening client to connect');
    });
    if (!connectedBoth) return;

    const events = listener.client.getEventsHandle();
    const subscribed = await step('ws: listener requestEvents (START-SEND-EVENTS:ACK)', async () => {
      await events.requestEvents();
      events.subscribeToAllEvents((message) => allEvents.push(message));
      events.subscribeToThing(thingId, (message) => thingEvents.push(message));
    });

    const things = writer.client.getThingsHandle();
    const features = writer.client.getFeaturesHandle(thingId);

    await step('ws: createThing (status 201 with the thing)', async () => {
      const thing = Thing.fromObject({
        thingId,
        attributes: { room: 'lab' },
        features: { lamp: { properties: { on: false } } },
      });
      const response = await things.createThing(thing);
      expectEqual(response.status, 201, 'status');
      expect(response.body instanceof Thing, `body is not a Thing: ${describe(response.body)}`);
      expectEqual(response.body.thingId, thingId, 'thingId in the response');
      expectEqual(response.body.attributes, { room: 'lab' }, 'attributes in the response');
    });

    await step('ws: createThing again fails with 409 things:thing.conflict', async () => {
      await expectRejection(things.createThing(Thing.fromObject({ thingId })), 409, 'things:thing.conflict');
    });

    await step('ws: putAttribute modifies an attribute (204)', async () => {
      const response = await things.putAttribute(thingId, 'room', 'office');
      expectEqual(response.status, 204, 'status');
    });

    await step('ws: putProperty modifies a feature property (204)', async () => {
      const response = await features.putProperty('lamp', 'on', true);
      expectEqual(response.status, 204, 'status');
    });

    await step('ws: patchThing with a stale If-Match fails with 412 things:precondition.failed', async () => {
      await expectRejection(
        things.patchThing(Thing.fromObject({ thingId, attributes: { floor: 99 } }), DefaultMatchOptions.getInstance().ifMatch('"rev:1"')),
        412,
        'things:precondition.failed',
      );
    });

    await step('ws: patchThing merges into the thing (204)', async () => {
      const response = await things.patchThing(Thing.fromObject({ thingId, attributes: { floor: 3 } }));
      expectEqual(response.status, 204, 'status');
    });

    await step('ws: getThing retrieves the modified thing', async () => {
      const thing = await things.getThing(thingId);
      expect(thing instanceof Thing, 'result is not a Thing');
      expectEqual(thing.thingId, thingId, 'thingId');
      expectEqual(thing.attributes, { room: 'office', floor: 3 }, 'attributes');
      expectEqual(thing.features.lamp.properties, { on: true }, 'lamp properties');
    });

    await step('ws: getProperty retrieves a single value', async () => {
      expectEqual(await features.getProperty('lamp', 'on'), true, 'property lamp/on');
    });

    await step('ws: deleteAttribute (204)', async () => {
      const response = await things.deleteAttribute(thingId, 'floor');
      expectEqual(response.status, 204, 'status');
    });

    await step('ws: deleteThing (204)', async () => {
      const response = await things.deleteThing(thingId);
      expectEqual(response.status, 204, 'status');
    });

    await step('ws: getThing after delete fails with 404 things:thing.notfound', async () => {
      await expectRejection(things.getThing(thingId), 404, 'things:thing.notfound');
    });

    if (!subscribed) return;

    const expected = [
      ['created', '/', (e) => isDeepStrictEqual(e.value?.attributes, { room: 'lab' }) && e.value?.thingId === thingId],
      ['modified', '/attributes/room', (e) => e.value === 'office'],
      ['modified', '/features/lamp/properties/on', (e) => e.value === true],
      ['merged', '/', (e) => isDeepStrictEqual(e.value, { thingId, attributes: { floor: 3 } }) || isDeepStrictEqual(e.value, { attributes: { floor: 3 } })],
      ['deleted', '/attributes/floor', () => true],
      ['deleted', '/', () => true],
    ];
    for (const [action, path, check] of expected) {
      await step(`ws: listener receives ${action} event at ${path}`, async () => {
        const event = await thingEvents.waitFor(
          (e) => e.topic === eventTopic(action) && e.path === path,
          `event ${eventTopic(action)} at ${path}`,
        );
        expect(check(event), `unexpected value ${JSON.stringify(event.value)}`);
        expect(typeof event.headers === 'object' && event.headers !== null, 'event has no headers');
      });
    }

    await step('ws: events arrive in order', async () => {
      const mine = thingEvents.events.filter((e) => e.topic.startsWith(`${namespace}/${name}/`));
      const actions = mine.map((e) => `${e.topic.split('/').pop()} ${e.path}`);
      expectEqual(actions, expected.map(([a, p]) => `${a} ${p}`), 'event sequence');
    });

    await step('ws: subscribeToAllEvents saw the same events', async () => {
      const mine = allEvents.events.filter((e) => e.topic.startsWith(`${namespace}/${name}/`));
      expectEqual(mine.length, thingEvents.events.length, 'number of events');
    });

    await step('ws: listener stopEvents (STOP-SEND-EVENTS:ACK)', async () => {
      await events.stopEvents();
    });
  } finally {
    for (const { client } of [writer, listener]) {
      try {
        client.close();
      } catch {
        // never connected: the client has no socket to close
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Live messages: a live-channel client receives what the HTTP client and another live client send
// ---------------------------------------------------------------------------------------------
async function liveMessageSteps() {
  const thingId = `org.twinway.jsclient:live-${runId}`;
  const [namespace, name] = thingId.split(':');
  const topic = `${namespace}/${name}/things/live/messages/ask`;
  const http = DittoNodeClient.newHttpClient(PROXY_OPTIONS)
    .withoutTls()
    .withDomain(ADDR)
    .withAuthProvider(NodeHttpBasicAuth.newInstance(USER, PASSWORD))
    .withTimeout(STEP_TIMEOUT_MS)
    .build();
  const device = connectWebSocketClient(true);
  const app = connectWebSocketClient(true);
  const received = new EventLog();
  try {
    const ready = await step('live: thing created, device and app connect, device requestMessages', async () => {
      const response = await http.getThingsHandle().putThing(Thing.fromObject({ thingId }));
      expectEqual(response.status, 201, 'status');
      await withTimeout(device.connected, 'the device to connect');
      await withTimeout(app.connected, 'the app to connect');
      const messages = device.client.getMessagesHandle();
      await messages.requestMessages();
      messages.subscribeToThing(thingId, (message) => received.push(message));
    });
    if (!ready) return;

    await step('live: http messageToThing with timeout 0 is accepted (202)', async () => {
      const response = await http.getMessagesHandle().messageToThing(thingId, 'ask', 'from http', 'text/plain',
        DefaultMessagesOptions.getInstance().withTimeout(0));
      expectEqual(response.status, 202, 'status');
    });
    await step('live: the device receives the HTTP message', async () => {
      // The client's HTTP handle sends the payload JSON-encoded, as text/plain: the device
      // gets that text, quotes included, as Ditto hands it on.
      const m = await received.waitFor((e) => e.value === '"from http"', 'the message from HTTP');
      expectEqual(m.topic, topic, 'topic');
      expectEqual(m.path, '/inbox/messages/ask', 'path');
    });

    await step('live: ws messageToThingWithoutResponse reaches the device', async () => {
      await app.client.getMessagesHandle().messageToThingWithoutResponse(thingId, 'ask', 'from ws', 'text/plain');
      const m = await received.waitFor((e) => e.value === 'from ws', 'the message from the app');
      expectEqual(m.topic, topic, 'topic');
    });

    await step('live: an unanswered ws message fails with 408 command.timeout', async () => {
      // withTimeout is a query parameter, which the WebSocket has not: the header does it.
      // The client hands a message's answer over as it is, an error too.
      const response = await app.client.getMessagesHandle().messageToThing(thingId, 'ask', 'anyone?', 'text/plain',
        DefaultMessagesOptions.getInstance().addHeader('timeout', '500ms'));
      expectEqual(response.status, 408, 'status');
      expectEqual(response.body && response.body.error, 'command.timeout', 'error code');
    });
  } finally {
    for (const { client } of [device, app]) {
      try {
        client.close();
      } catch {
        // never connected
      }
    }
  }
}

console.log(`# @eclipse-ditto/ditto-javascript-client-node ${clientVersion} against ${ADDR}`);
try {
  await httpSteps();
  await webSocketSteps();
  await liveMessageSteps();
} catch (e) {
  console.log(`not ok - unexpected error: ${describe(e)}`);
  failed++;
}
await sleep(100);
finish();
