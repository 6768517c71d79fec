import assert from 'node:assert/strict';
import { leaderAddress, masterInfoFor, parseMasterInfo, sequenceOf, serializeMasterInfo } from './master-info.js';

describe('MasterInfo', () => {
  it('builds the Mesos shape and round-trips through the znode data', () => {
    const info = masterInfoFor({ id: 'm1', hostname: 'node1', ip: '10.0.0.5', port: 5050, version: '0.1.0' });
    assert.equal(info.pid, 'master@10.0.0.5:5050');
    assert.deepEqual(info.address, { hostname: 'node1', ip: '10.0.0.5', port: 5050 });
    assert.deepEqual(parseMasterInfo(serializeMasterInfo(info)), info);
    const written = JSON.parse(serializeMasterInfo(info).toString()) as Record<string, unknown>;
    assert.equal(written.ip, 83886090, 'the top-level ip is a uint32 as Mesos writes it (10.0.0.5)');
    assert.equal(JSON.parse(serializeMasterInfo(masterInfoFor({ id: 'm', hostname: 'h', ip: '127.0.0.1', port: 1, version: 'v' })).toString()).ip, 16777343);
    assert.equal(leaderAddress(info), '10.0.0.5:5050');
    assert.equal(leaderAddress(masterInfoFor({ id: 'm', hostname: 'h', ip: '::1', port: 5050, version: 'v' })), '[::1]:5050');
  });

  it("reads what Mesos writes (uint32 ip, extra fields)", () => {
    const mesos = '{"address":{"hostname":"m1","ip":"127.0.0.1","port":5050},"hostname":"m1","id":"abc","ip":16777343,"pid":"master@127.0.0.1:5050","port":5050,"version":"1.11.0","capabilities":[{"type":"AGENT_UPDATE"}]}';
    const info = parseMasterInfo(mesos);
    assert.equal(info.ip, '127.0.0.1');
    assert.equal(leaderAddress(info), '127.0.0.1:5050');
    const noAddressIp = JSON.parse(mesos) as Record<string, unknown>;
    noAddressIp.address = { hostname: 'm1', ip: '', port: 5050 };
    assert.throws(() => parseMasterInfo(JSON.stringify(noAddressIp)));
  });

  it('rejects data that is not a MasterInfo', () => {
    assert.throws(() => parseMasterInfo('not json'));
    assert.throws(() => parseMasterInfo('{"id":"x"}'), /is required/);
  });

  it('finds the sequence of json.info_ names only', () => {
    assert.equal(sequenceOf('json.info_0000000012'), 12);
    assert.equal(sequenceOf('info_0000000012'), undefined);
    assert.equal(sequenceOf('json.info_'), undefined);
    assert.equal(sequenceOf('json.info_12x'), undefined);
    assert.equal(sequenceOf('registry'), undefined);
  });
});
