// An OCPP 1.6 charge point (ocpp-rpc, strict schemas) on ampshare's own server, with a signed
// meter (OCMF) and an EC-card terminal's DataTransfer: checks that the gateway relays both.
// Usage: node box.js <port> <identity> [tag]
// Prints one JSON line per step; exits 0 when done, 1 on an error, 2 on timeout.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [port, identity, tagArg] = process.argv.slice(2);
const TAG = tagArg || 'CARD1';
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (why) => { out({ event: 'error', why: String(why) }); process.exit(1); };
setTimeout(() => { out({ event: 'timeout' }); process.exit(2); }, 40000).unref();
const SIGNED_1 = 'OCMF|{"FV":"1.0","GI":"Interop","RD":[{"TM":"2026-01-01T10:00:00,000+0000 S","RV":"1.000","RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"30450221008f"}';
const SIGNED_2 = 'OCMF|{"FV":"1.0","GI":"Interop","RD":[{"TM":"2026-01-01T10:30:00,000+0000 S","RV":"3.500","RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"3046022100aa"}';

const cli = new RPCClient({
  endpoint: `ws://127.0.0.1:${port}/ocpp`, identity, protocols: ['ocpp1.6'], strictMode: true, reconnect: false,
});
cli.on('strictValidationFailure', (e) => fail(`schema: ${e.error && e.error.message}`));
cli.handle('GetConfiguration', ({ params }) => ({
  configurationKey: (params.key || []).map((key) => ({ key, readonly: false,
    value: { ChargeProfileMaxStackLevel: '5', ChargingScheduleAllowedChargingRateUnit: 'Current', NumberOfConnectors: '1',
             MeterValueSampleInterval: '10', MeterValuesSampledData: 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage',
             ConnectorSwitch3to1PhaseSupported: 'false' }[key] || '' })),
}));
cli.handle('ChangeConfiguration', () => ({ status: 'Accepted' }));
cli.handle('TriggerMessage', () => ({ status: 'Accepted' }));
cli.handle('SetChargingProfile', () => ({ status: 'Accepted' }));
cli.handle('ClearChargingProfile', () => ({ status: 'Accepted' }));
cli.handle('DataTransfer', ({ params }) => ({ status: 'Accepted', data: `box:${params.data}` }));
cli.handle('UnlockConnector', () => { out({ event: 'unlock' }); return { status: 'Unlocked' }; });
cli.handle('RemoteStopTransaction', ({ params }) => { out({ event: 'remote_stop', transactionId: params.transactionId }); return { status: 'Accepted' }; });
cli.handle(({ method }) => fail(`unexpected request ${method}`));

const now = () => new Date().toISOString();
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
process.stdin.on('data', () => {});  // the test says "go" for each step by writing a line
const lines = require('readline').createInterface({ input: process.stdin });
const next = () => new Promise((resolve) => lines.once('line', resolve));

(async () => {
  try {
    await cli.connect();
    await cli.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'SignedBox', chargePointSerialNumber: 'SN-4711', firmwareVersion: '1.2.3' });
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    out({ event: 'booted' });
    await next();
    const auth = await cli.call('Authorize', { idTag: TAG });
    const bad = await cli.call('Authorize', { idTag: 'BADCARD' });
    out({ event: 'authorized', tag: auth.idTagInfo.status, bad: bad.idTagInfo.status });
    const start = await cli.call('StartTransaction', { connectorId: 1, idTag: TAG, meterStart: 1000, timestamp: now() });
    out({ event: 'started', transactionId: start.transactionId });
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' });
    await cli.call('MeterValues', { connectorId: 1, transactionId: start.transactionId, meterValue: [{ timestamp: now(), sampledValue: [
      { value: '1000', measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
      { value: SIGNED_1, format: 'SignedData', context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register' },
    ] }] });
    const dt = await cli.call('DataTransfer', { vendorId: 'com.example.ecterminal', messageId: 'Payment', data: '{"receipt":"0042","amount_cents":1234}' });
    out({ event: 'data_transfer', reply: dt });
    await next();
    await cli.call('StopTransaction', { transactionId: start.transactionId, meterStop: 3500, timestamp: now(), reason: 'Local', idTag: TAG,
      transactionData: [{ timestamp: now(), sampledValue: [{ value: SIGNED_2, format: 'SignedData', context: 'Transaction.End', measurand: 'Energy.Active.Import.Register' }] }] });
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing' });
    out({ event: 'stopped', signed: [SIGNED_1, SIGNED_2] });
    await next();
    await cli.close();
    process.exit(0);
  } catch (err) {
    fail(err && err.message);
  }
})();
void pause;
