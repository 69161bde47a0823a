// A WebSocket echo server we did not write (node's ws), for testing sockit's client. Listens
// on 127.0.0.1:PORT, prints "listening" once it does; each message comes back with its type.
// A text message "close CODE REASON" makes it close with that code instead; "ping" makes it
// send a ping, then "pong PAYLOAD" once the pong comes back. Usage: node ws_server.js PORT
'use strict';
const WebSocket = require('ws');

const wss = new WebSocket.Server({ host: '127.0.0.1', port: Number(process.argv[2]) });
wss.on('listening', () => console.log('listening'));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    const m = text && /^close (\d+) ?(.*)$/.exec(text);
    if (m) {
      ws.close(Number(m[1]), m[2]);
    } else if (text === 'ping') {
      ws.once('pong', (p) => ws.send(`pong ${p}`));
      ws.ping('hi');
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
