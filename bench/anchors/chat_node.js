'use strict';
// Anchor: a broadcast chat as most node chat servers are written, on node's `ws` (the copy
// tests/node installs), speaking sockit's chat protocol (docs/chat-protocol.md) so that
// bench/chat_load drives it like sockit chat: rooms by URL path, join with a unique nickname
// (welcome with the users and the last 50 messages, a join notice to the room), say (one
// message to every member, the sender included), a leave notice when a member goes. Each
// outgoing message is serialized once and the same Buffer is sent to every member; no
// permessage-deflate, no rate limit, no bound on a member's unsent output (ws has none).
// Usage: node bench/anchors/chat_node.js PORT   (on 127.0.0.1)
const path = require('path');
const { WebSocketServer } = require(
  require.resolve('ws', { paths: [path.join(__dirname, '..', '..', 'tests', 'node')] }));

const HISTORY = 50;
const MAX_TEXT = 4096;
const ROOM = /^\/[A-Za-z0-9._\-/]{0,63}$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: node chat_node.js PORT\n');
  process.exit(2);
}

const rooms = new Map(); // name -> { name, members: Map(nick -> ws), history: [message] }

function roomOf(name) {
  let room = rooms.get(name);
  if (!room) {
    room = { name, members: new Map(), history: [] };
    rooms.set(name, room);
  }
  return room;
}

function broadcast(room, obj) {
  const data = Buffer.from(JSON.stringify(obj));
  for (const member of room.members.values()) member.send(data, { binary: false });
}

function refuse(ws, error, text) {
  ws.send(JSON.stringify({ type: 'error', error, text }));
}

function validNick(nick) {
  const n = Buffer.byteLength(nick);
  return n >= 1 && n <= 32 && !CONTROL.test(nick) && nick[0] !== ' ' && nick[nick.length - 1] !== ' ';
}

// A client message: an object of exactly two keys, type and its one string field.
function parse(data) {
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    return null;
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m) || Object.keys(m).length !== 2) return null;
  if (m.type === 'join' && typeof m.nick === 'string') return m;
  if (m.type === 'say' && typeof m.text === 'string') return m;
  return null;
}

function join(ws, room, nick) {
  if (ws.nick !== undefined) return refuse(ws, 'joined', 'you have joined already');
  if (!validNick(nick)) return refuse(ws, 'bad-nick', 'a nickname is 1 to 32 bytes, no control characters');
  if (room.members.has(nick)) return refuse(ws, 'nick-taken', 'this nickname is taken in this room');
  ws.nick = nick;
  room.members.set(nick, ws);
  ws.send(JSON.stringify({ type: 'welcome', room: room.name, nick, users: [...room.members.keys()],
    history: room.history }));
  broadcast(room, { type: 'join', nick, time: Date.now() });
}

function say(ws, room, text) {
  if (ws.nick === undefined) return refuse(ws, 'not-joined', 'join first');
  const n = Buffer.byteLength(text);
  if (n < 1 || n > MAX_TEXT) return refuse(ws, 'bad-text', 'a message is 1 to 4096 bytes');
  const message = { type: 'message', nick: ws.nick, text, time: Date.now() };
  room.history.push(message);
  if (room.history.length > HISTORY) room.history.shift();
  broadcast(room, message);
}

function leave(ws, room) {
  if (ws.nick === undefined || room.members.get(ws.nick) !== ws) return;
  room.members.delete(ws.nick);
  if (room.members.size === 0) rooms.delete(room.name);
  else broadcast(room, { type: 'leave', nick: ws.nick, time: Date.now() });
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false,
  clientTracking: false, maxPayload: MAX_TEXT * 6 + 256 });

wss.on('connection', (ws, req) => {
  const name = req.url;
  ws.on('error', () => {});
  if (!ROOM.test(name)) return ws.close(1008, 'bad room');
  const room = roomOf(name);
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'text messages only');
    const m = parse(data);
    if (!m) return refuse(ws, 'bad-message', 'not a join or say message');
    if (m.type === 'join') join(ws, room, m.nick);
    else say(ws, room, m.text);
  });
  ws.on('close', () => leave(ws, room));
});
wss.on('listening', () => process.stderr.write(`chat_node: listening on 127.0.0.1:${port}\n`));
wss.on('error', (err) => {
  process.stderr.write(`chat_node: ${err.message}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
