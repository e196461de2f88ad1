import { APP_PORT, HTTP_PORT, type LabPlan } from './plan.js';

/**
 * HAProxy on lb: HTTP mode on port 80 (all of lb's addresses: LAN and WAN) in front of app1 and app2.
 * A new backend connection per request (http-server-close, no reuse): each backend leg negotiates its own TCP options,
 * so a sysctl changed on an app node shows on the next request. Timeouts allow an 8 MiB response at a 64 KiB window
 * across a long RTT (tens of seconds).
 */
export function haproxyConfigText(plan: LabPlan, pidFile: string): string {
  const app = (n: string) => plan.hosts.find((h) => h.name === n)?.address as string;
  return `# HAProxy for lab ${plan.name}; started by kdrift lab up
global
    maxconn 4096
    pidfile ${pidFile}
    nbthread 1

defaults
    mode http
    option http-server-close
    http-reuse never
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-request 30s
    timeout queue 30s

frontend web
    bind :${HTTP_PORT}
    default_backend apps

backend apps
    balance roundrobin
    option httpchk GET /healthz
    default-server check inter 2s fall 2 rise 1
    server app1 ${app('app1')}:${APP_PORT}
    server app2 ${app('app2')}:${APP_PORT}
`;
}
