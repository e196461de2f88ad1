/** The lab's pure parts: naming and addressing, option parsing, the values provisioning derives from the baseline. */
import assert from 'node:assert/strict';
import { labPlan, parseRtt, parseBandwidth, validateLabName, validateSubnet } from '../../lab/plan.js';
import { declaredSysctls, assertPerNetns, fleetConfText } from '../../lab/provision.js';
import { hostPasswd } from '../../lab/host-root.js';
import { parseBaseline } from '../../core/baseline.js';
import { KdriftError } from '../../core/errors.js';

describe('lab plan', function () {
  it('names every interface within the kernel limit of 15 characters, even for the longest lab name', function () {
    const plan = labPlan('abcdefghij', 254);
    for (const n of [plan.bridge, ...plan.hosts.map((h) => h.vethRoot), plan.wan.dev]) assert.ok(n.length <= 15, n);
    assert.deepEqual(new Set(plan.hosts.map((h) => h.vethRoot)).size, 4);
  });

  it('puts the LAN on 10.N.0.0/24 and the WAN on a /30 of 10.N.1.0, lb and client only', function () {
    const plan = labPlan('kdla', 71);
    assert.equal(plan.bridgeAddress, '10.71.0.1');
    assert.deepEqual(plan.hosts.map((h) => [h.name, h.netns, h.address, h.wanAddress ?? null]), [
      ['lb', 'kdla-lb', '10.71.0.10', '10.71.1.2'],
      ['app1', 'kdla-app1', '10.71.0.11', null],
      ['app2', 'kdla-app2', '10.71.0.12', null],
      ['client', 'kdla-client', '10.71.0.13', '10.71.1.1'],
    ]);
    assert.equal(plan.wan.prefix, 30);
  });

  it('refuses a lab name that could not name interfaces or namespaces safely', function () {
    for (const bad of ['', 'KDLA', 'kd-la', 'abcdefghijk', '1lab', 'a/b']) assert.throws(() => validateLabName(bad), KdriftError, bad);
    assert.equal(validateLabName('kdla'), 'kdla');
  });

  it('refuses a subnet outside 1-254', function () {
    for (const bad of [0, 255, 1.5, -3]) assert.throws(() => validateSubnet(bad), /subnet must be an integer 1-254/);
  });

  it('parses round-trip times in ms or s, 0 meaning a plain link, and refuses other text', function () {
    assert.equal(parseRtt('50ms'), 50);
    assert.equal(parseRtt('0.1s'), 100);
    assert.equal(parseRtt('0'), 0);
    assert.equal(parseRtt('20'), 20);
    for (const bad of ['fast', '-5ms', '50 us', '11s']) assert.throws(() => parseRtt(bad), KdriftError, bad);
  });

  it('parses bandwidth in tc units (bits per second) into bytes per second', function () {
    assert.equal(parseBandwidth('100mbit'), 12_500_000);
    assert.equal(parseBandwidth('1gbit'), 125_000_000);
    assert.equal(parseBandwidth('512kbit'), 64_000);
    for (const bad of ['100', '100mbps', 'lots', '1bit']) assert.throws(() => parseBandwidth(bad), KdriftError, bad);
  });
});

describe('lab provisioning values', function () {
  it('derives one value per declared key: equals, the first of oneOf, min, else max', function () {
    const baseline = parseBaseline(
      {
        roles: {
          r: {
            sysctls: {
              'net.ipv4.tcp_sack': { equals: 1 },
              'net.ipv4.tcp_tw_reuse': { oneOf: [2, 1] },
              'net.core.somaxconn': { min: 4096 },
              'net.ipv4.tcp_fin_timeout': { max: 30 },
              'net.ipv4.ip_local_port_range': { min: [1024, 60000], max: [32768, 65535] },
            },
          },
        },
      },
      'test',
    );
    assert.deepEqual([...declaredSysctls(['r'], baseline)], [
      ['net.ipv4.tcp_sack', '1'],
      ['net.ipv4.tcp_tw_reuse', '2'],
      ['net.core.somaxconn', '4096'],
      ['net.ipv4.tcp_fin_timeout', '30'],
      ['net.ipv4.ip_local_port_range', '1024 60000'],
    ]);
    assert.equal(fleetConfText('lb', declaredSysctls(['r'], baseline)).split('\n')[1], 'net.ipv4.tcp_sack = 1');
  });

  it('refuses to provision a key outside net.*: it would change the whole machine, not the lab host', function () {
    const baseline = parseBaseline({ roles: { r: { sysctls: { 'vm.swappiness': { equals: 10 } } } } }, 'test');
    assert.throws(() => declaredSysctls(['r'], baseline), /refusing to set vm\.swappiness in a lab host/);
    assert.throws(() => assertPerNetns('kernel.pid_max'), KdriftError);
    assert.doesNotThrow(() => assertPerNetns('net.core.somaxconn'));
  });

  it('derives the real fleet baseline: lb gets window scaling on, the client nothing', function () {
    assert.equal(declaredSysctls(['load-balancer']).get('net.ipv4.tcp_window_scaling'), '1');
    assert.equal(declaredSysctls(['client']).size, 0);
  });

  it("gives root /bin/sh and the host's home, and adds the non-root lab user once", function () {
    const machine = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\nkdnobody:x:1:1:old:/x:/bin/sh\n';
    const out = hostPasswd(machine, { home: '/lab/lb/home', nonRootHome: '/lab/lb/home-nonroot' });
    assert.equal(
      out,
      'root:x:0:0:root:/lab/lb/home:/bin/sh\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\nkdnobody:x:60001:65534:kdrift lab non-root user:/lab/lb/home-nonroot:/bin/sh\n',
    );
  });
});
