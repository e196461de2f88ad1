import type { RoleDeclaration } from './types.js';

/**
 * Load balancers terminate every client connection and open one per backend request: they need window scaling
 * (the outage in README.md), deep accept queues and a wide ephemeral port range.
 * Only net.* keys: they are per network namespace, so a lab host (a netns) owns its own copy.
 * No tcp.congestionControl here: which algorithm suits depends on the paths a site serves, and a netns may only make
 * an *allowed* algorithm its default (tcp_allowed_congestion_control: reno and bbr on this machine kind, so cubic is
 * EPERM in a lab host). test/e2e/congestion-lab.test.ts declares it in a baseline file of its own.
 */
export const loadBalancer = {
  description: 'HAProxy load balancer facing clients across the WAN',
  sysctls: {
    'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical', remediation: 'auto', reason: 'without it every connection is capped at a 64 KiB window: throughput collapses with RTT' },
    'net.ipv4.tcp_sack': { equals: 1, severity: 'high', remediation: 'auto', reason: 'selective ACKs keep loss recovery fast on long paths' },
    'net.ipv4.tcp_timestamps': { equals: 1, severity: 'medium', remediation: 'auto', reason: 'RTT measurement and PAWS' },
    'net.ipv4.tcp_syncookies': { equals: 1, severity: 'high', remediation: 'auto', reason: 'SYN flood protection' },
    'net.core.somaxconn': { min: 4096, severity: 'medium', remediation: 'auto', reason: 'accept queue for bursts of new connections' },
    'net.ipv4.tcp_max_syn_backlog': { min: 4096, severity: 'medium', remediation: 'auto' },
    'net.ipv4.tcp_rmem': { min: [4096, 131072, 6291456], severity: 'high', remediation: 'auto', reason: 'receive buffers large enough to fill a long fat pipe' },
    'net.ipv4.tcp_wmem': { min: [4096, 16384, 4194304], severity: 'high', remediation: 'auto' },
    'net.ipv4.ip_local_port_range': { min: [1024, 60000], max: [32768, 65535], severity: 'medium', remediation: 'manual', reason: 'backend connections need ephemeral ports' },
    'net.ipv4.tcp_fin_timeout': { max: 30, severity: 'low', remediation: 'auto' },
    'net.ipv4.tcp_tw_reuse': { oneOf: [1, 2], severity: 'low', remediation: 'manual', reason: 'reuse TIME-WAIT sockets for outgoing backend connections' },
  },
  behaviours: [
    { check: 'tcp.windowScaling', port: 80, direction: 'in', minShare: 0.99, window: '10s', severity: 'critical', dependsOn: ['net.ipv4.tcp_window_scaling'] },
    // The backend leg: connections the LB opens to the app nodes. An app node without window scaling shows here.
    { check: 'tcp.windowScaling', port: 8080, direction: 'out', minShare: 0.99, window: '10s', severity: 'critical', dependsOn: ['net.ipv4.tcp_window_scaling'] },
    { check: 'tcp.zeroWindow', port: 80, max: 100, window: '10s', severity: 'medium' },
  ],
} as const satisfies RoleDeclaration;
