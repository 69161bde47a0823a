// node's ws clients on several sockit chat processes sharing rooms through Redis, one scenario
// per run, a line per step: "ok STEP" or "FAIL STEP: why"; exit 0 when every step passed.
// Usage: node chat_nodes.js SCENARIO ROOM BASE1 BASE2 [BASE3...]   (BASE: ws://127.0.0.1:PORT)
//   fanout   two members on each node, each says COUNT messages at once: every member gets
//            every message exactly once, each sender's in the order said, no echo doubled
//   alone    (Redis down) a message said on node 1 reaches node 1's members and its sender
//            hears "not-relayed"
//   presence a newcomer on node 2 sees the members and the history of node 1 in its welcome,
//            and a nickname held on node 1 is refused on node 2
//   hold     a member "ghost" joins on node 1 and stays (until killed)
//   absent   within 20 s, a newcomer on node 1 no longer sees "ghost" among the members
//   oldonly  a newcomer's history is exactly the one message "old" (junk in Redis is skipped)
'use strict';
const WebSocket = require('ws');

const [scenario, room, ...bases] = process.argv.slice(2);
const COUNT = 25;
const { ok, fail, check, sleep, failures, opened } = require('./steps');

class Member {
  constructor(base, nick) {
    this.nick = nick;
    this.got = [];
    this.ws = new WebSocket(base + room);
    this.ws.on('message', (d) => this.got.push(JSON.parse(d.toString())));
    this.ws.on('error', () => {});
  }
  open() {
    return opened(this.ws);
  }
  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }
  messages() {
    return this.got.filter((m) => m.type === 'message');
  }
}

// Wait until PRED holds, polling, for at most MS.
async function until(pred, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (pred()) return true;
  return pred();
}

async function join(members) {
  await Promise.all(members.map((m) => m.open()));
  members.forEach((m) => m.send({ type: 'join', nick: m.nick }));
  const welcomed = await until(() => members.every((m) => m.got.some((x) => x.type === 'welcome')), 5000);
  check(welcomed, 'every member welcomed', members.filter((m) => !m.got.some((x) => x.type === 'welcome')).map((m) => m.nick).join(' '));
  await sleep(300); // every node has subscribed to the room
}

async function fanout() {
  const members = [];
  bases.forEach((b, i) => members.push(new Member(b, `n${i}a`), new Member(b, `n${i}b`)));
  await join(members);
  members.forEach((m) => {
    for (let k = 0; k < COUNT; k++) m.send({ type: 'say', text: `${m.nick} ${k}` });
  });
  const total = members.length * COUNT;
  const all = await until(() => members.every((m) => m.messages().length >= total), 10000);
  check(all, `every member got all ${total} messages`, members.map((m) => `${m.nick}:${m.messages().length}`).join(' '));
  await sleep(300); // anything extra (a duplicate) arrives too
  for (const m of members) {
    const texts = m.messages().map((x) => x.text);
    const dups = texts.length - new Set(texts).size;
    check(dups === 0 && texts.length === total, `${m.nick} got each message once`, `${texts.length} messages, ${dups} duplicates`);
    let ordered = true;
    for (const sender of members) {
      const seq = texts.filter((t) => t.startsWith(sender.nick + ' ')).map((t) => Number(t.split(' ')[1]));
      if (seq.some((v, i) => v !== i)) ordered = false;
    }
    check(ordered, `${m.nick} got each sender's messages in order`, 'out of order');
  }
  const errors = members.flatMap((m) => m.got.filter((x) => x.type === 'error'));
  check(errors.length === 0, 'no errors', JSON.stringify(errors[0]));
  members.forEach((m) => m.ws.close());
}

async function alone() {
  const a = new Member(bases[0], 'lone1'), b = new Member(bases[0], 'lone2');
  await join([a, b]);
  a.send({ type: 'say', text: 'while the link is down' });
  const heard = await until(() => a.got.some((x) => x.type === 'error' && x.error === 'not-relayed'), 3000);
  check(heard, 'the sender hears not-relayed', JSON.stringify(a.got.slice(-2)));
  const local = await until(() => b.messages().some((x) => x.text === 'while the link is down'), 3000);
  check(local, 'a member on the same node still gets it', JSON.stringify(b.got.slice(-2)));
  [a, b].forEach((m) => m.ws.close());
}

async function presence() {
  const p1 = new Member(bases[0], 'p1');
  await join([p1]);
  for (let k = 0; k < 3; k++) p1.send({ type: 'say', text: `history ${k}` });
  await until(() => p1.messages().length === 3, 3000);
  const p2 = new Member(bases[1], 'p2');
  await join([p2]);
  const w = p2.got.find((x) => x.type === 'welcome');
  check(w && w.users.includes('p1') && w.users.includes('p2'), 'node 2 sees node 1\'s member', JSON.stringify(w && w.users));
  const texts = w ? w.history.map((x) => x.text) : [];
  check(JSON.stringify(texts) === JSON.stringify(['history 0', 'history 1', 'history 2']), 'node 2 gets node 1\'s history', JSON.stringify(texts));
  const dup = new Member(bases[1], 'x');
  await dup.open();
  dup.send({ type: 'join', nick: 'p1' });
  const refused = await until(() => dup.got.some((x) => x.type === 'error' && x.error === 'nick-taken'), 3000);
  check(refused, 'a nickname held on node 1 is refused on node 2', JSON.stringify(dup.got));
  [p1, p2, dup].forEach((m) => m.ws.close());
}

async function hold() {
  const g = new Member(bases[0], 'ghost');
  await join([g]);
  console.log('holding');
  await sleep(60000);
}

async function absent() {
  const start = Date.now();
  for (let i = 0; Date.now() - start < 20000; i++) {
    const m = new Member(bases[0], `look${i}`);
    await join([m]);
    const w = m.got.find((x) => x.type === 'welcome');
    m.ws.close();
    if (w && !w.users.includes('ghost')) {
      ok(`ghost gone from the members after ${((Date.now() - start) / 1000).toFixed(1)} s`);
      return;
    }
    await sleep(500);
  }
  fail('ghost gone', 'still listed after 20 s');
}

async function oldonly() {
  const m = new Member(bases[0], 'reader');
  await join([m]);
  const w = m.got.find((x) => x.type === 'welcome');
  const texts = w ? w.history.map((x) => x.text) : null;
  check(JSON.stringify(texts) === '["old"]', 'the history holds only what a chat wrote', JSON.stringify(texts));
  m.ws.close();
}

(async () => {
  if (scenario === 'fanout') await fanout();
  else if (scenario === 'oldonly') await oldonly();
  else if (scenario === 'alone') await alone();
  else if (scenario === 'presence') await presence();
  else if (scenario === 'hold') await hold();
  else if (scenario === 'absent') await absent();
  else fail('scenario', `unknown: ${scenario}`);
  console.log(failures() ? `${failures()} failed` : 'all ok');
  process.exit(failures() ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL exception: ${e.stack}`);
  process.exit(1);
});
