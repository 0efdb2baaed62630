// An OCPP charge point (ocpp-rpc, strict schemas both ways) that keeps a local authorization
// list as a real box does: GetLocalListVersion, SendLocalList Full/Differential with version
// checks, and authorization from its own list while the central system is unreachable.
// Usage: node listbox.js <port> <identity> <1.6|2.0.1>
// Prints one JSON line per thing it sees: {event: 'list', version, entries: {tag: status}} after
// every accepted update. Reads commands on stdin, one per line:
//   "auth TAG"  -> Authorize at the server when connected, else from the own list
// Exits 0 on "quit", 1 on a schema violation or error, 2 on timeout.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [port, identity, version] = process.argv.slice(2);
const v16 = version === '1.6';
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (why) => { out({ event: 'error', why: String(why) }); process.exit(1); };
setTimeout(() => { out({ event: 'timeout' }); process.exit(2); }, 90000).unref();

let listVersion = 0;
let list = {};  // tag (upper case: CiString) -> {status, expiry}
let online = false;

const cli = new RPCClient({
  endpoint: `ws://127.0.0.1:${port}/ocpp`, identity, protocols: [`ocpp${version}`],
  strictMode: true, reconnect: false,
});
cli.on('strictValidationFailure', (e) => fail(`schema: ${e.error && e.error.message}`));
cli.on('badMessage', (e) => fail(`bad message: ${e.error && e.error.message}`));
cli.on('close', () => { online = false; out({ event: 'offline' }); });

function show(kind, size) {
  const entries = {};
  for (const [tag, info] of Object.entries(list)) entries[tag] = info.status;
  out({ event: 'list', version: listVersion, kind, size, entries });
}

function apply(kind, newVersion, items) {
  if (kind === 'Differential' && newVersion <= listVersion) return 'VersionMismatch';
  const next = kind === 'Full' ? {} : { ...list };
  for (const item of items || []) {
    const tag = (v16 ? item.idTag : item.idToken.idToken).toUpperCase();
    const info = v16 ? item.idTagInfo : item.idTokenInfo;
    if (info) next[tag] = { status: info.status, expiry: info.expiryDate || info.cacheExpiryDateTime || null };
    else if (kind === 'Differential') delete next[tag];
  }
  list = next;
  listVersion = newVersion;
  show(kind, (items || []).length);
  return 'Accepted';
}

function fromList(tag) {
  const info = list[tag.toUpperCase()];
  if (!info) return 'Invalid';
  if (info.expiry && new Date(info.expiry) <= new Date()) return 'Expired';
  return info.status;
}

if (v16) {
  cli.handle('GetConfiguration', ({ params }) => ({
    configurationKey: (params.key || []).map((key) => ({ key, readonly: false,
      value: { ChargeProfileMaxStackLevel: '5', ChargingScheduleAllowedChargingRateUnit: 'Current',
               NumberOfConnectors: '1', MeterValueSampleInterval: '60', SendLocalListMaxLength: '2',
               MeterValuesSampledData: 'Energy.Active.Import.Register' }[key] || '' })),
  }));
  cli.handle('ChangeConfiguration', () => ({ status: 'Accepted' }));
  cli.handle('GetLocalListVersion', () => ({ listVersion }));
  cli.handle('SendLocalList', ({ params }) => ({
    status: apply(params.updateType, params.listVersion, params.localAuthorizationList),
  }));
} else {
  const vars = { ProfileStackLevel: '4', RateUnit: 'A', ItemsPerMessage: '2' };
  cli.handle('GetVariables', ({ params }) => ({
    getVariableResult: params.getVariableData.map((d) => (d.variable.name in vars
      ? { attributeStatus: 'Accepted', attributeValue: vars[d.variable.name], component: d.component, variable: d.variable }
      : { attributeStatus: 'UnknownVariable', component: d.component, variable: d.variable })),
  }));
  cli.handle('SetVariables', ({ params }) => {
    for (const d of params.setVariableData) out({ event: 'variable', component: d.component.name, name: d.variable.name, value: d.attributeValue });
    return { setVariableResult: params.setVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable })) };
  });
  cli.handle('GetLocalListVersion', () => ({ versionNumber: listVersion }));
  cli.handle('SendLocalList', ({ params }) => ({
    status: apply(params.updateType, params.versionNumber, params.localAuthorizationList),
  }));
}
cli.handle('TriggerMessage', () => ({ status: 'Accepted' }));
cli.handle('SetChargingProfile', () => ({ status: 'Accepted' }));
cli.handle('ClearChargingProfile', () => ({ status: 'Accepted' }));
cli.handle(({ method }) => fail(`unexpected request ${method}`));

async function authorize(tag) {
  if (!online) { out({ event: 'auth', tag, status: fromList(tag), source: 'list' }); return; }
  const res = v16
    ? (await cli.call('Authorize', { idTag: tag })).idTagInfo
    : (await cli.call('Authorize', { idToken: { idToken: tag, type: 'ISO14443' } })).idTokenInfo;
  out({ event: 'auth', tag, status: res.status, source: 'server' });
}

const lines = require('readline').createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'auth') authorize(arg).catch((err) => fail(err && err.message));
  else if (cmd === 'quit') { cli.close({ force: true }).finally(() => process.exit(0)); }
});

(async () => {
  try {
    await cli.connect();
    online = true;
    if (v16) {
      await cli.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'ListBox' });
      await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    } else {
      await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Interop', model: 'ListBox' } });
      await cli.call('StatusNotification', { timestamp: new Date().toISOString(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    }
    out({ event: 'booted' });
  } catch (err) {
    fail(err && err.message);
  }
})();
