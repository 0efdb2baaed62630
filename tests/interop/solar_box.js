// An OCPP 1.6 charge point (ocpp-rpc, strict schemas) with a car that draws what the charging
// profiles allow, for the closed-loop solar test: the test feeds each draw into an emulated
// grid meter, so ampshare sees the car's own power at the grid.
// Usage: node solar_box.js <port> <identity> [switch]
// With "switch" the box says it can switch between 1 and 3 phases and follows numberPhases; a
// phase change while the car draws is reported as {"event": "under_load"}.
// Prints {"event": "draw", "amps": x, "phases": n} whenever the car's current changes,
// {"event": "cleared"} for every ClearChargingProfile; exits on stdin "stop", 1 on an error,
// 2 on timeout.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [port, identity, option] = process.argv.slice(2);
const canSwitch = option === 'switch';
let phases = 3;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (why) => { out({ event: 'error', why: String(why) }); process.exit(1); };
setTimeout(() => { out({ event: 'timeout' }); process.exit(2); }, 90000).unref();

const cli = new RPCClient({
  endpoint: `ws://127.0.0.1:${port}/ocpp`, identity, protocols: ['ocpp1.6'], strictMode: true, reconnect: false,
});
cli.on('strictValidationFailure', (e) => fail(`schema: ${e.error && e.error.message}`));
cli.on('badMessage', (e) => fail(`bad message: ${e.error && e.error.message}`));

const profiles = new Map(); // `${connector}/${id}` -> { stackLevel, purpose, limit }
let txId = null;
let draw = 0;

function allowed() {
  // TxProfile over TxDefaultProfile, then the highest stack level; at the same level the
  // connector's own profile over the box-wide one (connector 0)
  let best = null;
  for (const p of profiles.values()) {
    const rank = (p.purpose === 'TxProfile' ? 100 : 0) + 2 * p.stackLevel + (p.connector > 0 ? 1 : 0);
    if (best === null || rank > best.rank) best = { rank, limit: p.limit };
  }
  return best === null ? 32 : best.limit;
}

function follow() {
  const limit = allowed();
  const next = limit >= 6 ? Math.min(limit, 16) : 0;  // a car below 6 A stops
  if (next !== draw) {
    draw = next;
    out({ event: 'draw', amps: draw, phases });
  }
}

cli.handle('GetConfiguration', ({ params }) => ({
  configurationKey: (params.key || []).map((key) => ({ key, readonly: false,
    value: { ChargeProfileMaxStackLevel: '5', ChargingScheduleAllowedChargingRateUnit: 'Current',
             NumberOfConnectors: '1', MeterValueSampleInterval: '1',
             MeterValuesSampledData: 'Current.Import,Power.Active.Import,Energy.Active.Import.Register',
             ConnectorSwitch3to1PhaseSupported: canSwitch ? 'true' : 'false' }[key] || '' })),
}));
cli.handle('ChangeConfiguration', () => ({ status: 'Accepted' }));
cli.handle('TriggerMessage', () => ({ status: 'Accepted' }));
cli.handle('SetChargingProfile', ({ params }) => {
  const p = params.csChargingProfiles;
  const period = p.chargingSchedule.chargingSchedulePeriod[0];
  if (canSwitch && period.numberPhases && period.numberPhases !== phases) {
    if (draw > 0) out({ event: 'under_load', from: phases, to: period.numberPhases });
    phases = period.numberPhases;
    draw = 0;  // the relay drops the car for a moment
    out({ event: 'draw', amps: 0, phases });
  }
  profiles.set(`${params.connectorId}/${p.chargingProfileId}`,
    { stackLevel: p.stackLevel, purpose: p.chargingProfilePurpose, limit: period.limit,
      connector: params.connectorId });
  setTimeout(follow, 200);  // the car follows within a moment
  return { status: 'Accepted' };
});
cli.handle('ClearChargingProfile', ({ params }) => {
  for (const key of [...profiles.keys()]) {
    if (params.id === undefined || key.endsWith(`/${params.id}`)) profiles.delete(key);
  }
  out({ event: 'cleared', id: params.id });
  setTimeout(follow, 200);
  return { status: 'Accepted' };
});
cli.handle(({ method }) => fail(`unexpected request ${method}`));

let energy = 0;
async function meter() {
  energy += draw * 230 * phases / 3600;  // Wh per second
  const amps = draw.toFixed(1);
  const off = '0.0';
  await cli.call('MeterValues', {
    connectorId: 1, transactionId: txId || undefined,
    meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [
      { value: amps, measurand: 'Current.Import', unit: 'A', phase: 'L1' },
      { value: phases === 3 ? amps : off, measurand: 'Current.Import', unit: 'A', phase: 'L2' },
      { value: phases === 3 ? amps : off, measurand: 'Current.Import', unit: 'A', phase: 'L3' },
      { value: String(Math.round(draw * 230 * phases)), measurand: 'Power.Active.Import', unit: 'W' },
      { value: energy.toFixed(1), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
    ] }],
  });
}

const lines = require('readline').createInterface({ input: process.stdin });
lines.on('line', (line) => { if (line.trim() === 'stop') cli.close().then(() => process.exit(0)); });

(async () => {
  try {
    await cli.connect();
    await cli.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'SolarBox' });
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    const start = await cli.call('StartTransaction', { connectorId: 1, idTag: 'CAR1', meterStart: 0, timestamp: new Date().toISOString() });
    txId = start.transactionId;
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'SuspendedEVSE' });
    out({ event: 'started', transactionId: txId });
    let status = 'SuspendedEVSE';
    setInterval(async () => {
      try {
        await meter();
        const want = draw > 0 ? 'Charging' : 'SuspendedEVSE';
        if (want !== status) {
          status = want;
          await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status });
        }
      } catch (e) { fail(e); }
    }, 1000);
  } catch (e) {
    fail(e);
  }
})();
