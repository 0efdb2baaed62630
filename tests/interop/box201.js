// An OCPP 2.0.1 charging station (ocpp-rpc, strict schemas) on ampshare's own server, with a
// signed meter and a DataTransfer: checks that the gateway relays both to a 2.0.1 backend.
// Usage: node box201.js <port> <identity>; the test writes a line to go on after each step.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [port, identity] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (why) => { out({ event: 'error', why: String(why) }); process.exit(1); };
setTimeout(() => { out({ event: 'timeout' }); process.exit(2); }, 40000).unref();
const SIGNED = { signedMeterData: 'T0NNRnx7IkZWIjoiMS4wIn18eyJTRCI6IjMwNDUifQ==', signingMethod: 'ECDSA-secp256r1-SHA256',
  encodingMethod: 'OCMF', publicKey: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE' };

const cli = new RPCClient({ endpoint: `ws://127.0.0.1:${port}/ocpp`, identity, protocols: ['ocpp2.0.1'], strictMode: true, reconnect: false });
cli.on('strictValidationFailure', (e) => fail(`schema: ${e.error && e.error.message}`));
cli.handle('GetVariables', ({ params }) => ({ getVariableResult: params.getVariableData.map((d) => ({ attributeStatus: 'UnknownVariable', component: d.component, variable: d.variable })) }));
cli.handle('SetVariables', ({ params }) => ({ setVariableResult: params.setVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable })) }));
cli.handle('TriggerMessage', () => ({ status: 'Accepted' }));
cli.handle('SetChargingProfile', () => ({ status: 'Accepted' }));
cli.handle('ClearChargingProfile', () => ({ status: 'Accepted' }));
cli.handle('RequestStopTransaction', ({ params }) => { out({ event: 'remote_stop', transactionId: params.transactionId }); return { status: 'Accepted' }; });
cli.handle(({ method }) => fail(`unexpected request ${method}`));

const now = () => new Date().toISOString();
const lines = require('readline').createInterface({ input: process.stdin });
const next = () => new Promise((resolve) => lines.once('line', resolve));
const event = (type, seqNo, trigger, extra) => ({ eventType: type, timestamp: now(), triggerReason: trigger, seqNo,
  transactionInfo: { transactionId: 'TX-201-1', ...(extra.info || {}) }, ...extra.rest });

(async () => {
  try {
    await cli.connect();
    await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Interop', model: 'Signed201', serialNumber: 'SN-201' } });
    await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
    out({ event: 'booted' });
    await next();
    await cli.call('TransactionEvent', event('Started', 0, 'Authorized', { rest: { idToken: { idToken: 'CARD201', type: 'ISO14443' }, evse: { id: 1, connectorId: 1 },
      meterValue: [{ timestamp: now(), sampledValue: [{ value: 1000, context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register', signedMeterValue: SIGNED }] }] } }));
    const dt = await cli.call('DataTransfer', { vendorId: 'com.example.ecterminal', messageId: 'Payment', data: { receipt: '0042', amount_cents: 1234 } });
    out({ event: 'data_transfer', reply: dt });
    await cli.call('TransactionEvent', event('Ended', 1, 'StopAuthorized', { info: { stoppedReason: 'Local' }, rest: {
      meterValue: [{ timestamp: now(), sampledValue: [{ value: 3500, context: 'Transaction.End', measurand: 'Energy.Active.Import.Register', signedMeterValue: SIGNED }] }] } }));
    out({ event: 'stopped', signed: SIGNED });
    await next();
    await cli.close();
    process.exit(0);
  } catch (err) {
    fail(err && err.message);
  }
})();
