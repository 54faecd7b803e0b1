/*
 * The batch engine's packet cache: fixed size, direct-mapped (a new entry replaces the
 * one in its slot), one generation number to empty it in O(1).
 *
 * Key: the source address (family + bytes) and the query after its 2-byte ID — flags,
 * question in its exact case, EDNS OPT with UDP size and ECS: everything the answer can
 * depend on besides the answer table and mapper, whose changes clear the cache.
 * Value: the response bytes the JS path wrote, and the stats tag JS gave it.
 * Memory: PC_ENTRIES * (24 + PC_DATA) bytes (about 12.3 MiB) + 64 KiB, calloc'd at open,
 * so data pages are only touched as entries are used.
 */
#ifndef VANTAGE_PACKET_CACHE_H
#define VANTAGE_PACKET_CACHE_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PC_ENTRIES 8192 /* a power of two */
#define PC_KEY_MAX 320  /* family byte + address + query after the ID */
#define PC_RESP_MAX 1232
#define PC_DATA (PC_KEY_MAX + PC_RESP_MAX)
#define PC_DOOR 16384   /* doorkeeper fingerprints (a power of two) */

/* The index (24 bytes a slot, 192 KiB: stays in cache); key and response bytes are apart,
 * contiguous (key then response), touched only on a hash match or an insert. */
typedef struct {
  uint64_t hash;
  uint32_t gen; /* 0 = empty */
  uint32_t tag;
  uint16_t klen, rlen;
} pc_slot;

typedef struct {
  uint32_t gen;
  uint32_t mask;
  pc_slot *slots;
  uint8_t *data;
  /* Doorkeeper (TinyLFU's): a query is cached on its second sighting, so one-off queries
   * cost a 4-byte write here instead of an entry, and never evict a repeated one. */
  uint32_t door[PC_DOOR];
} packet_cache;

static inline packet_cache *pc_new(uint32_t n) {
  packet_cache *c = calloc(1, sizeof(packet_cache));
  if (!c) return NULL;
  c->slots = calloc(n, sizeof(pc_slot));
  c->data = calloc(n, PC_DATA);
  if (!c->slots || !c->data) { free(c->slots); free(c->data); free(c); return NULL; }
  c->gen = 1;
  c->mask = n - 1;
  return c;
}

static inline void pc_free(packet_cache *c) {
  if (!c) return;
  free(c->slots);
  free(c->data);
  free(c);
}

/* Entries of older generations are never matched; on wrap-around every slot is wiped. */
static inline void pc_clear(packet_cache *c) {
  if (++c->gen == 0) {
    memset(c->slots, 0, (size_t)(c->mask + 1) * sizeof(pc_slot));
    c->gen = 1;
  }
}

static inline uint32_t pc_addr_len(uint8_t fam) { return fam == 4 ? 4 : 16; }

/* Whether a query of `len` bytes from `fam` fits a key. */
static inline int pc_keyable(uint8_t fam, uint32_t len) {
  return len >= 12 && 1 + pc_addr_len(fam) + (len - 2) <= PC_KEY_MAX;
}

static inline uint64_t pc_mix(uint64_t h, uint64_t v) {
  h ^= v;
  h *= 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

static inline uint64_t pc_hash_bytes(uint64_t h, const uint8_t *p, uint32_t n) {
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = pc_mix(h, v);
    p += 8;
    n -= 8;
  }
  uint64_t v = 0;
  memcpy(&v, p, n);
  return pc_mix(h, v ^ ((uint64_t)n << 56));
}

static inline uint64_t pc_hash(uint8_t fam, const uint8_t *addr, const uint8_t *q, uint32_t len) {
  uint64_t h = pc_hash_bytes(0x51ed270b27c8a3b5ULL ^ fam, addr, pc_addr_len(fam));
  return pc_hash_bytes(h, q + 2, len - 2);
}

static inline uint32_t pc_index(const packet_cache *c, uint64_t hash) {
  return (uint32_t)((hash ^ (hash >> 32)) & c->mask);
}

/* The cached response for this key (its bytes in *resp), or NULL. */
static inline const pc_slot *pc_find(packet_cache *c, uint64_t hash, uint8_t fam, const uint8_t *addr, const uint8_t *q, uint32_t len,
                                     const uint8_t **resp) {
  uint32_t i = pc_index(c, hash);
  const pc_slot *e = &c->slots[i];
  uint32_t alen = pc_addr_len(fam);
  if (e->gen != c->gen || e->hash != hash || e->klen != 1 + alen + (len - 2)) return NULL;
  const uint8_t *d = c->data + (size_t)i * PC_DATA;
  if (d[0] != fam || memcmp(d + 1, addr, alen) != 0 || memcmp(d + 1 + alen, q + 2, len - 2) != 0) return NULL;
  *resp = d + e->klen;
  return e;
}

/* Caches a response on the key's second sighting (doorkeeper); replaces the slot's entry. */
static inline void pc_insert(packet_cache *c, uint64_t hash, uint8_t fam, const uint8_t *addr, const uint8_t *q, uint32_t len,
                             const uint8_t *resp, uint32_t rlen, uint32_t tag) {
  if (!pc_keyable(fam, len) || rlen > PC_RESP_MAX || rlen < 12) return;
  uint32_t fp = (uint32_t)(hash >> 32) | 1u;
  uint32_t *door = &c->door[(hash >> 13) & (PC_DOOR - 1)];
  if (*door != fp) {
    *door = fp;
    return;
  }
  uint32_t i = pc_index(c, hash);
  pc_slot *e = &c->slots[i];
  uint8_t *d = c->data + (size_t)i * PC_DATA;
  uint32_t alen = pc_addr_len(fam);
  uint32_t klen = 1 + alen + (len - 2);
  d[0] = fam;
  memcpy(d + 1, addr, alen);
  memcpy(d + 1 + alen, q + 2, len - 2);
  memcpy(d + klen, resp, rlen);
  e->hash = hash;
  e->tag = tag;
  e->klen = (uint16_t)klen;
  e->rlen = (uint16_t)rlen;
  e->gen = c->gen;
}

#endif
