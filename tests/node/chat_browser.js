// Two headless Chromium pages (Debian's chromium, driven by playwright-core) chat through
// sockit chat: each joins with a nickname, one sends a message made to run script if it were
// parsed as HTML, the other must show it as text; then the server restarts and both pages
// reconnect and join again by themselves. A screenshot of the second page goes to SHOT.
// Prints "ok STEP" / "FAIL STEP: why"; exit 0 when all passed.
// Usage: node chat_browser.js SOCKIT PORT SHOT
'use strict';
const { spawn } = require('child_process');
const { chromium } = require('playwright-core');

const [sockit, port, shot] = process.argv.slice(2);
const url = `http://127.0.0.1:${port}/lobby`;
const { ok, fail, check, failures } = require('./steps');

function startChat() {
  const p = spawn(sockit, ['chat', '-q', '-l', `tcp://127.0.0.1:${port}`], { stdio: 'ignore' });
  return new Promise((resolve) => setTimeout(() => resolve(p), 400));
}

function stopChat(p) {
  return new Promise((resolve) => {
    p.once('exit', resolve);
    p.kill('SIGTERM');
  });
}

async function join(page, nick) {
  await page.goto(url);
  await page.fill('#nick', nick);
  await page.click('#join button');
  await page.waitForSelector('#say:not([hidden])', { timeout: 5000 });
}

async function main() {
  let chat = await startChat();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const ann = await browser.newPage({ viewport: { width: 800, height: 500 } });
    const ben = await browser.newPage({ viewport: { width: 800, height: 500 } });
    await join(ann, 'ann');
    await join(ben, 'ben');
    ok('two pages joined');
    check(!(await ben.isVisible('#join')) && (await ben.isVisible('#say')), 'the join form gives way to the message form',
      'both or neither shown');
    await ann.waitForFunction(() => document.querySelectorAll('#users li').length === 2);
    check((await ann.textContent('#users')).includes('ben'), 'ann sees ben present', await ann.textContent('#users'));

    const evil = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
    await ann.fill('#text', evil);
    await ann.click('#say button');
    await ben.waitForFunction((t) => [...document.querySelectorAll('#log li')].some((li) => li.textContent.includes(t)), evil, { timeout: 5000 });
    ok('ben got the message');
    const imgs = await ben.evaluate(() => document.querySelectorAll('#log img, #log script').length);
    const pwned = await ben.evaluate(() => window.pwned);
    check(imgs === 0 && pwned === undefined, 'shown as text, not run as HTML', `imgs ${imgs}, pwned ${pwned}`);

    await ben.fill('#text', 'hello ann');
    await ben.click('#say button');
    await ann.waitForFunction(() => document.querySelector('#log').textContent.includes('hello ann'));
    ok('ann got the answer');
    await ben.screenshot({ path: shot });

    await stopChat(chat);
    await ben.waitForFunction(() => document.querySelector('#status').textContent.startsWith('disconnected'), null, { timeout: 5000 });
    ok('the page sees the drop');
    chat = await startChat();
    await ann.waitForFunction(() => document.querySelector('#status').textContent === 'connected' &&
      document.querySelector('#log').textContent.includes('you joined'), null, { timeout: 10000 });
    await ben.waitForFunction(() => document.querySelectorAll('#users li').length === 2, null, { timeout: 10000 });
    ok('both pages reconnected and joined again');
  } finally {
    await browser.close();
    await stopChat(chat);
  }
}

const timer = setTimeout(() => {
  fail('timeout', 'over 60 s');
  process.exit(1);
}, 60000);
main()
  .catch((e) => fail('browser', e.message))
  .finally(() => {
    clearTimeout(timer);
    process.exit(failures() ? 1 : 0);
  });
