// Independent OCPP charge point (ocpp-rpc, strict schema validation both ways) for interop tests.
// Usage: node client.js <port> <identity> <1.6|2.0.1> [refuse]
// Prints one JSON line per thing it sees; exits 0 after ampshare cleared its default-deny
// profile, 1 on any schema violation or error, 2 on timeout.
// With "refuse" the box rejects every charging profile: once ampshare switched it Inoperative it
// tries to start a transaction, and exits 0 when ampshare stops that transaction remotely.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [port, identity, version, mode] = process.argv.slice(2);
const refuse = mode === 'refuse';
const DENY_ID = 19520;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (why) => { out({ event: 'error', why: String(why) }); process.exit(1); };
setTimeout(() => { out({ event: 'timeout' }); process.exit(2); }, 20000).unref();

const cli = new RPCClient({
  endpoint: `ws://127.0.0.1:${port}/ocpp`,
  identity,
  protocols: [`ocpp${version}`],
  strictMode: true,
  reconnect: false,
});
cli.on('strictValidationFailure', (e) => fail(`schema: ${e.error && e.error.message} ${JSON.stringify(e.params || e.payload || '')}`));
cli.on('badMessage', (e) => fail(`bad message: ${e.error && e.error.message}`));

function finish() {
  setTimeout(() => cli.close().then(() => process.exit(0)), 50);
}

if (version === '1.6') {
  cli.handle('GetConfiguration', ({ params }) => ({
    configurationKey: (params.key || []).filter((k) => k !== 'ConnectorSwitch3to1PhaseSupported').map((key) => ({
      key, readonly: false,
      value: { ChargeProfileMaxStackLevel: '5', ChargingScheduleAllowedChargingRateUnit: 'Current',
               NumberOfConnectors: '1', MeterValueSampleInterval: '60',
               MeterValuesSampledData: 'Energy.Active.Import.Register' }[key] || '',
    })),
    unknownKey: ['ConnectorSwitch3to1PhaseSupported'],
  }));
  cli.handle('ChangeConfiguration', () => ({ status: 'Accepted' }));
  cli.handle('TriggerMessage', () => ({ status: 'Accepted' }));
  cli.handle('SetChargingProfile', ({ params }) => {
    const p = params.csChargingProfiles;
    out({ event: 'profile', id: p.chargingProfileId, connector: params.connectorId,
          purpose: p.chargingProfilePurpose, stackLevel: p.stackLevel,
          limit: p.chargingSchedule.chargingSchedulePeriod[0].limit });
    return { status: refuse ? 'Rejected' : 'Accepted' };
  });
  cli.handle('ClearChargingProfile', ({ params }) => {
    out({ event: 'cleared', id: params.id });
    if (params.id === DENY_ID) finish();
    return { status: 'Accepted' };
  });
} else {
  const vars = { ProfileStackLevel: '4', RateUnit: 'A', TxUpdatedInterval: '10',
                 TxUpdatedMeasurands: 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage' };
  cli.handle('GetVariables', ({ params }) => ({
    getVariableResult: params.getVariableData.map((d) => (d.variable.name in vars
      ? { attributeStatus: 'Accepted', attributeValue: vars[d.variable.name], component: d.component, variable: d.variable }
      : { attributeStatus: 'UnknownVariable', component: d.component, variable: d.variable })),
  }));
  cli.handle('SetVariables', ({ params }) => ({
    setVariableResult: params.setVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable })),
  }));
  cli.handle('TriggerMessage', () => ({ status: 'Accepted' }));
  cli.handle('SetChargingProfile', ({ params }) => {
    const p = params.chargingProfile;
    out({ event: 'profile', id: p.id, connector: params.evseId, purpose: p.chargingProfilePurpose,
          stackLevel: p.stackLevel, limit: p.chargingSchedule[0].chargingSchedulePeriod[0].limit });
    return { status: refuse ? 'Rejected' : 'Accepted' };
  });
  cli.handle('ClearChargingProfile', ({ params }) => {
    out({ event: 'cleared', id: params.chargingProfileId });
    if (params.chargingProfileId === DENY_ID) finish();
    return { status: 'Accepted' };
  });
}
// a box out of ampshare's control: switched off, then its transaction is stopped
async function tryToCharge() {
  if (version === '1.6') {
    const res = await cli.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: new Date().toISOString() });
    out({ event: 'start', status: res.idTagInfo.status, transactionId: res.transactionId });
  } else {
    const res = await cli.call('TransactionEvent', {
      eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: 'TX1' }, idToken: { idToken: 'TAG1', type: 'ISO14443' },
      evse: { id: 1, connectorId: 1 },
    });
    out({ event: 'start', status: res.idTokenInfo && res.idTokenInfo.status, transactionId: 'TX1' });
  }
}
cli.handle('ChangeAvailability', ({ params }) => {
  out({ event: 'availability', type: params.type || params.operationalStatus });
  if (refuse) setTimeout(() => tryToCharge().catch(fail), 10);
  return { status: 'Accepted' };
});
const stopped = ({ params }) => {
  out({ event: 'stop', transactionId: params.transactionId });
  finish();
  return { status: 'Accepted' };
};
cli.handle(version === '1.6' ? 'RemoteStopTransaction' : 'RequestStopTransaction', stopped);
cli.handle(({ method }) => fail(`unexpected request ${method}`));

(async () => {
  try {
    await cli.connect();
    out({ event: 'connected', protocol: cli.protocol });
    if (version === '1.6') {
      const boot = await cli.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'ocpp-rpc' });
      out({ event: 'boot', status: boot.status, interval: boot.interval });
      await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
      await cli.call('Heartbeat', {});
    } else {
      const boot = await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Interop', model: 'ocpp-rpc' } });
      out({ event: 'boot', status: boot.status, interval: boot.interval });
      await cli.call('StatusNotification', { timestamp: new Date().toISOString(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
      await cli.call('Heartbeat', {});
    }
    out({ event: 'ready' });
  } catch (err) {
    fail(err && err.message);
  }
})();
