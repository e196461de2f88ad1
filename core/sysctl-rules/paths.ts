/**
 * Where each boot applier looks. systemd-sysctl as Debian 12 builds it (systemd 252 without split-usr: no /lib, which
 * is a link to usr/lib there); procps 4.0.2 `sysctl --system` adds /lib/sysctl.d and reads /etc/sysctl.conf itself,
 * last. systemd reads /etc/sysctl.conf only through a sysctl.d entry that resolves to it (Debian ships
 * /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf).
 */
export const SYSTEMD_SYSCTL_DIRS = ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d'] as const;
export const PROCPS_SYSCTL_DIRS = [...SYSTEMD_SYSCTL_DIRS, '/lib/sysctl.d'] as const;
/** Every directory either applier reads, in precedence order. */
export const SYSCTL_DIRS = PROCPS_SYSCTL_DIRS;
export const SYSCTL_CONF = '/etc/sysctl.conf';

export type Applier = 'systemd-sysctl' | 'sysctl --system';
export const APPLIERS: readonly Applier[] = ['systemd-sysctl', 'sysctl --system'];
