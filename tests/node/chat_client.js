// Clients we did not write (node's ws) in a sockit chat, one scenario per run, a line per
// step: "ok STEP" or "FAIL STEP: why"; exit 0 when every step passed.
// Usage: node chat_client.js BASE SCENARIO      (BASE: ws://127.0.0.1:PORT)
//   rooms    joins, broadcast within a room only, history for a newcomer, nick rules, leave
//   limits   refusals answered with errors (bad JSON, before join, too long, too fast),
//            binary closed with 1003, and the client still served after each error
//   slow     a member that stops reading is closed while the room floods; the others get
//            every message
'use strict';
const WebSocket = require('ws');

const [base, scenario] = process.argv.slice(2);
const { ok, fail, check, sleep, failures, opened } = require('./steps');

// A client that keeps every message it gets and can wait for one that matches.
class Client {
  constructor(room) {
    this.got = [];
    this.waiters = [];
    this.ws = new WebSocket(base + room);
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
    this.ws.on('message', (data, isBinary) => {
      const m = isBinary ? { type: 'binary' } : JSON.parse(data.toString());
      this.got.push(m);
      this.waiters = this.waiters.filter((w) => !(w.pred(m) && (w.resolve(m), true)));
    });
    this.ws.on('error', () => {});
  }
  open() {
    return opened(this.ws);
  }
  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }
  wait(pred, ms = 3000) {
    const seen = this.got.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => reject(new Error('no such message within ' + ms + ' ms')), ms);
    });
  }
  count(pred) {
    return this.got.filter(pred).length;
  }
}

async function joined(room, nick) {
  const c = new Client(room);
  await c.open();
  c.send({ type: 'join', nick });
  await c.wait((m) => m.type === 'welcome');
  return c;
}

async function rooms() {
  const alice = await joined('/r1', 'alice');
  const bob = await joined('/r1', 'bob');
  const carol = await joined('/r2', 'carol');
  const w = bob.got.find((m) => m.type === 'welcome');
  check(JSON.stringify(w.users.sort()) === '["alice","bob"]', 'welcome lists the room', JSON.stringify(w));
  await alice.wait((m) => m.type === 'join' && m.nick === 'bob');
  ok('join notice');

  alice.send({ type: 'say', text: 'hello <b>r1</b> "quoted" \\ 世界' });
  const m = await bob.wait((x) => x.type === 'message');
  check(m.nick === 'alice' && m.text === 'hello <b>r1</b> "quoted" \\ 世界' && m.time > 1.6e12,
    'message to the room, text as sent', JSON.stringify(m));
  await alice.wait((x) => x.type === 'message');
  ok('the sender gets its own message');
  await sleep(200);
  check(carol.count((x) => x.type === 'message') === 0, 'not to another room', JSON.stringify(carol.got));

  const dave = await joined('/r1', 'dave');
  const dw = dave.got.find((x) => x.type === 'welcome');
  check(dw.history.length === 1 && dw.history[0].text.startsWith('hello'), 'history for a newcomer',
    JSON.stringify(dw.history));

  const bob2 = new Client('/r1');
  await bob2.open();
  bob2.send({ type: 'join', nick: 'bob' });
  const e = await bob2.wait((x) => x.type === 'error');
  check(e.error === 'nick-taken', 'a nickname is unique in its room', JSON.stringify(e));
  const bobR2 = await joined('/r2', 'bob');
  ok('the same nickname in another room');
  for (const [nick, why] of [['', 'empty'], [' x', 'leading space'], ['a\u0001', 'control'], ['x'.repeat(33), '33 bytes']]) {
    bob2.send({ type: 'join', nick });
    const b = await bob2.wait((x) => x.type === 'error' && x.error === 'bad-nick' && !x.seen);
    b.seen = true;
    ok(`bad nickname refused: ${why}`);
  }

  bob.ws.close(1000);
  const l = await alice.wait((x) => x.type === 'leave');
  check(l.nick === 'bob', 'leave notice', JSON.stringify(l));
  for (const c of [alice, carol, dave, bob2, bobR2]) c.ws.close(1000);
}

async function limits() {
  const c = new Client('/limits');
  await c.open();
  c.send({ type: 'say', text: 'too early' });
  let e = await c.wait((x) => x.type === 'error');
  check(e.error === 'not-joined', 'say before join', JSON.stringify(e));
  c.got.length = 0;
  for (const [bad, name] of [['not json', 'not JSON'], ['[1,2]', 'an array'], ['{"type":"shout","text":"x"}', 'an unknown type'],
    ['{"type":"say","text":5}', 'a number for text'], ['{"type":"say","text":"a","extra":1}', 'an extra key'],
    ['{"type":"say","type":"say","text":"a"}', 'a duplicate key']]) {
    c.send(bad);
    const x = await c.wait((m) => m.type === 'error' && !m.seen);
    x.seen = true;
    check(x.error === 'bad-message', `refused: ${name}`, JSON.stringify(x));
  }
  c.send({ type: 'join', nick: 'limits' });
  await c.wait((x) => x.type === 'welcome');
  c.send({ type: 'say', text: 'y'.repeat(5000) });
  e = await c.wait((x) => x.type === 'error' && x.error === 'bad-text');
  ok('a text over --max-text refused');

  for (let i = 0; i < 60; i++) c.send({ type: 'say', text: `burst ${i}` });
  e = await c.wait((x) => x.type === 'error' && x.error === 'rate-limited');
  await sleep(500);
  const got = c.count((x) => x.type === 'message');
  check(got >= 20 && got < 60, 'rate limit: a burst of 2x --rate passes, the rest is dropped', `${got} of 60`);
  check(c.count((x) => x.error === 'rate-limited') === 1, 'one rate-limited error a second', String(c.count((x) => x.error === 'rate-limited')));
  await sleep(1100);
  c.send({ type: 'say', text: 'after the burst' });
  await c.wait((x) => x.type === 'message' && x.text === 'after the burst');
  ok('served again once the rate allows');

  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  const code = await c.closed;
  check(code === 1003, 'binary message closed with 1003', String(code));
}

async function slow() {
  const fast = await joined('/flood', 'fast');
  const lazy = await joined('/flood', 'lazy');
  const talker = await joined('/flood', 'talker');
  lazy.ws._socket.pause(); // stops reading: the kernel's buffers fill, then the server's queue
  const text = 'z'.repeat(4000);
  let sent = 0;
  const lazyGone = fast.wait((x) => x.type === 'leave' && x.nick === 'lazy', 20000);
  // ~3 MB/s into the room (the chat runs with --rate 2000), for at most 20 s
  for (let round = 0; round < 400 && !fast.got.some((x) => x.type === 'leave'); round++) {
    for (let i = 0; i < 40; i++, sent++) talker.send({ type: 'say', text });
    await sleep(50);
  }
  await lazyGone;
  ok('a member that does not read is dropped');
  talker.send({ type: 'say', text: 'last' });
  await fast.wait((x) => x.type === 'message' && x.text === 'last', 10000);
  const got = fast.count((x) => x.type === 'message');
  check(got === sent + 1, 'the others get every message', `${got} of ${sent + 1}`);
  for (const c of [fast, talker]) c.ws.close(1000);
}

const timer = setTimeout(() => {
  fail('timeout', 'the scenario took over 60 s');
  process.exit(1);
}, 60000);
const run = { rooms, limits, slow }[scenario];
(run ? run() : Promise.reject(new Error('unknown scenario')))
  .catch((e) => fail(scenario, e.message))
  .finally(() => {
    clearTimeout(timer);
    process.exit(failures() ? 1 : 0);
  });
