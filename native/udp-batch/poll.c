/* Poll mode: libuv polls the non-blocking socket and the batches are read on the JS thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include "udp_batch.h"

/* Batches per wake-up: the socket stays readable (level-triggered), so the rest is read on
 * the next loop turn after timers and TCP had theirs. */
#define MAX_BATCHES_PER_WAKE 8

void poll_on_readable(uv_poll_t *h, int status, int events) {
  batch_sock *s = (batch_sock *)h->data;
  if (s->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  for (int b = 0; b < MAX_BATCHES_PER_WAKE && !s->closed; b++) {
    batch_prepare_recv(s);
    int r = recvmmsg(s->fd, s->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EINTR) { b--; continue; }
      break; /* EAGAIN: drained; anything else (ICMP errors) is retried on the next wake */
    }
    if (r == 0) break;
    unsigned count = (unsigned)r;
    if (batch_classify(s, count) > 0) {
      uint32_t gen = s->pc ? s->pc->gen : 0;
      batch_call_on_batch(s, count);
      if (s->closed) break; /* closed from the callback: buffers are no longer ours */
      batch_insert(s, count, gen);
    }
    int last_errno = 0;
    int failed = batch_send(s, count, &last_errno);
    if (failed > 0 && !s->closed) batch_report_send_error(s, failed, last_errno);
    if (count < BATCH) break; /* short batch: the queue is empty */
  }
  napi_close_handle_scope(s->env, scope);
}

