#!/usr/bin/env node
// A Node `ws` server for the wsinspect integration tests.
//
// Prints one JSON object per line: {"event":"listening","port":N} first, then
// what it observes (open, message, pong, error, close). It echoes every data
// message except these text commands:
//   "close CODE REASON"  close with CODE and REASON
//   "ping-me"            ping with "srv-ping"; on the pong send "got pong"
//   "fragment-me"        send the text "server fragments" in three frames
// Options: --port N (default 0), --deflate on|off (default: ws's default, off),
// --once (exit after the first connection closes),
// --deflate-params PARAMS (permessage-deflate with these RFC 7692 parameters,
//   e.g. "server_no_context_takeover; server_max_window_bits=9", "" for the
//   defaults; every message compressed: threshold 0; overrides --deflate),
// --digest (log data messages as {type, size, sha256} instead of content),
// --tls-cert FILE --tls-key FILE (wss://: an https server with this PEM
//   certificate chain and key).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

function parseArgs(argv) {
  const opts = {
    port: 0,
    deflate: undefined,
    once: false,
    deflateParams: undefined,
    digest: false,
    tlsCert: null,
    tlsKey: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') opts.port = Number(argv[++i]);
    else if (a === '--deflate') opts.deflate = argv[++i] === 'on';
    else if (a === '--once') opts.once = true;
    else if (a === '--deflate-params') opts.deflateParams = argv[++i];
    else if (a === '--digest') opts.digest = true;
    else if (a === '--tls-cert') opts.tlsCert = argv[++i];
    else if (a === '--tls-key') opts.tlsKey = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.tlsCert !== !opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  return opts;
}

const { deflateOptions, log } = require('./common');

function logMessage(data, isBinary) {
  if (opts.digest) {
    const buf = Buffer.from(data);
    const sha256 = crypto.createHash('sha256').update(buf).digest('hex');
    log({ event: 'message', type: isBinary ? 'binary' : 'text', size: buf.length, sha256 });
  } else if (isBinary) log({ event: 'message', type: 'binary', hex: Buffer.from(data).toString('hex') });
  else log({ event: 'message', type: 'text', data: data.toString('utf8') });
}

const opts = parseArgs(process.argv.slice(2));
const serverOpts = {};
if (opts.deflate !== undefined) serverOpts.perMessageDeflate = opts.deflate;
if (opts.deflateParams !== undefined) serverOpts.perMessageDeflate = deflateOptions(opts.deflateParams);
let wss;
if (opts.tlsCert) {
  // wss://: the WebSocket server shares an https server's port.
  const server = https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) });
  server.on('tlsClientError', (err) => log({ event: 'tls_error', code: err.code || '', message: err.message }));
  wss = new WebSocketServer({ ...serverOpts, server });
  server.listen(opts.port, '127.0.0.1', () => log({ event: 'listening', port: server.address().port }));
} else {
  wss = new WebSocketServer({ ...serverOpts, host: '127.0.0.1', port: opts.port });
  wss.on('listening', () => log({ event: 'listening', port: wss.address().port }));
}

wss.on('connection', (ws, req) => {
  log({ event: 'open', path: req.url.split('?')[0], extensions: ws.extensions });
  ws.on('message', (data, isBinary) => {
    logMessage(data, isBinary);
    const text = isBinary ? null : data.toString('utf8');
    if (text !== null && text.startsWith('close ')) {
      const [, code, ...reason] = text.split(' ');
      ws.close(Number(code), reason.join(' '));
    } else if (text === 'ping-me') {
      ws.ping('srv-ping');
    } else if (text === 'fragment-me') {
      ws.send('server ', { fin: false });
      ws.send('frag', { fin: false });
      ws.send('ments', { fin: true });
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('pong', (data) => {
    log({ event: 'pong', data: data.toString('utf8') });
    ws.send('got pong');
  });
  ws.on('error', (err) => log({ event: 'error', code: err.code || '', message: err.message }));
  ws.on('close', (code, reason) => {
    log({ event: 'close', code, reason: reason.toString('utf8') });
    if (opts.once) {
      if (opts.tlsCert) process.exit(0);  // the https server would wait for idle sockets
      wss.close(() => process.exit(0));
    }
  });
});

process.on('SIGTERM', () => process.exit(0));
