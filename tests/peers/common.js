'use strict';
// Shared by the Node `ws` test peers (ws_client.js, ws_server.js).

// --deflate-params as ws's perMessageDeflate options; threshold 0: every
// message compressed.
const NAMES = {
  server_no_context_takeover: 'serverNoContextTakeover',
  client_no_context_takeover: 'clientNoContextTakeover',
  server_max_window_bits: 'serverMaxWindowBits',
  client_max_window_bits: 'clientMaxWindowBits',
};

function deflateOptions(text) {
  const out = { threshold: 0 };
  for (const part of text.split(';')) {
    const [name, value] = part.trim().split('=');
    if (!name || name === 'permessage-deflate') continue;
    if (!(name in NAMES)) throw new Error(`unknown permessage-deflate parameter ${name}`);
    out[NAMES[name]] = value === undefined ? true : Number(value);
  }
  return out;
}

// One JSON object per line on standard output.
function log(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

module.exports = { deflateOptions, log };
