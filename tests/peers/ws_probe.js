#!/usr/bin/env node
// A Node `ws` client for the tests with real intermediaries
// (tests/integration/intermediaries.py): it connects, optionally sends and
// waits, and prints ONE JSON line when the connection has ended:
//
//   {"event": "result", "open": bool, "extensions": "...", "http_status": N|null,
//    "messages": [{"type", "size", "sha256", "data" (text up to 256 bytes)}],
//    "errors": [{"code", "message"}],   // ws's 'error' events, in order
//    "close": {"code", "reason"}|null,  // ws's 'close' event: 1006 = no close frame
//    "closed_by": "peer"|"self"|null,   // who sent the first close frame, if any
//    "t_open", "t_close": seconds since start,
//    "idle_s": seconds from the last activity (open, a send, a message) to the close,
//    "timeout": bool}
//
// Options: --url URL, --deflate on|off (default on: perMessageDeflate offered,
// every message compressed once negotiated), --send N (messages sent right
// after open: "cli I " and a repeated pattern, --size bytes, default 100),
// --expect M (close with 1000 "got enough" once M data messages have come),
// --idle T (close with 1000 "idle done" after T seconds without activity;
// without it the client waits for the other side), --timeout S (default 20:
// print the result with "timeout": true and exit 3).
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const opts = { url: null, deflate: true, send: 0, size: 100, expect: 0, idle: 0, timeout: 20 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--url') opts.url = argv[++i];
  else if (a === '--deflate') opts.deflate = argv[++i] === 'on';
  else if (a === '--send') opts.send = Number(argv[++i]);
  else if (a === '--size') opts.size = Number(argv[++i]);
  else if (a === '--expect') opts.expect = Number(argv[++i]);
  else if (a === '--idle') opts.idle = Number(argv[++i]);
  else if (a === '--timeout') opts.timeout = Number(argv[++i]);
  else throw new Error(`unknown argument ${a}`);
}

const start = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - start) / 1e9;
const result = {
  event: 'result',
  open: false,
  extensions: '',
  http_status: null,
  messages: [],
  errors: [],
  close: null,
  closed_by: null,
  t_open: null,
  t_close: null,
  idle_s: null,
  timeout: false,
};
let lastActivity = 0;
let idleTimer = null;
let printed = false;

function finish(exitCode) {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(exitCode));
}

function message(i) {
  const head = `cli ${i} `;
  const pattern = 'pack my box with five dozen liquor jugs; ';
  let body = '';
  while (head.length + body.length < opts.size) body += pattern;
  return (head + body).slice(0, Math.max(opts.size, 0));
}

function touch() {
  lastActivity = now();
  if (opts.idle > 0) {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (ws.readyState === WebSocket.OPEN) {
        if (!result.closed_by) result.closed_by = 'self';
        ws.close(1000, 'idle done');
      }
    }, opts.idle * 1000);
  }
}

const ws = new WebSocket(opts.url, { perMessageDeflate: opts.deflate ? { threshold: 0 } : false });

const overall = setTimeout(() => {
  result.timeout = true;
  ws.terminate();
  finish(3);
}, opts.timeout * 1000);

ws.on('open', () => {
  result.open = true;
  result.extensions = ws.extensions;
  result.t_open = now();
  for (let i = 0; i < opts.send; i++) ws.send(message(i));
  touch();
});
ws.on('message', (data, isBinary) => {
  const buf = Buffer.from(data);
  const m = { type: isBinary ? 'binary' : 'text', size: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') };
  if (!isBinary && buf.length <= 256) m.data = buf.toString('utf8');
  result.messages.push(m);
  touch();
  if (opts.expect > 0 && result.messages.length === opts.expect && ws.readyState === WebSocket.OPEN) {
    if (!result.closed_by) result.closed_by = 'self';
    ws.close(1000, 'got enough');
  }
});
ws.on('unexpected-response', (req, res) => {
  result.http_status = res.statusCode;
  ws.terminate();
});
ws.on('error', (err) => {
  result.errors.push({ code: err.code || '', message: err.message });
  // ws answers a protocol error with its own close frame.
  if (!result.closed_by && err.code && err.code.startsWith('WS_ERR_')) result.closed_by = 'self';
});
ws.on('ping', () => touch());
ws.on('pong', () => touch());
// A close with a code (not 1006) that this side did not start: the peer
// closed first.
ws.on('close', (code, reason) => {
  if (!result.closed_by && code !== 1006) result.closed_by = 'peer';
  result.close = { code, reason: reason.toString('utf8') };
  result.t_close = now();
  result.idle_s = result.t_open === null ? null : result.t_close - lastActivity;
  clearTimeout(overall);
  if (idleTimer) clearTimeout(idleTimer);
  finish(0);
});
