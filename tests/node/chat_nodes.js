// node's ws clients on several sockit chat processes sharing rooms through Redis, one scenario
// per run, a line per step: "ok STEP" or "FAIL STEP: why"; exit 0 when every step passed.
// Usage: node chat_nodes.js SCENARIO ROOM BASE1 BASE2 [BASE3...]   (BASE: ws://127.0.0.1:PORT)
//   fanout   two members on each node, each says COUNT messages at once: every member gets
//            every message exactly once, each sender's in the order said, no echo doubled
//   alone    (Redis down) a message said on node 1 reaches node 1's members and its sender
//            hears "not-relayed"
'use strict';
const WebSocket = require('ws');

const [scenario, room, ...bases] = process.argv.slice(2);
const COUNT = 25;
let failed = 0;
const ok = (step) => console.log(`ok ${step}`);
const fail = (step, why) => {
  failed++;
  console.log(`FAIL ${step}: ${why}`);
};
const check = (cond, step, why) => (cond ? ok(step) : fail(step, why));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Member {
  constructor(base, nick) {
    this.nick = nick;
    this.got = [];
    this.ws = new WebSocket(base + room);
    this.ws.on('message', (d) => this.got.push(JSON.parse(d.toString())));
    this.ws.on('error', () => {});
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
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

(async () => {
  if (scenario === 'fanout') await fanout();
  else if (scenario === 'alone') await alone();
  else fail('scenario', `unknown: ${scenario}`);
  console.log(failed ? `${failed} failed` : 'all ok');
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL exception: ${e.stack}`);
  process.exit(1);
});
