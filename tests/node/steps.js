// What the node test scripts share: a line per step, "ok STEP" or "FAIL STEP: why", the count
// of failures for the exit status, a sleep, and waiting for a WebSocket to open.
'use strict';

let failed = 0;
const ok = (step) => console.log(`ok ${step}`);
const fail = (step, why) => {
  failed++;
  console.log(`FAIL ${step}: ${why}`);
};
const check = (cond, step, why) => (cond ? ok(step) : fail(step, why));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = () => failed;
// A promise of WS (a ws WebSocket) open, rejected by its first error.
const opened = (ws) =>
  new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });

module.exports = { ok, fail, check, sleep, failures, opened };
