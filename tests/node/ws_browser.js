// Headless Chromium (Debian's chromium, driven by playwright-core) as a WebSocket client of an
// echo server: the browser offers permessage-deflate as it always does; each message sent from
// the page (short and long text, non-ASCII text, random and repetitive binary) must come back
// unchanged, and the extension the browser reports must be the one expected.
// Prints "ok STEP" / "FAIL STEP: why"; exit 0 when all passed.
// Usage: node ws_browser.js URL EXPECTED_EXTENSIONS   (EXPECTED_EXTENSIONS may be "")
'use strict';
const { chromium } = require('playwright-core');

const [url, expected] = process.argv.slice(2);
let failed = 0;
const ok = (step) => console.log(`ok ${step}`);
const fail = (step, why) => {
  failed++;
  console.log(`FAIL ${step}: ${why}`);
};

// Runs in the page: opens the socket, echoes every message, reports what came back.
async function inPage(target) {
  const rnd = new Uint8Array(65536);
  let x = 12345;
  for (let i = 0; i < rnd.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    rnd[i] = x >>> 24;
  }
  const cases = [
    ['short text', 'hello'],
    ['long repetitive text', 'sockit '.repeat(30000)],
    ['non-ASCII text', 'grüße, 世界, \u{1F600} '.repeat(500)],
    ['random binary', rnd],
    ['repetitive binary', new Uint8Array(100000).fill(7)],
    ['empty text', ''],
  ];
  const ws = new WebSocket(target);
  ws.binaryType = 'arraybuffer';
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('the connection failed'));
  });
  const results = [];
  for (const [name, data] of cases) {
    const back = await new Promise((resolve, reject) => {
      ws.onmessage = (e) => resolve(e.data);
      ws.onclose = (e) => reject(new Error(`closed with ${e.code} during ${name}`));
      ws.send(data);
    });
    let same;
    if (typeof data === 'string') same = back === data;
    else {
      const b = new Uint8Array(back);
      same = b.length === data.length && b.every((v, i) => v === data[i]);
    }
    results.push([name, same]);
  }
  const code = await new Promise((resolve) => {
    ws.onclose = (e) => resolve(e.code);
    ws.close(1000, 'done');
  });
  return { extensions: ws.extensions, results, code };
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(url.replace(/^ws/, 'http')).catch(() => {}); // a page of the same origin (426)
    const r = await page.evaluate(inPage, url);
    if (r.extensions === expected) ok(`negotiated "${r.extensions}"`);
    else fail('negotiated', `"${r.extensions}", expected "${expected}"`);
    for (const [name, same] of r.results) {
      if (same) ok(`${name} came back unchanged`);
      else fail(name, 'came back different');
    }
    if (r.code === 1000) ok('closed with 1000');
    else fail('close', `code ${r.code}`);
  } catch (e) {
    fail('run', e.message);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}

main();
