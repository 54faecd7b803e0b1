/*
 * Reader mode: one thread per socket blocks in recvmmsg(MSG_WAITFORONE), like gdnsd's
 * I/O threads, so a batch costs two syscalls (recvmmsg, sendmmsg) and no epoll or event
 * loop turn. Packet-cache hits are answered on this thread. A batch with a miss is
 * handed to the JS thread (uv_async_send) and this thread waits until JS has written
 * the responses (on_async), then caches and sends them: JS code only ever runs on its
 * own thread, and it sees the buffers only while the reader waits.
 *
 * Stopping (reader_stop, on the JS thread): `closing` is set, shutdown(2) wakes a
 * blocked recvmmsg (SO_RCVTIMEO bounds it anyway), `cv` wakes a reader waiting for JS,
 * and the thread is joined before the socket is closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <fcntl.h>
#include <unistd.h>
#include "udp_batch.h"

#define RCV_TIMEO_US 250000 /* 250 ms */

static int is_closing(batch_sock *s) { return __atomic_load_n(&s->closing, __ATOMIC_ACQUIRE); }

static void *reader_main(void *arg) {
  batch_sock *s = (batch_sock *)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the JS thread's */
  while (!is_closing(s)) {
    batch_prepare_recv(s);
    int r = recvmmsg(s->fd, s->msgs, BATCH, MSG_WAITFORONE, NULL);
    if (is_closing(s)) break;
    if (r < 0) {
      if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL) break;
      continue; /* EAGAIN (the receive timeout), EINTR, ICMP errors: read on */
    }
    if (r == 0) continue;
    unsigned count = (unsigned)r;
    pthread_mutex_lock(&s->mu);
    unsigned misses = batch_classify(s, count);
    if (misses > 0) {
      uint32_t gen = s->pc ? s->pc->gen : 0;
      s->pending = count;
      s->js_done = 0;
      uv_async_send(&s->h.async);
      while (!s->js_done && !is_closing(s)) pthread_cond_wait(&s->cv, &s->mu);
      if (!s->js_done) { pthread_mutex_unlock(&s->mu); break; }
      batch_insert(s, count, gen);
    }
    pthread_mutex_unlock(&s->mu);
    int last_errno = 0;
    int failed = batch_send(s, count, &last_errno);
    if (failed > 0) {
      pthread_mutex_lock(&s->mu);
      s->send_failed += (uint32_t)failed;
      s->send_errno = last_errno;
      pthread_mutex_unlock(&s->mu);
      uv_async_send(&s->h.async);
    }
  }
  return NULL;
}

/* On the JS thread: the batch the reader handed over, and send failures to report. */
static void on_async(uv_async_t *h) {
  batch_sock *s = (batch_sock *)h->data;
  if (s->closed) return;
  pthread_mutex_lock(&s->mu);
  unsigned count = s->pending;
  s->pending = 0;
  uint32_t failed = s->send_failed;
  int err = s->send_errno;
  s->send_failed = 0;
  pthread_mutex_unlock(&s->mu);
  if (count == 0 && failed == 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (count > 0) {
    batch_call_on_batch(s, count); /* epoch_news: written by the reader before the hand-off */
    if (!s->closed) { /* closed from the callback: the reader was stopped and joined */
      pthread_mutex_lock(&s->mu);
      s->js_done = 1;
      pthread_cond_signal(&s->cv);
      pthread_mutex_unlock(&s->mu);
    }
  }
  if (failed > 0 && !s->closed) batch_report_send_error(s, (int)failed, err);
  napi_close_handle_scope(s->env, scope);
}

int reader_start(batch_sock *s, uv_loop_t *loop, int *inited) {
  *inited = 0;
  /* Blocking reads, bounded so a missed wake-up cannot keep a closing socket's thread. */
  int fl = fcntl(s->fd, F_GETFL);
  struct timeval tv = { 0, RCV_TIMEO_US };
  if (fl < 0 || fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) return errno;
  if (uv_async_init(loop, &s->h.async, on_async) != 0) return EINVAL;
  *inited = 1;
  s->h.handle.data = s;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->threaded = 1;
  int e = pthread_create(&s->reader, NULL, reader_main, s);
  if (e != 0) return e;
  s->reader_started = 1;
  return 0;
}

void reader_stop(batch_sock *s) {
  if (!s->reader_started) return;
  __atomic_store_n(&s->closing, 1, __ATOMIC_RELEASE);
  shutdown(s->fd, SHUT_RDWR); /* wakes a blocked recvmmsg (it then returns at once) */
  pthread_mutex_lock(&s->mu);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->reader, NULL);
  s->reader_started = 0;
}
