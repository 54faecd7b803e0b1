/*
 * The batch engine's socket and the per-batch steps both of its read modes share (batch.c):
 *   poll mode   (poll.c):   libuv polls the non-blocking socket; on readable, up to 8
 *               recvmmsg batches are read on the JS thread.
 *   reader mode (reader.c): a thread of ours blocks in recvmmsg(MSG_WAITFORONE) and answers
 *               packet-cache hits itself (gdnsd's loop, no epoll); a batch with a miss gives
 *               the socket to the JS thread until the hits are back.
 * socket.c binds the socket; udp_batch.c is the N-API side. The buffers are shared with JS
 * (see udp_batch.c for their layout).
 */
#ifndef VANTAGE_UDP_BATCH_H
#define VANTAGE_UDP_BATCH_H
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <node_api.h>
#include <uv.h>
#include "packet_cache.h"

#define BATCH 64
#define IN_SLOT 65536
#define OUT_SLOT 4096
#define META_WORDS 10

typedef struct batch_sock {
  napi_env env;
  union {
    uv_poll_t poll;   /* poll mode */
    uv_async_t async; /* reader mode: the reader's wake-up of the JS thread */
    uv_handle_t handle;
  } h;
  int fd;
  int closed;        /* close() called: no more I/O, refs released */
  int handles_open;  /* initialised and not closed yet: 1 (poll mode), 2 (reader mode: async + rpoll) */
  int finalized;     /* JS external collected */
  napi_ref on_batch; /* (count, changed) => void: fills out/meta */
  napi_ref on_error; /* (failed, code) => void: sends that failed */
  napi_ref in_ref, out_ref, meta_ref, hits_ref;
  packet_cache *pc;  /* NULL: no cache */
  uint32_t *hits;    /* per stats tag, only ever incremented here (JS keeps what it saw) */
  uint32_t ntags;
  uint32_t epoch;    /* batch_epoch() when the cache was last emptied for it */
  int epoch_news;    /* emptied for a new epoch since JS last got a batch: onBatch's 2nd argument */
  uint64_t hash[BATCH];
  uint8_t keyable[BATCH];
  napi_async_context async_ctx;
  uint8_t *in, *out;
  uint32_t *meta;
  /* Reader mode. `mu` guards the cache (the reader looks up and inserts, JS clears) and
   * the hand-off fields below; `cv` signals js_done and closing to the reader. */
  int threaded;
  int reader_started;
  pthread_t reader;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int closing;       /* atomic: the reader must stop */
  unsigned pending;  /* datagrams of the batch handed to JS (0: none) */
  uint32_t handoff_gen; /* the cache generation when it was handed over */
  int js_done;       /* JS answered `pending` and gave the socket back */
  uv_poll_t rpoll;   /* polls the socket while JS owns it (a run of misses) */
  int js_owns;       /* JS reads the socket (rpoll started); the reader waits for js_done */
  unsigned js_hit_batches; /* consecutive all-hit batches JS read: hand back at HAND_BACK */
  uint32_t send_failed;
  int send_errno;
  struct sockaddr_storage addrs[BATCH];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  struct iovec oiov[BATCH];
  struct mmsghdr omsgs[BATCH];
} batch_sock;

/* batch.c */
void batch_prepare_recv(batch_sock *s);
/* Process-wide: a bump empties every socket's cache before its next batch, from any thread
 * (the DNS workers' main thread, at each change it ships to them). */
void batch_epoch_bump(void);
uint32_t batch_epoch(void);
/* Fills meta for `count` datagrams and answers packet-cache hits; returns the misses. */
unsigned batch_classify(batch_sock *s, unsigned count);
/* Caches the responses JS marked cacheable, unless the cache was emptied since `gen`. */
void batch_insert(batch_sock *s, unsigned count, uint32_t gen);
/* Sends the responses in out/meta; returns how many could not be sent. */
int batch_send(batch_sock *s, unsigned count, int *last_errno);
void batch_call_js(batch_sock *s, napi_ref fn_ref, size_t argc, napi_value *argv);
/* onBatch(count, changed): `changed` when another thread emptied the caches (cacheClearAll)
 * since JS's last batch, so JS first applies the changes queued for it. */
void batch_call_on_batch(batch_sock *s, unsigned count);
void batch_report_send_error(batch_sock *s, int failed, int err);

/* socket.c: a bound non-blocking UDP socket, or -errno (*failed_call: the call that failed). */
int socket_open(const char *host, uint32_t port, uint32_t family, int reuse_port, uint32_t spread, const char **failed_call);

/* poll.c: the uv_poll callback of poll mode. */
void poll_on_readable(uv_poll_t *h, int status, int events);

/* reader.c */
/* 0, or an errno; *inited: the uv handle was initialised (close it with uv_close). */
int reader_start(batch_sock *s, uv_loop_t *loop, int *inited);
void reader_stop(batch_sock *s);
/* Stops polling the socket on the JS thread (after reader_stop, before the fd is closed). */
void reader_stop_polling(batch_sock *s);

#endif
