import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * A virtual clock for simulations of many fibers over long periods (a day of 1,000 accounts). The
 * TestClock checks that every fiber of the test is suspended before each wake-up (two timer turns and
 * a scan of all fibers): right for small tests, minutes for the hundreds of thousands of wake-ups of a
 * simulated day. This clock wakes sleepers in instant order and lets the woken fibers run with a few
 * scheduler yields (the fake servers answer within microtasks), which is what such a simulation needs.
 * Use it with `it.live` and `Effect.withClock`.
 */
export const makeVirtualClock = (startMillis = 0) => {
  let now = startMillis
  let seq = 0
  interface Sleeper {
    readonly at: number
    readonly seq: number
    readonly wake: () => void
    cancelled: boolean
  }
  // a binary heap ordered by (at, seq)
  const heap: Array<Sleeper> = []
  const less = (a: Sleeper, b: Sleeper) => a.at < b.at || (a.at === b.at && a.seq < b.seq)
  const push = (s: Sleeper) => {
    heap.push(s)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!less(heap[i], heap[parent])) break
      ;[heap[i], heap[parent]] = [heap[parent], heap[i]]
      i = parent
    }
  }
  const pop = (): Sleeper | undefined => {
    const top = heap[0]
    const last = heap.pop()
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last
      let i = 0
      while (true) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && less(heap[l], heap[m])) m = l
        if (r < heap.length && less(heap[r], heap[m])) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m], heap[i]]
        i = m
      }
    }
    return top
  }

  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const sleeper: Sleeper = {
          at: now + Duration.toMillis(duration),
          seq: seq++,
          wake: () => resume(Effect.void),
          cancelled: false
        }
        push(sleeper)
        return Effect.sync(() => {
          sleeper.cancelled = true
        })
      })
  }

  /** Lets woken fibers run: scheduler yields, then a macrotask turn for promise-based bodies. */
  const flush = Effect.gen(function*() {
    for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
  })
  const macrotask = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

  /** Advances the time by `duration`, waking every sleeper due on the way, in order. */
  const adjust = (duration: Duration.DurationInput) =>
    Effect.gen(function*() {
      const end = now + Duration.toMillis(duration)
      while (true) {
        // let the fibers started or woken so far reach their next sleep before the time moves on
        yield* flush
        if (heap.length === 0 || heap[0].at > end) {
          yield* macrotask
          yield* flush
          if (heap.length === 0 || heap[0].at > end) break
        }
        const sleeper = pop()!
        if (sleeper.cancelled) continue
        now = Math.max(now, sleeper.at)
        sleeper.wake()
        // a woken fiber may wait on promises (a response body): let them settle before the time moves
        yield* macrotask
      }
      now = end
    })

  return { clock, adjust, pending: () => heap.filter((s) => !s.cancelled).length }
}
