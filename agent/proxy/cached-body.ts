// The body of a cache hit, handed to undici's cache interceptor without a node:stream.
// undici's MemoryCacheStore keeps a body as an array of Buffers; the interceptor wraps
// such an array in `Readable.from()` per hit (its own "TODO (perf)"), an async-iterator
// stream whose setup, ticks and garbage cost more CPU than the rest of a hit. The
// interceptor uses a body that looks like a stream (`pipe` and `on`) as it is, so the
// store wrapper in cache.ts hands it a CachedBody instead: the same chunks, emitted
// synchronously on the next tick with pause/resume (backpressure), destroy and the
// events the interceptor listens to ('data', 'end', 'close', 'error'). `values()` keeps
// the array path of undici's 304 replay (cache-handler.js) working. Caching decisions
// (RFC 9111) stay entirely undici's: only the way the stored bytes are read changes.
import { EventEmitter } from 'node:events';

function flowBody(body: CachedBody): void {
  body.flow();
}

export class CachedBody extends EventEmitter {
  destroyed = false;
  readableDidRead = false;
  readableEnded = false;
  errored: Error | null = null;
  private next = 0;
  private paused = false;
  private scheduled = false;

  constructor(private readonly chunks: readonly Uint8Array[]) {
    super();
  }

  /** The stored chunks (undici's 304 replay iterates them). */
  values(): IterableIterator<Uint8Array> {
    return this.chunks.values();
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    // Like a Readable: a 'data' listener starts the flow (on the next tick).
    if (event === 'data') this.schedule();
    return this;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    this.schedule();
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  destroy(err?: Error | null): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.errored = err ?? null;
    process.nextTick(() => {
      if (err && this.listenerCount('error') > 0) this.emit('error', err);
      this.emit('close');
    });
    return this;
  }

  /** Writes every chunk to `dest` and ends it (a Readable's pipe without backpressure: the chunks are in memory). */
  pipe<T extends NodeJS.WritableStream>(dest: T): T {
    for (const c of this.chunks) dest.write(c);
    dest.end();
    this.next = this.chunks.length;
    this.readableDidRead = true;
    this.readableEnded = true;
    return dest;
  }

  /** Emits chunks until paused or done; at the end 'end' then 'close'. */
  flow(): void {
    this.scheduled = false;
    if (this.destroyed || this.readableEnded) return;
    while (!this.paused && !this.destroyed && this.next < this.chunks.length) {
      this.readableDidRead = true;
      this.emit('data', this.chunks[this.next++]);
    }
    if (this.paused || this.destroyed || this.next < this.chunks.length) return;
    this.readableEnded = true;
    this.emit('end');
    this.destroyed = true;
    this.emit('close');
  }

  private schedule(): void {
    if (this.scheduled || this.destroyed) return;
    this.scheduled = true;
    process.nextTick(flowBody, this);
  }
}
