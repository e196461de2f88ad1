/* Loopback connect/accept/close loop for bench/probe-overhead.ts: N connections to our own listener on 127.0.0.1,
 * one at a time; prints the elapsed nanoseconds and this process's CPU time (user + system: the kernel's TCP and BPF work
 * for these connections runs in this process's context on loopback). Closed with SO_LINGER 0 (RST) so thousands of runs leave no
 * TIME-WAIT sockets to exhaust ephemeral ports.
 *
 *   probe-connloop PORT COUNT     one run, prints "WALL_NS CPU_NS"
 *   probe-connloop PORT -         batches on demand (bench/probe-paired.ts): reads a count per line on stdin, runs that
 *                                 many connections on the same listener, prints "WALL_NS CPU_NS" per batch */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT COUNT\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int batches = argv[2][0] == '-';
  long n = batches ? 0 : atol(argv[2]);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 1024)) {
    perror("listen");
    return 1;
  }
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  struct timespec a, b;
  struct rusage r0 = {0};
  char line[64];
  setvbuf(stdout, NULL, _IOLBF, 0);
next:
  if (batches) {
    if (!fgets(line, sizeof(line), stdin)) return 0;
    n = atol(line);
    getrusage(RUSAGE_SELF, &r0);
  }
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&addr, sizeof(addr))) {
      perror("connect");
      return 1;
    }
    int s = accept(l, NULL, NULL);
    if (s < 0) {
      perror("accept");
      return 1;
    }
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(c);
    close(s);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec - r0.ru_utime.tv_sec - r0.ru_stime.tv_sec) * 1000000000LL +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec - r0.ru_utime.tv_usec - r0.ru_stime.tv_usec) * 1000LL;
  printf("%lld %lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec), cpu);
  if (batches) goto next;
  return 0;
}
