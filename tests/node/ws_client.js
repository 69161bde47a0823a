// A WebSocket client we did not write (node's ws), driving a sockit WebSocket echo server
// through one scenario and printing a line per step: "ok STEP" or "FAIL STEP: why". Exits 0
// when every step passed. Usage: node ws_client.js URL SCENARIO [ARG]
//   echo    text, binary, empty, 1 MiB, UTF-8, fragmented, ping/pong, close 4000 echoed
//   many N  N clients at once, each sends 20 messages and checks its own echoes
//   deflate [takeover|nct|8]  permessage-deflate (RFC 7692) offered and agreed, every message
//           compressed both ways (node's threshold 0; bytes on the socket prove it), with
//           context takeover, without (server_ and client_no_context_takeover), or with
//           8-bit windows both ways
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

function open(u, options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u, options);
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

// The bytes a round trip of PAYLOAD moved on the socket, each way.
async function counted(ws, step, payload, binary) {
  const sent = ws._socket.bytesWritten;
  const read = ws._socket.bytesRead;
  await roundTrip(ws, step, payload, binary);
  return { out: ws._socket.bytesWritten - sent, in: ws._socket.bytesRead - read };
}

// Each mode: node's options, and the parameters the server must agree to.
const deflateModes = {
  takeover: { options: {}, params: {} },
  nct: {
    options: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    params: { server_no_context_takeover: true, client_no_context_takeover: true },
  },
  8: {
    options: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    params: { server_max_window_bits: 8, client_max_window_bits: 8 },
  },
};

async function deflate(mode) {
  const m = deflateModes[mode || 'takeover'];
  const ws = await open(url, { perMessageDeflate: { threshold: 0, ...m.options } });
  ok('open');
  const pmd = ws._extensions['permessage-deflate'];
  const params = JSON.stringify(pmd && pmd.params);
  if (ws.extensions !== 'permessage-deflate' || params !== JSON.stringify(m.params))
    fail('negotiated', `"${ws.extensions}" ${params}`);
  else ok(`negotiated ${ws.extensions} ${params}`);

  await roundTrip(ws, 'text', 'hello', false);
  await roundTrip(ws, 'utf-8 text', 'grüße, 世界, 🎉', false);
  await roundTrip(ws, 'empty text', '', false);
  await roundTrip(ws, 'empty binary', Buffer.alloc(0), true);
  for (let i = 0; i < 5; i++) await roundTrip(ws, `repeated message ${i}`, 'the same message, again', false);
  const big = await counted(ws, '1 MiB compressible text', 'lorem ipsum dolor sit amet '.repeat(40000), false);
  if (big.out > 100000 || big.in > 100000) fail('compressed on the wire', `${big.out} out, ${big.in} in`);
  else ok(`compressed on the wire (${big.out} bytes out, ${big.in} in)`);
  const rnd = await counted(ws, '1 MiB random binary', crypto.randomBytes(1 << 20), true);
  if (rnd.out < 1 << 20 || rnd.in < 1 << 20) fail('random stays its size', `${rnd.out}, ${rnd.in}`);
  else ok('random stays its size');
  await roundTrip(ws, 'after random', 'lorem ipsum dolor sit amet '.repeat(100), false);

  const frag = next(ws);
  ws.send('com', { fin: false, compress: true });
  ws.send('pressed in ', { fin: false, compress: true });
  ws.ping('between compressed fragments');
  ws.send('fragments', { fin: true, compress: true });
  const f = await frag;
  if (f.data.toString() !== 'compressed in fragments') fail('fragmented', `got "${f.data}"`);
  else ok('fragmented');

  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  ws.close(1000);
  const code = await closed;
  if (code !== 1000) fail('close', `${code}`);
  else ok('close');
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

const scenarios = { many: () => many(Number(arg || 100)), deflate: () => deflate(arg), echo };
(scenarios[scenario] || echo)()
  .catch((e) => fail(scenario, e.message))
  .finally(() => {
    clearTimeout(timer);
    process.exit(failed ? 1 : 0);
  });
