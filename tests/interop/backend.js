// Independent OCPP billing backend (ocpp-rpc server, strict schema validation both ways) that
// the ampshare gateway connects to in tests and in the gateway bench.
// Usage: node backend.js <config JSON>
//   {"port": 0, "password": "...", "protocols": ["ocpp1.6"], "txStart": 1000,
//    "rejectTags": ["BAD"], "tls": {"cert": PEM, "key": PEM}, "quiet": false}
// stdout: one JSON line per thing it sees ({"event": "listening"|"connected"|"call"|
//   "disconnected"|"reply"|"error"|"strict", ...}); stdin: one JSON command per line
//   {"cmd": "call", "ref": 1, "identity": "...", "method": "...", "params": {...}}
//   {"cmd": "stop"}
'use strict';
const https = require('https');
const readline = require('readline');
const { RPCServer } = require('ocpp-rpc');

const cfg = JSON.parse(process.argv[2] || '{}');
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const clients = new Map();
let txId = cfg.txStart || 1000;
const rejected = new Set(cfg.rejectTags || []);

const server = new RPCServer({
  protocols: cfg.protocols || ['ocpp1.6'],
  strictMode: true,
  callTimeoutMs: 10000,
});

server.auth((accept, reject, handshake) => {
  const pw = handshake.password ? handshake.password.toString('utf8') : undefined;
  if (cfg.password && pw !== cfg.password) {
    out({ event: 'refused', identity: handshake.identity });
    reject(401);
    return;
  }
  accept();
});

function accepted(tag) {
  return { status: rejected.has(tag) ? 'Invalid' : 'Accepted', expiryDate: new Date(Date.now() + 3600e3).toISOString() };
}

function answer16(method, params) {
  switch (method) {
    case 'BootNotification': return { status: 'Accepted', currentTime: new Date().toISOString(), interval: cfg.heartbeat || 300 };
    case 'Heartbeat': return { currentTime: new Date().toISOString() };
    case 'Authorize': return { idTagInfo: accepted(params.idTag) };
    case 'StartTransaction': return { transactionId: txId++, idTagInfo: accepted(params.idTag) };
    case 'StopTransaction': return {};
    case 'DataTransfer': return { status: 'Accepted', data: `echo:${params.data || ''}` };
    default: return {};
  }
}

function answer201(method, params) {
  switch (method) {
    case 'BootNotification': return { status: 'Accepted', currentTime: new Date().toISOString(), interval: cfg.heartbeat || 300 };
    case 'Heartbeat': return { currentTime: new Date().toISOString() };
    case 'Authorize': return { idTokenInfo: { status: rejected.has(params.idToken.idToken) ? 'Invalid' : 'Accepted' } };
    case 'TransactionEvent': return params.idToken ? { idTokenInfo: { status: 'Accepted' } } : {};
    case 'DataTransfer': return { status: 'Accepted', data: `echo:${params.data || ''}` };
    default: return {};
  }
}

server.on('client', (client) => {
  const identity = client.identity;
  clients.set(identity, client);
  out({ event: 'connected', identity, protocol: client.protocol });
  client.on('strictValidationFailure', (e) => out({ event: 'strict', identity, message: e.error && e.error.message }));
  client.on('close', () => {
    if (clients.get(identity) === client) clients.delete(identity);
    out({ event: 'disconnected', identity });
  });
  client.handle(({ method, params }) => {
    if (!cfg.quiet || method !== 'MeterValues') out({ event: 'call', identity, method, params, t: Date.now() });
    else out({ event: 'mv', identity, t: Date.now() });
    return client.protocol === 'ocpp2.0.1' ? answer201(method, params) : answer16(method, params);
  });
});

async function command(line) {
  let msg;
  try { msg = JSON.parse(line); } catch (err) { out({ event: 'error', why: 'bad command' }); return; }
  if (msg.cmd === 'stop') {
    await server.close({ force: true });
    process.exit(0);
  }
  if (msg.cmd === 'raw') {  // a frame sent as is (to test CALLERROR handling)
    const client = clients.get(msg.identity);
    client._ws.send(msg.frame);
    return;
  }
  if (msg.cmd === 'call') {
    const client = clients.get(msg.identity);
    if (!client) { out({ event: 'reply', ref: msg.ref, error: 'not connected' }); return; }
    try {
      const result = await client.call(msg.method, msg.params);
      out({ event: 'reply', ref: msg.ref, result });
    } catch (err) {
      out({ event: 'reply', ref: msg.ref, error: err.rpcErrorCode || err.message });
    }
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => { command(line); });
process.stdin.on('end', () => process.exit(0));

(async () => {
  let httpServer;
  if (cfg.tls) {
    const opts = { cert: cfg.tls.cert, key: cfg.tls.key, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' };
    if (cfg.tls.clientCa) Object.assign(opts, { ca: cfg.tls.clientCa, requestCert: true, rejectUnauthorized: true });
    httpServer = https.createServer(opts);
    httpServer.on('secureConnection', (sock) => {
      const peer = sock.getPeerCertificate();
      out({ event: 'tls', protocol: sock.getProtocol(), client: peer && peer.subject ? peer.subject.CN : null });
    });
    httpServer.on('upgrade', server.handleUpgrade);
    httpServer.on('tlsClientError', (err) => out({ event: 'tls_error', why: err.message }));
    await new Promise((resolve) => httpServer.listen(cfg.port || 0, '127.0.0.1', resolve));
  } else {
    httpServer = await server.listen(cfg.port || 0, '127.0.0.1');
  }
  out({ event: 'listening', port: httpServer.address().port });
})().catch((err) => { out({ event: 'error', why: err.message }); process.exit(1); });
