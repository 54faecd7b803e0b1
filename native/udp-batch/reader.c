/*
 * Reader mode: one thread per socket blocks in recvmmsg(MSG_WAITFORONE), like gdnsd's
 * I/O threads, so a batch costs two syscalls (recvmmsg, sendmmsg) and no epoll or event
 * loop turn. Packet-cache hits are answered on this thread. A batch with a miss is
 * handed to the JS thread (uv_async_send, on_async), which answers, caches and sends it
 * and then keeps the socket, polling it as in poll mode (on_js_readable), until four
 * all-hit batches in a row give it back; the reader waits meanwhile. JS code only ever
 * runs on its own thread, and it touches the buffers and the socket only while the
 * reader waits.
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
#define JS_BATCHES 8 /* per wake-up while JS owns the socket, as in poll mode */
#define HAND_BACK 4  /* all-hit batches in a row that send the socket back to the reader */

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
    if (batch_classify(s, count) > 0) {
      /* JS answers this batch and keeps the socket until the hits are back (js_give_back). */
      s->handoff_gen = s->pc ? s->pc->gen : 0;
      s->pending = count;
      s->js_done = 0;
      uv_async_send(&s->h.async);
      while (!s->js_done && !is_closing(s)) pthread_cond_wait(&s->cv, &s->mu);
      int done = s->js_done;
      pthread_mutex_unlock(&s->mu);
      if (!done) break;
      continue;
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

/* On the JS thread, the reader waiting: answers, caches and sends a batch with misses. */
static int js_batch(batch_sock *s, unsigned count, uint32_t gen) {
  batch_call_on_batch(s, count);
  if (s->closed) return 0; /* closed from the callback: the reader was stopped and joined */
  pthread_mutex_lock(&s->mu);
  batch_insert(s, count, gen);
  pthread_mutex_unlock(&s->mu);
  int last_errno = 0;
  int failed = batch_send(s, count, &last_errno);
  if (failed > 0) batch_report_send_error(s, failed, last_errno);
  return !s->closed;
}

/* JS gives the socket back to the reader (JS thread). */
static void js_give_back(batch_sock *s) {
  uv_poll_stop(&s->rpoll);
  s->js_owns = 0;
  pthread_mutex_lock(&s->mu);
  s->js_done = 1;
  pthread_mutex_unlock(&s->mu);
  pthread_cond_signal(&s->cv);
}

/* While JS owns the socket: poll mode's loop, on the JS thread. After HAND_BACK batches in a
 * row that were all cache hits, the reader takes the socket again. */
static void on_js_readable(uv_poll_t *h, int status, int events) {
  batch_sock *s = (batch_sock *)h->data;
  if (s->closed || !s->js_owns) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  for (int b = 0; b < JS_BATCHES && !s->closed; b++) {
    batch_prepare_recv(s);
    int r = recvmmsg(s->fd, s->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (r <= 0) break; /* EAGAIN: drained; errors (ICMP): read again on the next wake */
    unsigned count = (unsigned)r;
    pthread_mutex_lock(&s->mu);
    unsigned misses = batch_classify(s, count);
    uint32_t gen = s->pc ? s->pc->gen : 0;
    pthread_mutex_unlock(&s->mu);
    if (misses > 0) {
      s->js_hit_batches = 0;
      if (!js_batch(s, count, gen)) break;
    } else {
      int last_errno = 0;
      int f = batch_send(s, count, &last_errno);
      if (f > 0) batch_report_send_error(s, f, last_errno);
      if (s->closed) break;
      if (++s->js_hit_batches >= HAND_BACK) {
        js_give_back(s);
        break;
      }
    }
    if (count < BATCH) break; /* short batch: the queue is empty */
  }
  napi_close_handle_scope(s->env, scope);
}

/* On the JS thread: the batch the reader handed over. A miss costs the hand-off's two
 * wake-ups, and misses come in runs (new clients, a cache just emptied): JS keeps the
 * socket and reads it itself (on_js_readable) until the hits are back. Also reports the
 * reader's send failures. */
static void on_async(uv_async_t *h) {
  batch_sock *s = (batch_sock *)h->data;
  if (s->closed) return;
  pthread_mutex_lock(&s->mu);
  unsigned count = s->pending;
  uint32_t gen = s->handoff_gen;
  s->pending = 0;
  uint32_t failed = s->send_failed;
  int err = s->send_errno;
  s->send_failed = 0;
  pthread_mutex_unlock(&s->mu);
  if (count == 0 && failed == 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (failed > 0) batch_report_send_error(s, (int)failed, err);
  if (count > 0 && !s->closed && js_batch(s, count, gen)) {
    s->js_hit_batches = 0;
    s->js_owns = 1;
    if (uv_poll_start(&s->rpoll, UV_READABLE, on_js_readable) != 0) js_give_back(s); /* not polled: give it straight back */
  }
  napi_close_handle_scope(s->env, scope);
}

int reader_start(batch_sock *s, uv_loop_t *loop, int *inited) {
  *inited = 0;
  if (uv_async_init(loop, &s->h.async, on_async) != 0) return EINVAL;
  *inited = 1;
  s->h.handle.data = s;
  s->handles_open = 1;
  s->threaded = 1; /* close_sock: reader_stop (a no-op until started), then the handles open */
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  /* uv_poll_init makes the fd non-blocking: before the reader's blocking mode is set. */
  if (uv_poll_init(loop, &s->rpoll, s->fd) != 0) return EINVAL;
  s->rpoll.data = s;
  s->handles_open = 2;
  /* Blocking reads, bounded so a missed wake-up cannot keep a closing socket's thread. */
  int fl = fcntl(s->fd, F_GETFL);
  struct timeval tv = { 0, RCV_TIMEO_US };
  if (fl < 0 || fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) return errno;
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

void reader_stop_polling(batch_sock *s) {
  if (s->js_owns) uv_poll_stop(&s->rpoll);
  s->js_owns = 0;
}
