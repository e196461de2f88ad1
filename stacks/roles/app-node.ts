import type { RoleDeclaration } from './types.js';

/** App nodes serve HTTP behind the load balancers; the LB → app leg crosses the LAN. Only net.* keys (per netns). */
export const appNode = {
  description: 'HTTP application server behind the load balancers',
  sysctls: {
    'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical', remediation: 'auto' },
    'net.ipv4.tcp_sack': { equals: 1, severity: 'high', remediation: 'auto' },
    'net.ipv4.tcp_timestamps': { equals: 1, severity: 'medium', remediation: 'auto' },
    'net.ipv4.tcp_syncookies': { equals: 1, severity: 'high', remediation: 'auto' },
    'net.core.somaxconn': { min: 1024, severity: 'medium', remediation: 'auto' },
    'net.ipv4.tcp_rmem': { min: [4096, 131072, 6291456], severity: 'medium', remediation: 'auto' },
    'net.ipv4.tcp_wmem': { min: [4096, 16384, 4194304], severity: 'medium', remediation: 'auto' },
    'net.ipv4.ip_local_port_range': { min: [1024, 60000], max: [32768, 65535], severity: 'low', remediation: 'manual' },
    'net.ipv4.tcp_fin_timeout': { max: 60, severity: 'low', remediation: 'auto' },
  },
  behaviours: [
    { check: 'tcp.windowScaling', port: 8080, direction: 'in', minShare: 0.99, window: '10s', severity: 'high', dependsOn: ['net.ipv4.tcp_window_scaling'] },
    { check: 'tcp.retransmits', port: 8080, direction: 'in', maxRate: 0.02, window: '10s', severity: 'medium' },
  ],
} as const satisfies RoleDeclaration;
