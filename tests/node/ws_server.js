// A WebSocket echo server we did not write (node's ws), for testing sockit's client. Listens
// on 127.0.0.1:PORT, prints "listening" once it does; each message comes back with its type.
// A text message "close CODE REASON" makes it close with that code instead; "ping" makes it
// send a ping, then "pong PAYLOAD" once the pong comes back; "extensions" gets the
// permessage-deflate parameters agreed (JSON, "none" without); "read" gets the bytes read
// from the socket so far. Usage: node ws_server.js PORT [deflate|deflate-nct]
//   deflate      agree to permessage-deflate, compress every message (threshold 0)
//   deflate-nct  ... and ask for server_ and client_no_context_takeover
'use strict';
const WebSocket = require('ws');

const mode = process.argv[3];
const perMessageDeflate = mode && {
  threshold: 0,
  serverNoContextTakeover: mode === 'deflate-nct',
  clientNoContextTakeover: mode === 'deflate-nct',
};
const wss = new WebSocket.Server({
  host: '127.0.0.1',
  port: Number(process.argv[2]),
  perMessageDeflate: perMessageDeflate || false,
});
wss.on('listening', () => console.log('listening'));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    const m = text && /^close (\d+) ?(.*)$/.exec(text);
    if (m) {
      ws.close(Number(m[1]), m[2]);
    } else if (text === 'extensions') {
      const pmd = ws._extensions['permessage-deflate'];
      ws.send(pmd ? JSON.stringify(pmd.params) : 'none');
    } else if (text === 'read') {
      ws.send(`read ${ws._socket.bytesRead}`);
    } else if (text === 'ping') {
      ws.once('pong', (p) => ws.send(`pong ${p}`));
      ws.ping('hi');
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});
