/*
 * Batched UDP for the selector's DNS server: one socket, recvmmsg/sendmmsg(2), one JS
 * call per batch of up to BATCH datagrams (Node 20's dgram makes one syscall and a few
 * JS objects per datagram). Linux only; the JS side falls back to dgram without it.
 *
 * Memory shared with JS (allocated by JS, kept alive here by references):
 *   in   BATCH * IN_SLOT bytes   datagram i at i * IN_SLOT
 *   out  BATCH * OUT_SLOT bytes  response i at i * OUT_SLOT
 *   meta BATCH * 10 uint32       [0] in length, [1] out length (0 = no reply),
 *                                [2] source port, [3] family (4|6), [4..7] address bytes,
 *                                [8] 1 = answered from the packet cache (JS skips it),
 *                                [9] JS: stats tag + 1 to cache this response, 0 = do not
 *   hits (optional) uint32 per stats tag: cache hits, only ever growing (JS counts the difference)
 * JS-provided out lengths are clamped: anything above OUT_SLOT is not sent.
 *
 * Packet cache (packet_cache.h, PowerDNS's technique): a query whose bytes after the
 * ID and whose source address equal a cached one is answered here, in the recvmmsg
 * loop, with the cached response and the new ID; a batch of hits never calls into JS.
 * hits[tag] only ever grows (atomically: sockets share it); JS counts the difference.
 *
 * Two read modes (udp_batch.h): poll mode (libuv polls the socket, batches are read on the
 * JS thread) and reader mode (open's `reader` argument: a thread of ours reads, reader.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "udp_batch.h"

static void maybe_free(batch_sock *s) {
  if (s->handles_open == 0 && s->finalized) {
    pc_free(s->pc);
    if (s->threaded) {
      pthread_mutex_destroy(&s->mu);
      pthread_cond_destroy(&s->cv);
    }
    free(s);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  batch_sock *s = (batch_sock *)h->data;
  s->handles_open--;
  maybe_free(s);
}

static void release_refs(batch_sock *s) {
  napi_ref *refs[] = {&s->on_batch, &s->on_error, &s->in_ref, &s->out_ref, &s->meta_ref, &s->hits_ref};
  for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
    if (*refs[i]) napi_delete_reference(s->env, *refs[i]);
    *refs[i] = NULL;
  }
  if (s->async_ctx) napi_async_destroy(s->env, s->async_ctx);
  s->async_ctx = NULL;
}

static void on_env_cleanup(void *arg);
static void close_sock(batch_sock *s, int from_hook);
static void do_close(batch_sock *s) { close_sock(s, 0); }

/* Stops polling before the fd is closed (libuv forbids closing a polled fd). */
static void close_sock(batch_sock *s, int from_hook) {
  if (s->closed) return;
  s->closed = 1;
  if (!from_hook) napi_remove_env_cleanup_hook(s->env, on_env_cleanup, s);
  if (s->threaded) { /* joined, not polled: nothing reads the socket or the cache now */
    reader_stop(s);
    reader_stop_polling(s);
  }
  else uv_poll_stop(&s->h.poll);
  close(s->fd);
  s->fd = -1;
  release_refs(s);
  s->hits = NULL;
  /* No datagram is read after this: the cache goes now (also when `s` itself is left). */
  pc_free(s->pc);
  s->pc = NULL;
  /* From the env cleanup hook (worker thread or process ending), this module may be
   * unloaded before the loop runs close callbacks: no callback then, and `s` is left
   * allocated (a few KiB per socket, once per ending thread). */
  uv_close(&s->h.handle, from_hook ? NULL : on_handle_closed);
  if (s->handles_open == 2) uv_close((uv_handle_t *)&s->rpoll, from_hook ? NULL : on_handle_closed);
}

/* The environment is torn down (process exit, or a worker thread terminated while the
 * socket is open): close it now, while the loop still runs close callbacks; a finalizer
 * running later must not touch the loop or the references. */
static void on_env_cleanup(void *arg) {
  close_sock((batch_sock *)arg, 1);
}

static void finalize_sock(napi_env env, void *data, void *hint) {
  batch_sock *s = (batch_sock *)data;
  do_close(s);
  s->finalized = 1;
  maybe_free(s);
}

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  napi_value code, msg, error;
  const char *name = uv_err_name(uv_translate_sys_error(err));
  char text[256];
  snprintf(text, sizeof(text), "%s %s: %s", syscall, name, strerror(err));
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_value sc;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static int get_buffer(napi_env env, napi_value v, size_t want, void **data) {
  size_t len = 0;
  bool ok = false;
  napi_is_buffer(env, v, &ok);
  if (!ok || napi_get_buffer_info(env, v, data, &len) != napi_ok || len < want) return 0;
  return 1;
}

/* open(host, port, family, in, out, meta, onBatch, onError[, reusePort[, hits[, reader]]]) → handle
 * reusePort: SO_REUSEPORT before bind, so several threads' sockets share one address and
 * the kernel spreads datagrams over them (each socket has its own queue): true = by 4-tuple
 * hash; a number N > 1 = the group's size, each datagram to a random one (below).
 * hits: a Buffer of uint32 hit counters, one per stats tag: turns the packet cache on.
 * reader: read on a thread of ours (reader.c) instead of polling on the JS thread. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 8) { napi_throw_type_error(env, NULL, "open: 8 arguments expected"); return NULL; }
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof(host), &host_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "open: host must be a string"); return NULL;
  }
  uint32_t port = 0, family = 0;
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535 ||
      napi_get_value_uint32(env, argv[2], &family) != napi_ok || (family != 4 && family != 6)) {
    napi_throw_type_error(env, NULL, "open: bad port or family"); return NULL;
  }
  void *in = NULL, *out = NULL, *meta = NULL;
  if (!get_buffer(env, argv[3], (size_t)BATCH * IN_SLOT, &in) || !get_buffer(env, argv[4], (size_t)BATCH * OUT_SLOT, &out) ||
      !get_buffer(env, argv[5], (size_t)BATCH * META_WORDS * 4, &meta) || ((uintptr_t)meta % 4) != 0) {
    napi_throw_type_error(env, NULL, "open: buffers too small or misaligned"); return NULL;
  }
  napi_valuetype t1, t2;
  napi_typeof(env, argv[6], &t1);
  napi_typeof(env, argv[7], &t2);
  if (t1 != napi_function || t2 != napi_function) { napi_throw_type_error(env, NULL, "open: callbacks expected"); return NULL; }
  bool reuse_port = false;
  uint32_t spread = 0;
  if (argc >= 9) {
    napi_valuetype t3;
    napi_typeof(env, argv[8], &t3);
    if (t3 == napi_number) {
      if (napi_get_value_uint32(env, argv[8], &spread) != napi_ok || spread > 1024) {
        napi_throw_type_error(env, NULL, "open: reusePort must be a boolean or a group size"); return NULL;
      }
      reuse_port = spread > 0;
    } else if (t3 != napi_undefined && napi_get_value_bool(env, argv[8], &reuse_port) != napi_ok) {
      napi_throw_type_error(env, NULL, "open: reusePort must be a boolean or a group size"); return NULL;
    }
  }
  void *hits = NULL;
  size_t hits_len = 0;
  if (argc >= 10) {
    napi_valuetype t4;
    napi_typeof(env, argv[9], &t4);
    bool is_buf = false;
    if (t4 != napi_undefined) {
      napi_is_buffer(env, argv[9], &is_buf);
      if (!is_buf || napi_get_buffer_info(env, argv[9], &hits, &hits_len) != napi_ok || hits_len < 4 || ((uintptr_t)hits % 4) != 0) {
        napi_throw_type_error(env, NULL, "open: hits must be an aligned Buffer of uint32"); return NULL;
      }
    }
  }
  bool use_reader = false;
  if (argc >= 11) {
    napi_valuetype t5;
    napi_typeof(env, argv[10], &t5);
    if (t5 != napi_undefined && napi_get_value_bool(env, argv[10], &use_reader) != napi_ok) {
      napi_throw_type_error(env, NULL, "open: reader must be a boolean"); return NULL;
    }
  }

  const char *failed_call = NULL;
  int fd = socket_open(host, port, family, reuse_port, spread, &failed_call);
  if (fd == -EAFNOSUPPORT - 1000) {
    napi_throw_type_error(env, NULL, family == 4 ? "open: bad IPv4 address" : "open: bad IPv6 address"); return NULL;
  }
  if (fd < 0) return throw_errno(env, failed_call, -fd);

  batch_sock *s = calloc(1, sizeof(batch_sock));
  if (!s) { close(fd); napi_throw_error(env, NULL, "open: out of memory"); return NULL; }
  s->env = env;
  s->fd = fd;
  s->in = in;
  s->out = out;
  s->meta = meta;
  if (hits) {
    s->pc = pc_new(PC_ENTRIES);
    if (!s->pc) { close(fd); free(s); napi_throw_error(env, NULL, "open: out of memory"); return NULL; }
    s->hits = hits;
    s->ntags = (uint32_t)(hits_len / 4);
    s->epoch = batch_epoch();
    napi_create_reference(env, argv[9], 1, &s->hits_ref);
  }
  napi_create_reference(env, argv[3], 1, &s->in_ref);
  napi_create_reference(env, argv[4], 1, &s->out_ref);
  napi_create_reference(env, argv[5], 1, &s->meta_ref);
  napi_create_reference(env, argv[6], 1, &s->on_batch);
  napi_create_reference(env, argv[7], 1, &s->on_error);
  napi_value res_name;
  napi_create_string_utf8(env, "vantage:udp-batch", NAPI_AUTO_LENGTH, &res_name);
  napi_async_init(env, NULL, res_name, &s->async_ctx);

  uv_loop_t *loop = NULL;
  int e = 0, inited = 0;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok) {
    if (use_reader) e = reader_start(s, loop, &inited);
    else if ((e = uv_poll_init(loop, &s->h.poll, fd)) == 0) {
      inited = 1;
      s->handles_open = 1;
      s->h.handle.data = s;
      e = uv_poll_start(&s->h.poll, UV_READABLE, poll_on_readable);
    }
  }
  if (!inited) {
    release_refs(s); close(fd); pc_free(s->pc); free(s);
    napi_throw_error(env, NULL, use_reader ? "open: the reader thread could not be set up" : "open: uv_poll_init failed"); return NULL;
  }
  if (e != 0) {
    s->finalized = 1; /* no external yet: free when the handle is closed */
    do_close(s);
    napi_throw_error(env, NULL, use_reader ? "open: the reader thread could not be started" : "open: uv_poll_start failed"); return NULL;
  }
  napi_add_env_cleanup_hook(env, on_env_cleanup, s);
  napi_value ext;
  napi_create_external(env, s, finalize_sock, NULL, &ext);
  return ext;
}

static batch_sock *unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *p = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], &p) != napi_ok) {
    napi_throw_type_error(env, NULL, "handle expected");
    return NULL;
  }
  return (batch_sock *)p;
}

static napi_value js_port(napi_env env, napi_callback_info info) {
  batch_sock *s = unwrap(env, info);
  if (!s) return NULL;
  if (s->closed) return throw_errno(env, "getsockname", EBADF);
  struct sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  if (getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0) return throw_errno(env, "getsockname", errno);
  uint32_t port = sa.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&sa)->sin_port) : ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
  napi_value v;
  napi_create_uint32(env, port, &v);
  return v;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  batch_sock *s = unwrap(env, info);
  if (!s) return NULL;
  do_close(s);
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* cacheClear(handle): empties the packet cache (O(1): a new generation). In reader mode
 * it waits for the batch the reader is answering: no hit from before the clear is sent
 * after it returns. */
static napi_value js_cache_clear(napi_env env, napi_callback_info info) {
  batch_sock *s = unwrap(env, info);
  if (!s) return NULL;
  if (s->pc && s->threaded) {
    pthread_mutex_lock(&s->mu);
    pc_clear(s->pc);
    pthread_mutex_unlock(&s->mu);
  } else if (s->pc) {
    pc_clear(s->pc);
  }
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* cacheClearAll(): every socket of the process (any thread) empties its packet cache before
 * its next batch, and that batch's onBatch gets changed = true. The DNS workers' main thread
 * calls it after posting a change: a query sent after that misses, and the worker pulls the
 * change message before answering it (worker-entry.ts). */
static napi_value js_cache_clear_all(napi_env env, napi_callback_info info) {
  batch_epoch_bump();
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value add_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
  return fn;
}

NAPI_MODULE_INIT() {
  add_fn(env, exports, "open", js_open);
  add_fn(env, exports, "port", js_port);
  add_fn(env, exports, "close", js_close);
  add_fn(env, exports, "cacheClear", js_cache_clear);
  add_fn(env, exports, "cacheClearAll", js_cache_clear_all);
  napi_value v;
  napi_create_uint32(env, BATCH, &v); napi_set_named_property(env, exports, "BATCH", v);
  napi_create_uint32(env, IN_SLOT, &v); napi_set_named_property(env, exports, "IN_SLOT", v);
  napi_create_uint32(env, OUT_SLOT, &v); napi_set_named_property(env, exports, "OUT_SLOT", v);
  napi_create_uint32(env, META_WORDS, &v); napi_set_named_property(env, exports, "META_WORDS", v);
  napi_create_uint32(env, PC_ENTRIES, &v); napi_set_named_property(env, exports, "CACHE_ENTRIES", v);
  napi_create_uint32(env, PC_RESP_MAX, &v); napi_set_named_property(env, exports, "CACHE_MAX_RESPONSE", v);
  return exports;
}
