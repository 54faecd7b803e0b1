/* The per-batch steps shared by poll mode (poll.c) and reader mode (reader.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include "udp_batch.h"

void batch_prepare_recv(batch_sock *s) {
  for (unsigned i = 0; i < BATCH; i++) {
    s->iov[i].iov_base = s->in + (size_t)i * IN_SLOT;
    s->iov[i].iov_len = IN_SLOT;
    memset(&s->msgs[i].msg_hdr, 0, sizeof(struct msghdr));
    s->msgs[i].msg_hdr.msg_name = &s->addrs[i];
    s->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
    s->msgs[i].msg_hdr.msg_iovlen = 1;
  }
}

/* Bumped by cacheClearAll() on any thread; each socket compares it with the one it saw. */
static uint32_t g_epoch = 0;

void batch_epoch_bump(void) { __atomic_add_fetch(&g_epoch, 1, __ATOMIC_RELEASE); }
uint32_t batch_epoch(void) { return __atomic_load_n(&g_epoch, __ATOMIC_ACQUIRE); }

unsigned batch_classify(batch_sock *s, unsigned count) {
  unsigned misses = 0;
  if (s->pc) {
    uint32_t ep = batch_epoch();
    if (ep != s->epoch) {
      s->epoch = ep;
      s->epoch_news = 1;
      pc_clear(s->pc);
    }
  }
  for (unsigned i = 0; i < count; i++) {
    uint32_t *m = s->meta + (size_t)i * META_WORDS;
    uint32_t len = s->msgs[i].msg_len;
    m[0] = len > IN_SLOT ? IN_SLOT : len;
    m[1] = 0;
    m[2] = 0;
    m[3] = 0;
    memset(&m[4], 0, 16);
    m[8] = 0;
    m[9] = 0;
    s->keyable[i] = 0;
    struct sockaddr_storage *a = &s->addrs[i];
    if (a->ss_family == AF_INET) {
      struct sockaddr_in *a4 = (struct sockaddr_in *)a;
      m[2] = ntohs(a4->sin_port);
      m[3] = 4;
      memcpy(&m[4], &a4->sin_addr, 4);
    } else if (a->ss_family == AF_INET6) {
      struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)a;
      m[2] = ntohs(a6->sin6_port);
      m[3] = 6;
      memcpy(&m[4], &a6->sin6_addr, 16);
    }
    if (s->pc && m[2] != 0 && m[3] != 0 && m[0] >= 12 && m[0] < IN_SLOT) {
      const uint8_t *q = s->in + (size_t)i * IN_SLOT;
      uint8_t fam = (uint8_t)m[3];
      const uint8_t *addr = (const uint8_t *)&m[4];
      if (pc_keyable(fam, m[0])) {
        s->keyable[i] = 1;
        s->hash[i] = pc_hash(fam, addr, q, m[0]);
        const uint8_t *resp = NULL;
        const pc_slot *e = pc_find(s->pc, s->hash[i], fam, addr, q, m[0], &resp);
        if (e && e->tag < s->ntags && s->hits) {
          uint8_t *o = s->out + (size_t)i * OUT_SLOT;
          memcpy(o, resp, e->rlen);
          o[0] = q[0]; /* the new query's ID */
          o[1] = q[1];
          m[1] = e->rlen;
          m[8] = 1;
          /* Several sockets (listen addresses) share one counter array. */
          __atomic_fetch_add(&s->hits[e->tag], 1, __ATOMIC_RELAXED);
          continue;
        }
      }
    }
    misses++;
  }
  return misses;
}

void batch_insert(batch_sock *s, unsigned count, uint32_t gen) {
  if (!s->pc || s->pc->gen != gen) return;
  for (unsigned i = 0; i < count; i++) {
    uint32_t *m = s->meta + (size_t)i * META_WORDS;
    if (m[8] || !m[9] || !s->keyable[i] || m[9] - 1 >= s->ntags || m[1] == 0 || m[1] > PC_RESP_MAX) continue;
    pc_insert(s->pc, s->hash[i], (uint8_t)m[3], (const uint8_t *)&m[4], s->in + (size_t)i * IN_SLOT, m[0],
      s->out + (size_t)i * OUT_SLOT, m[1], m[9] - 1);
  }
}

int batch_send(batch_sock *s, unsigned count, int *last_errno) {
  unsigned n = 0;
  int failed = 0;
  for (unsigned i = 0; i < count; i++) {
    uint32_t len = s->meta[i * META_WORDS + 1];
    if (len == 0) continue;
    if (len > OUT_SLOT) { failed++; *last_errno = EMSGSIZE; continue; }
    s->oiov[n].iov_base = s->out + (size_t)i * OUT_SLOT;
    s->oiov[n].iov_len = len;
    memset(&s->omsgs[n].msg_hdr, 0, sizeof(struct msghdr));
    s->omsgs[n].msg_hdr.msg_name = &s->addrs[i];
    s->omsgs[n].msg_hdr.msg_namelen = s->msgs[i].msg_hdr.msg_namelen;
    s->omsgs[n].msg_hdr.msg_iov = &s->oiov[n];
    s->omsgs[n].msg_hdr.msg_iovlen = 1;
    n++;
  }
  unsigned k = 0;
  while (k < n) {
    int r = sendmmsg(s->fd, s->omsgs + k, n - k, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      /* The first remaining message failed (full buffer, unreachable...): skip it. */
      *last_errno = errno;
      failed++;
      k++;
    } else {
      k += (unsigned)r;
    }
  }
  return failed;
}

static void report_exception(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return;
  napi_value err;
  napi_get_and_clear_last_exception(env, &err);
  napi_fatal_exception(env, err);
}

void batch_call_js(batch_sock *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_value fn, recv, result;
  if (napi_get_reference_value(s->env, fn_ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(s->env, &recv); /* make_callback needs an object receiver */
  if (napi_make_callback(s->env, s->async_ctx, recv, fn, argc, argv, &result) != napi_ok) report_exception(s->env);
}

void batch_call_on_batch(batch_sock *s, unsigned count) {
  napi_value argv[2];
  napi_create_uint32(s->env, count, &argv[0]);
  napi_get_boolean(s->env, s->epoch_news != 0, &argv[1]);
  s->epoch_news = 0;
  batch_call_js(s, s->on_batch, 2, argv);
}

void batch_report_send_error(batch_sock *s, int failed, int err) {
  napi_value argv[2];
  napi_create_int32(s->env, failed, &argv[0]);
  napi_create_string_utf8(s->env, uv_err_name(uv_translate_sys_error(err)), NAPI_AUTO_LENGTH, &argv[1]);
  batch_call_js(s, s->on_error, 2, argv);
}
