// A WebSocket client we did not write (node's ws), driving a sockit WebSocket echo server
// through one scenario and printing a line per step: "ok STEP" or "FAIL STEP: why". Exits 0
// when every step passed. Usage: node ws_client.js URL SCENARIO
//   echo    text, binary, empty, 1 MiB, UTF-8, fragmented, ping/pong, close 4000 echoed
//   many N  N clients at once, each sends 20 messages and checks its own echoes
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [url, scenario, arg] = process.argv.slice(2);
let failed = 0;
const ok = (step) => console.log(`ok ${step}`);
const fail = (step, why) => {
  failed++;
  console.log(`FAIL ${step}: ${why}`);
};

function open(u) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function next(ws) {
  return new Promise((resolve, reject) => {
    const onMsg = (data, isBinary) => {
      ws.off('close', onClose);
      resolve({ data, isBinary });
    };
    const onClose = (code) => {
      ws.off('message', onMsg);
      reject(new Error(`closed with ${code} while waiting for a message`));
    };
    ws.once('message', onMsg);
    ws.once('close', onClose);
  });
}

async function roundTrip(ws, step, payload, binary) {
  const got = next(ws);
  ws.send(payload, { binary });
  const { data, isBinary } = await got;
  const want = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  if (isBinary !== binary) fail(step, `binary ${isBinary}, sent ${binary}`);
  else if (!Buffer.from(data).equals(want)) fail(step, `${data.length} bytes differ from ${want.length}`);
  else ok(step);
}

async function echo() {
  const ws = await open(url);
  ok('open');
  if (ws.extensions !== '') fail('no extension negotiated', `got "${ws.extensions}"`);
  else ok('no extension negotiated');
  await roundTrip(ws, 'text', 'hello', false);
  await roundTrip(ws, 'utf-8 text', 'grüße, 世界, 🎉', false);
  await roundTrip(ws, 'binary', Buffer.from([0, 1, 2, 255]), true);
  await roundTrip(ws, 'empty text', '', false);
  await roundTrip(ws, '1 MiB binary', crypto.randomBytes(1 << 20), true);
  await roundTrip(ws, '200 KiB text', 'x'.repeat(200 * 1024), false);

  const frag = next(ws);
  ws.send('frag', { fin: false });
  ws.send('ment', { fin: false });
  ws.ping('between fragments');
  ws.send('ed', { fin: true });
  const f = await frag;
  if (f.isBinary || f.data.toString() !== 'fragmented') fail('fragmented', `got "${f.data}"`);
  else ok('fragmented');

  const pong = new Promise((resolve) => ws.once('pong', resolve));
  ws.ping('are you there');
  const p = await pong;
  if (p.toString() !== 'are you there') fail('ping', `pong "${p}"`);
  else ok('ping');

  const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason })));
  ws.close(4000, 'bye');
  const c = await closed;
  if (c.code !== 4000 || c.reason.toString() !== 'bye') fail('close', `${c.code} "${c.reason}"`);
  else ok('close 4000 echoed');
}

async function many(n) {
  const clients = await Promise.all(Array.from({ length: n }, () => open(url)));
  ok(`${n} open`);
  let bad = 0;
  await Promise.all(
    clients.map(async (ws, i) => {
      for (let k = 0; k < 20; k++) {
        const msg = `client ${i} message ${k}`;
        const got = next(ws);
        ws.send(msg);
        const { data } = await got;
        if (data.toString() !== msg) bad++;
      }
      ws.close(1000);
    }),
  );
  if (bad) fail('echoes', `${bad} wrong`);
  else ok(`${n * 20} echoes`);
}

const timer = setTimeout(() => {
  fail('timeout', 'the scenario took over 30 s');
  process.exit(1);
}, 30000);

(scenario === 'many' ? many(Number(arg || 100)) : echo())
  .catch((e) => fail(scenario, e.message))
  .finally(() => {
    clearTimeout(timer);
    process.exit(failed ? 1 : 0);
  });
