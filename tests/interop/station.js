// An independent OCPP charge point (ocpp-rpc, strict schema validation both ways) for the
// station-management tests. It keeps its charging profiles, configuration and display messages,
// and answers admin requests as told.
// Usage: node station.js <port> <identity> <1.6|2.0.1> [config JSON]
//   config: {"answer": "Accepted"|"Rejected"|"silent", "profiles": [{id, connector, purpose,
//            stackLevel, limit}], "scheme": "ws"|"wss", "ca": PEM, "cert": PEM, "key": PEM}
// Prints one JSON line per event: {"event": "request", "method", "params"} for every request,
// "ready" after boot, "result"/"callerror" for calls asked on stdin. Commands on stdin, one JSON
// per line: {"answer": "Rejected"} switches the answer mode; {"call": "Action", "params": {...}}
// sends a request; {"close": true} ends.
'use strict';
const { RPCClient } = require('ocpp-rpc');
const http = require('http');
const readline = require('readline');

const [port, identity, version, rawConfig] = process.argv.slice(2);
const config = JSON.parse(rawConfig || '{}');
const v16 = version === '1.6';
let answer = config.answer || 'Accepted';
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (why) => { out({ event: 'error', why: String(why) }); process.exit(1); };
setTimeout(() => { out({ event: 'timeout' }); process.exit(2); }, config.lifetime_ms || 60000).unref();

const tls = config.scheme === 'wss';
const cli = new RPCClient({
  endpoint: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/ocpp`,
  identity,
  protocols: [`ocpp${version}`],
  strictMode: true,
  reconnect: false,
  password: config.password,
  wsOpts: tls ? { ca: config.ca, cert: config.cert, key: config.key } : {},
});
cli.on('strictValidationFailure', (e) => fail(`schema: ${e.error && e.error.message} ${JSON.stringify(e.params || e.payload || '')}`));
cli.on('badMessage', (e) => fail(`bad message: ${e.error && e.error.message}`));
cli.on('close', () => { out({ event: 'closed' }); process.exit(0); });

// ------------------------------------------------------------------ state of the box
const now = () => new Date().toISOString();
const keys = Object.assign({
  ChargeProfileMaxStackLevel: '5', ChargingScheduleAllowedChargingRateUnit: 'Current',
  NumberOfConnectors: '1', MeterValueSampleInterval: '10',
  MeterValuesSampledData: 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage',
  HeartbeatInterval: '300',
}, config.keys || {});
const vars = Object.assign({
  'SmartChargingCtrlr.ProfileStackLevel': '4', 'SmartChargingCtrlr.RateUnit': 'A',
  'SampledDataCtrlr.TxUpdatedInterval': '10',
  'SampledDataCtrlr.TxUpdatedMeasurands': 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage',
  'OCPPCommCtrlr.HeartbeatInterval': '300', 'DisplayMessageCtrlr.Enabled': 'true',
}, config.vars || {});
const rebootKeys = new Set(config.reboot || ['HeartbeatInterval', 'OCPPCommCtrlr.HeartbeatInterval']);
// profiles: {id, connector, purpose, stackLevel, limit}
let profiles = (config.profiles || []).map((p) => Object.assign({}, p));
const messages = new Map();

const rejected = {
  UnlockConnector: 'UnlockFailed', ClearChargingProfile: 'Unknown', GetChargingProfiles: 'NoProfiles',
  GetDisplayMessages: 'Unknown', ClearDisplayMessage: 'Unknown',
};
const accepted = { UnlockConnector: 'Unlocked' };
const status = (method) => (answer === 'Rejected' ? (rejected[method] || 'Rejected') : (accepted[method] || 'Accepted'));
const later = (fn) => setTimeout(() => fn().catch((e) => fail(e && e.message)), 20);

function handle(method, fn) {
  cli.handle(method, async ({ params }) => {
    out({ event: 'request', method, params });
    if (answer === 'silent' && !['SetChargingProfile', 'GetConfiguration', 'GetVariables'].includes(method)) {
      return new Promise(() => {});
    }
    return fn(params);
  });
}

// ------------------------------------------------------------------ smart charging
function addProfile(connector, p) {
  const id = v16 ? p.chargingProfileId : p.id;
  const purpose = p.chargingProfilePurpose;
  const schedule = v16 ? p.chargingSchedule : p.chargingSchedule[0];
  profiles = profiles.filter((q) => q.id !== id && !(q.connector === connector && q.purpose === purpose && q.stackLevel === p.stackLevel));
  profiles.push({ id, connector, purpose, stackLevel: p.stackLevel, limit: schedule.chargingSchedulePeriod[0].limit, unit: schedule.chargingRateUnit });
}
function clearProfiles(params) {
  const c = v16 ? params : Object.assign({}, params.chargingProfileCriteria || {});
  const id = v16 ? params.id : params.chargingProfileId;
  const conn = v16 ? c.connectorId : c.evseId;
  const before = profiles.length;
  profiles = profiles.filter((p) => !((id === undefined || p.id === id)
    && (conn === undefined || p.connector === conn)
    && (c.chargingProfilePurpose === undefined || p.purpose === c.chargingProfilePurpose)
    && (c.stackLevel === undefined || p.stackLevel === c.stackLevel)));
  return profiles.length < before ? 'Accepted' : 'Unknown';
}
function composite(connector, duration) {
  const mine = profiles.filter((p) => p.connector === connector || p.connector === 0);
  if (!mine.length) return null;
  const limit = Math.min(...mine.map((p) => p.limit));
  return { chargingRateUnit: 'A', duration, chargingSchedulePeriod: [{ startPeriod: 0, limit }] };
}
function fullProfile(p) {
  return { id: p.id, stackLevel: p.stackLevel, chargingProfilePurpose: p.purpose, chargingProfileKind: 'Absolute',
    chargingSchedule: [{ id: p.id, startSchedule: now(), chargingRateUnit: p.unit || 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: p.limit }] }] };
}

handle('SetChargingProfile', (params) => {
  const p = v16 ? params.csChargingProfiles : params.chargingProfile;
  const connector = v16 ? params.connectorId : params.evseId;
  if (answer === 'Accepted') addProfile(connector, p);
  return { status: answer === 'Accepted' ? 'Accepted' : 'Rejected' };
});
handle('ClearChargingProfile', (params) => ({ status: answer === 'Accepted' ? clearProfiles(params) : 'Unknown' }));
handle('GetCompositeSchedule', (params) => {
  const c = v16 ? params.connectorId : params.evseId;
  const sched = answer === 'Accepted' ? composite(c, params.duration) : null;
  if (!sched) return { status: 'Rejected' };
  if (v16) return { status: 'Accepted', connectorId: c, scheduleStart: now(), chargingSchedule: sched };
  return { status: 'Accepted', schedule: Object.assign({ evseId: c, scheduleStart: now() }, sched) };
});
if (!v16) {
  handle('GetChargingProfiles', (params) => {
    const mine = profiles.filter((p) => params.evseId === undefined || p.connector === params.evseId);
    if (answer !== 'Accepted' || !mine.length) return { status: 'NoProfiles' };
    const evses = [...new Set(mine.map((p) => p.connector))];
    later(async () => {
      for (let i = 0; i < evses.length; i++) {
        await cli.call('ReportChargingProfiles', {
          requestId: params.requestId, chargingLimitSource: 'CSO', evseId: evses[i],
          chargingProfile: mine.filter((p) => p.connector === evses[i]).map(fullProfile),
          tbc: i < evses.length - 1,
        });
      }
    });
    return { status: 'Accepted' };
  });
}

// ------------------------------------------------------------------ configuration
if (v16) {
  handle('GetConfiguration', (params) => {
    const wanted = params.key && params.key.length ? params.key : Object.keys(keys);
    return {
      configurationKey: wanted.filter((k) => k in keys).map((key) => ({ key, readonly: key === 'NumberOfConnectors', value: keys[key] })),
      unknownKey: wanted.filter((k) => !(k in keys)),
    };
  });
  handle('ChangeConfiguration', (params) => {
    if (answer !== 'Accepted') return { status: 'Rejected' };
    if (!(params.key in keys)) return { status: 'NotSupported' };
    keys[params.key] = params.value;
    return { status: rebootKeys.has(params.key) ? 'RebootRequired' : 'Accepted' };
  });
} else {
  const name = (d) => `${d.component.name}.${d.variable.name}`;
  handle('GetVariables', (params) => ({
    getVariableResult: params.getVariableData.map((d) => (name(d) in vars
      ? { attributeStatus: 'Accepted', attributeValue: vars[name(d)], component: d.component, variable: d.variable }
      : { attributeStatus: 'UnknownVariable', component: d.component, variable: d.variable })),
  }));
  handle('SetVariables', (params) => ({
    setVariableResult: params.setVariableData.map((d) => {
      let s = answer === 'Accepted' ? 'Accepted' : 'Rejected';
      if (s === 'Accepted') {
        vars[name(d)] = d.attributeValue;
        if (rebootKeys.has(name(d))) s = 'RebootRequired';
      }
      return { attributeStatus: s, component: d.component, variable: d.variable };
    }),
  }));
  handle('GetBaseReport', (params) => {
    const items = Object.entries(vars).map(([k, value]) => {
      const [component, variable] = k.split('.');
      return { component: { name: component }, variable: { name: variable },
               variableAttribute: [{ type: 'Actual', value, mutability: 'ReadWrite' }] };
    });
    later(async () => {
      const half = Math.ceil(items.length / 2);
      const parts = [items.slice(0, half), items.slice(half)];
      for (let i = 0; i < parts.length; i++) {
        await cli.call('NotifyReport', { requestId: params.requestId, generatedAt: now(), seqNo: i, tbc: i < parts.length - 1, reportData: parts[i] });
      }
    });
    return { status: status('GetBaseReport') };
  });
}

// ------------------------------------------------------------------ box control
for (const m of ['Reset', 'UnlockConnector', 'ChangeAvailability', 'TriggerMessage', 'CancelReservation']) {
  handle(m, () => ({ status: status(m) }));
}
handle('ReserveNow', () => ({ status: status('ReserveNow') }));
if (v16) {
  handle('RemoteStartTransaction', () => ({ status: status('RemoteStartTransaction') }));
  handle('RemoteStopTransaction', () => ({ status: status('RemoteStopTransaction') }));
  handle('DataTransfer', (params) => ({ status: status('DataTransfer'), data: `echo:${params.data || ''}` }));
} else {
  handle('RequestStartTransaction', () => ({ status: status('RequestStartTransaction') }));
  handle('RequestStopTransaction', () => ({ status: status('RequestStopTransaction') }));
  handle('DataTransfer', (params) => ({ status: status('DataTransfer'), data: { echo: params.data === undefined ? null : params.data } }));
  handle('SetDisplayMessage', (params) => {
    if (answer === 'Accepted') messages.set(params.message.id, params.message);
    return { status: status('SetDisplayMessage') };
  });
  handle('GetDisplayMessages', (params) => {
    if (answer !== 'Accepted' || !messages.size) return { status: 'Unknown' };
    later(() => cli.call('NotifyDisplayMessages', { requestId: params.requestId, messageInfo: [...messages.values()] }));
    return { status: 'Accepted' };
  });
  handle('CostUpdated', () => ({}));
  handle('ClearDisplayMessage', (params) => ({ status: messages.delete(params.id) ? 'Accepted' : 'Unknown' }));
}
// ------------------------------------------------------------------ firmware and logs over HTTP
function httpRequest(location, method, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(location, { method, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
const crypto = require('crypto');
handle('UpdateFirmware', (params) => {
  const location = v16 ? params.location : params.firmware.location;
  if (answer !== 'Accepted') return v16 ? {} : { status: 'Rejected' };
  const report = (s) => cli.call('FirmwareStatusNotification', v16 ? { status: s } : { status: s, requestId: params.requestId });
  later(async () => {
    await report('Downloading');
    const got = await httpRequest(location, 'GET');
    out({ event: 'downloaded', httpStatus: got.status, size: got.body.length,
          sha256: crypto.createHash('sha256').update(got.body).digest('hex'),
          again: (await httpRequest(location, 'GET')).status });
    if (got.status !== 200) return report('DownloadFailed');
    for (const s of ['Downloaded', 'Installing', 'Installed']) await report(s);
  });
  return v16 ? {} : { status: 'Accepted' };
});
function uploadLog(location, report) {
  later(async () => {
    await report('Uploading');
    const content = Buffer.from(config.log || 'box log line 1\nbox log line 2\n');
    let got;
    if (config.multipart) {
      const b = 'ampshareboundary';
      const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="diag.txt"\r\nContent-Type: text/plain\r\n\r\n`), content, Buffer.from(`\r\n--${b}--\r\n`)]);
      got = await httpRequest(location, 'POST', body, { 'Content-Type': `multipart/form-data; boundary=${b}`, 'Content-Length': body.length });
    } else {
      got = await httpRequest(location, 'PUT', content, { 'Content-Type': 'application/octet-stream', 'Content-Length': content.length });
    }
    const again = await httpRequest(location, 'PUT', content, { 'Content-Length': content.length });
    out({ event: 'uploaded', httpStatus: got.status, again: again.status, reply: got.body.toString() });
    await report(got.status === 201 ? 'Uploaded' : 'UploadFailed');
  });
}
if (v16) {
  handle('GetDiagnostics', (params) => {
    if (answer !== 'Accepted') return {};
    uploadLog(params.location, (s) => cli.call('DiagnosticsStatusNotification', { status: s }));
    return { fileName: 'diag.txt' };
  });
} else {
  handle('GetLog', (params) => {
    if (answer !== 'Accepted') return { status: 'Rejected' };
    uploadLog(params.log.remoteLocation, (s) => cli.call('LogStatusNotification', { status: s, requestId: params.requestId }));
    return { status: 'Accepted', filename: 'diag.txt' };
  });
}
// ------------------------------------------------------------------ certificates
const installed = [];
handle('CertificateSigned', (params) => {
  out({ event: 'signed', chain: params.certificateChain });
  return { status: 'Accepted' };
});
handle('InstallCertificate', (params) => {
  if (answer !== 'Accepted') return { status: 'Rejected' };
  installed.push({ type: params.certificateType, hash: { hashAlgorithm: 'SHA256', issuerNameHash: crypto.createHash('sha256').update(params.certificate).digest('hex').slice(0, 64), issuerKeyHash: 'ab'.repeat(32), serialNumber: String(installed.length + 1) } });
  return { status: 'Accepted' };
});
handle('GetInstalledCertificateIds', (params) => {
  const wanted = v16 ? [params.certificateType] : params.certificateType;
  const mine = installed.filter((c) => !wanted || wanted.includes(c.type));
  if (!mine.length) return { status: 'NotFound' };
  if (v16) return { status: 'Accepted', certificateHashData: mine.map((c) => c.hash) };
  return { status: 'Accepted', certificateHashDataChain: mine.map((c) => ({ certificateType: c.type, certificateHashData: c.hash })) };
});
handle('DeleteCertificate', (params) => {
  const i = installed.findIndex((c) => c.hash.serialNumber === params.certificateHashData.serialNumber);
  if (i < 0) return { status: 'NotFound' };
  installed.splice(i, 1);
  return { status: 'Accepted' };
});
if (v16) handle('ExtendedTriggerMessage', () => ({ status: status('ExtendedTriggerMessage') }));
cli.handle(({ method }) => fail(`unexpected request ${method}`));

// ------------------------------------------------------------------ commands on stdin
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.answer) { answer = cmd.answer; out({ event: 'answer', answer }); }
  if (cmd.call) {
    cli.call(cmd.call, cmd.params || {}).then(
      (result) => out({ event: 'result', call: cmd.call, result }),
      (err) => out({ event: 'callerror', call: cmd.call, code: err.rpcErrorCode || String(err) }),
    );
  }
  if (cmd.close) cli.close({ force: true, code: 1000 });
});

(async () => {
  try {
    await cli.connect();
    out({ event: 'connected', protocol: cli.protocol });
    if (v16) {
      await cli.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'Station', chargePointSerialNumber: 'SN-1', firmwareVersion: '1.2.3' });
      await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    } else {
      await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Interop', model: 'Station', serialNumber: 'SN-2', firmwareVersion: '2.0.0' } });
      await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    }
    out({ event: 'ready' });
  } catch (err) {
    fail(err && err.message);
  }
})();
