/* The batch engine's UDP socket: bound, optionally in an SO_REUSEPORT group spread at random. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/filter.h>
#include "udp_batch.h"

/* A bound non-blocking UDP socket, or -errno with *failed_call set (-EAFNOSUPPORT - 1000: the
 * host is not an address of that family). */
int socket_open(const char *host, uint32_t port, uint32_t family, int reuse_port, uint32_t spread, const char **failed_call) {
  struct sockaddr_storage sa;
  socklen_t sa_len;
  memset(&sa, 0, sizeof(sa));
  if (family == 4) {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) return -EAFNOSUPPORT - 1000;
    sa_len = sizeof(*a4);
  } else {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) return -EAFNOSUPPORT - 1000;
    sa_len = sizeof(*a6);
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { *failed_call = "socket"; return -errno; }
  int one = 1;
  int e = 0;
  /* Like dgram's ipv6Only: an IPv6 wildcard must not take the IPv4 port too. */
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) { *failed_call = "setsockopt"; goto fail; }
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) { *failed_call = "setsockopt"; goto fail; }
  if (bind(fd, (struct sockaddr *)&sa, sa_len) < 0) { *failed_call = "bind"; goto fail; }
  /* A group of `spread` sockets: each datagram goes to a random one (cBPF, SKF_AD_RANDOM)
   * instead of the kernel's 4-tuple hash, which keeps each client port on one socket and
   * can leave one thread with most of the load (seen: 88/12 with dnsperf's 8 ports). An
   * index past the group's current size (a worker being restarted) falls back to the hash. */
  if (spread > 1) {
    struct sock_filter code[] = {
      { BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM) }, /* A = random */
      { BPF_ALU | BPF_MOD | BPF_K, 0, 0, spread },                                 /* A %= spread */
      { BPF_RET | BPF_A, 0, 0, 0 },
    };
    struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0) { *failed_call = "setsockopt"; goto fail; }
  }
  return fd;
fail:
  e = errno;
  close(fd);
  return -e;
}
