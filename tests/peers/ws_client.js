#!/usr/bin/env node
// A Node `ws` client for the wsinspect integration tests.
//
// Prints one JSON object per line: what it observes (open, message, pong,
// error, http_status, close) and exits 0 once the connection has closed.
// --steps full: text, binary, a fragmented text, a ping, a server ping
//   ("ping-me"), a fragmented server message ("fragment-me"), then --close:
//   client-CODE (close itself) or server-CODE (ask the server to close).
// --steps none: send nothing; report whatever the server does.
// --script FILE: instead of the steps, a JSON list of messages, each
//   {"text": S}, {"hex": H} (binary) or {"fragments": [S, ...]} (one text
//   message in several frames); each is sent and one reply awaited, then the
//   client closes as --close says.
// Options: --url URL, --deflate on|off (default: ws's default, on),
// --timeout SECONDS (default 20: exit 3 if still open),
// --deflate-params PARAMS (permessage-deflate with these RFC 7692 parameters,
//   e.g. "client_no_context_takeover; client_max_window_bits=9", "" for the
//   defaults; every message compressed: threshold 0; overrides --deflate),
// --digest (log data messages as {type, size, sha256} instead of content),
// --ca FILE (for a wss:// URL: trust the server's certificate if these PEM CA
//   certificates sign it, instead of the system's store; the certificate is
//   always checked).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');

function parseArgs(argv) {
  const opts = {
    url: null,
    steps: 'full',
    close: 'client-1000',
    deflate: undefined,
    timeout: 20,
    deflateParams: undefined,
    digest: false,
    script: null,
    ca: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--url') opts.url = argv[++i];
    else if (a === '--steps') opts.steps = argv[++i];
    else if (a === '--close') opts.close = argv[++i];
    else if (a === '--deflate') opts.deflate = argv[++i] === 'on';
    else if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a === '--deflate-params') opts.deflateParams = argv[++i];
    else if (a === '--digest') opts.digest = true;
    else if (a === '--script') opts.script = argv[++i];
    else if (a === '--ca') opts.ca = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

const REASONS = { 1000: 'bye now', 1002: 'protocol error test' };

const { deflateOptions, log } = require('./common');

const opts = parseArgs(process.argv.slice(2));
const wsOpts = {};
if (opts.deflate !== undefined) wsOpts.perMessageDeflate = opts.deflate;
if (opts.deflateParams !== undefined) wsOpts.perMessageDeflate = deflateOptions(opts.deflateParams);
if (opts.ca) wsOpts.ca = fs.readFileSync(opts.ca);
const ws = new WebSocket(opts.url, wsOpts);

const timer = setTimeout(() => {
  log({ event: 'timeout' });
  process.exit(3);
}, opts.timeout * 1000);

// Incoming data messages, consumed in order by the steps.
const inbox = [];
const waiters = [];
let closed = false;
function nextMessage() {
  if (inbox.length) return Promise.resolve(inbox.shift());
  return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
}

function describeMessage(data, isBinary) {
  if (opts.digest) {
    const buf = Buffer.from(data);
    const sha256 = crypto.createHash('sha256').update(buf).digest('hex');
    return { event: 'message', type: isBinary ? 'binary' : 'text', size: buf.length, sha256 };
  }
  return isBinary
    ? { event: 'message', type: 'binary', hex: Buffer.from(data).toString('hex') }
    : { event: 'message', type: 'text', data: data.toString('utf8') };
}

ws.on('message', (data, isBinary) => {
  const m = describeMessage(data, isBinary);
  log(m);
  if (waiters.length) waiters.shift().resolve(m);
  else inbox.push(m);
});
ws.on('unexpected-response', (req, res) => {
  log({ event: 'http_status', status: res.statusCode });
  ws.terminate();
});
ws.on('error', (err) => log({ event: 'error', code: err.code || '', message: err.message }));
ws.on('close', (code, reason) => {
  closed = true;
  log({ event: 'close', code, reason: reason.toString('utf8') });
  for (const w of waiters.splice(0)) w.reject(new Error('closed'));
  clearTimeout(timer);
  process.exitCode = 0;
});

async function fullSteps() {
  ws.send('hello \u2603');
  await nextMessage();
  ws.send(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  await nextMessage();
  ws.send('frag', { fin: false });
  ws.send('mented ', { fin: false });
  ws.send('\u2603 text', { fin: true });
  await nextMessage();
  await new Promise((resolve) => {
    ws.once('pong', (data) => {
      log({ event: 'pong', data: data.toString('utf8') });
      resolve();
    });
    ws.ping('cli-ping');
  });
  ws.send('ping-me');
  await nextMessage();
  ws.send('fragment-me');
  await nextMessage();
  closeAsAsked();
}

function closeAsAsked() {
  const [who, code] = opts.close.split('-');
  const reason = REASONS[code] || 'closing';
  if (who === 'client') ws.close(Number(code), reason);
  else ws.send(`close ${code} ${reason}`);
}

async function scriptSteps() {
  const steps = JSON.parse(fs.readFileSync(opts.script, 'utf8'));
  for (const step of steps) {
    if ('text' in step) ws.send(step.text);
    else if ('hex' in step) ws.send(Buffer.from(step.hex, 'hex'));
    else if ('fragments' in step) {
      step.fragments.forEach((f, i) => ws.send(f, { fin: i === step.fragments.length - 1 }));
    } else throw new Error(`bad script step ${JSON.stringify(step)}`);
    await nextMessage();
  }
  closeAsAsked();
}

ws.on('open', () => {
  log({ event: 'open', extensions: ws.extensions });
  if (opts.script) {
    scriptSteps().catch((err) => {
      if (!closed) log({ event: 'step_failed', message: err.message });
    });
  } else if (opts.steps === 'full') {
    fullSteps().catch((err) => {
      if (!closed) log({ event: 'step_failed', message: err.message });
    });
  }
});
