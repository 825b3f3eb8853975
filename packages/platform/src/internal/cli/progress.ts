/**
 * What the tool is waiting for, told on stderr while it waits: an observer on the HTTP client records
 * each attempt (token request or API call), its answer and the wait the server asks for; a fiber shows
 * that state once the tool has been waiting for more than a second — a spinner line redrawn in place on
 * a terminal, plain lines otherwise (on each change, and every few seconds) — and a summary at the end
 * (attempts, total time).
 */
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type { Scrubber } from "./output.js"

/** @internal */
export type Kind = "token" | "api"

type State =
  | { readonly _tag: "Idle" }
  | {
    readonly _tag: "Attempt"
    readonly kind: Kind
    readonly target: string
    readonly number: number
    readonly since: number
    readonly timeoutMillis: number
  }
  | {
    readonly _tag: "Pause"
    readonly kind: Kind
    readonly target: string
    readonly reason: string
    readonly since: number
    readonly waitMillis: number | undefined
  }
  | { readonly _tag: "Body"; readonly target: string; readonly since: number; readonly timeoutMillis: number }

/** @internal */
export interface Limits {
  readonly tokenUrl: string
  readonly tokenTimeoutMillis: number
  readonly apiTimeoutMillis: number
  readonly tokenAttempts: number
  readonly apiAttempts: number
}

/**
 * The record of what the run is waiting for. One per run; the session's HTTP client reports to it.
 *
 * @internal
 */
export class Tracker {
  state: State = { _tag: "Idle" }
  changes = 0
  firstWaitAt: number | undefined = undefined
  readonly attempts: Record<Kind, number> = { token: 0, api: 0 }
  limits: Limits | undefined = undefined

  set(state: State): void {
    this.state = state
    this.changes++
    if (state._tag !== "Idle" && this.firstWaitAt === undefined) this.firstWaitAt = state.since
  }

  /** `2 token requests, 1 API call` */
  summary(): string {
    const parts: Array<string> = []
    const { api, token } = this.attempts
    if (token > 0) parts.push(`${token} token request${token === 1 ? "" : "s"}`)
    if (api > 0) parts.push(`${api} API call${api === 1 ? "" : "s"}`)
    return parts.join(", ")
  }
}

/** @internal */
export const TrackerTag = Context.GenericTag<Tracker>("@criteo-auth/platform/CriteoCli/Tracker")

const hostOf = (url: string) => (URL.canParse(url) ? new URL(url).host : url)

/** How long a 429 or 503 answer asks to wait, in milliseconds (core's parsing). */
const demandedWait = (response: HttpClientResponse.HttpClientResponse, now: number): number | undefined =>
  Option.getOrUndefined(
    Option.map(CriteoHttpClient.retryAfter(response.headers, DateTime.unsafeMake(now)), Duration.toMillis)
  )

/**
 * The HTTP client of the session, reporting each attempt and its outcome to `tracker`, and each bearer
 * token it sends to `hide` (the printer's scrubber).
 *
 * @internal
 */
export const observe = (
  client: HttpClient.HttpClient,
  tracker: Tracker,
  hide: (secret: string) => Effect.Effect<void>
): HttpClient.HttpClient =>
  HttpClient.transform(client, (effect, request) =>
    Effect.gen(function*() {
      // Every bearer token sent is scrubbed from all output from now on, whatever the answer echoes.
      const bearer = /^Bearer (.+)$/i.exec(request.headers["authorization"] ?? "")?.[1]
      if (bearer !== undefined) yield* hide(bearer)
      const limits = tracker.limits
      const kind: Kind = limits !== undefined && request.url === limits.tokenUrl ? "token" : "api"
      const target = kind === "token"
        ? `a token from ${hostOf(request.url)}`
        : `the API (${request.method} ${URL.canParse(request.url) ? new URL(request.url).pathname : request.url})`
      tracker.attempts[kind]++
      const since = yield* Clock.currentTimeMillis
      tracker.set({
        _tag: "Attempt",
        kind,
        target,
        number: tracker.attempts[kind],
        since,
        timeoutMillis: kind === "token" ? limits?.tokenTimeoutMillis ?? 0 : limits?.apiTimeoutMillis ?? 0
      })
      return yield* Effect.onExit(effect, (exit) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (Exit.isSuccess(exit)) {
            const response = exit.value
            if (response.status === 429 || response.status >= 500) {
              tracker.set({
                _tag: "Pause",
                kind,
                target,
                since: now,
                reason: `${hostOf(request.url)} answered ${response.status}${
                  response.status === 429 ? " (rate limited)" : ""
                }`,
                waitMillis: demandedWait(response, now)
              })
            } else if (kind === "api") {
              tracker.set({ _tag: "Body", target, since: now, timeoutMillis: limits?.apiTimeoutMillis ?? 0 })
            } else {
              tracker.set({ _tag: "Idle" })
            }
          } else {
            tracker.set({ _tag: "Pause", kind, target, since: now, reason: "no answer", waitMillis: undefined })
          }
        }))
    }))

const seconds = (millis: number) => `${Math.max(0, Math.round(millis / 1000))}s`

/** The sentence for the current state, or none when nothing is awaited. */
const describe = (tracker: Tracker, now: number): string | undefined => {
  const state = tracker.state
  const total = now - (tracker.firstWaitAt ?? now)
  const maxAttempts = (kind: Kind) =>
    kind === "token" ? tracker.limits?.tokenAttempts ?? 0 : tracker.limits?.apiAttempts ?? 0
  switch (state._tag) {
    case "Idle":
      return undefined
    case "Attempt": {
      const left = state.timeoutMillis - (now - state.since)
      return `waiting for ${state.target}, attempt ${state.number} of ${maxAttempts(state.kind)}: ` +
        `${seconds(now - state.since)} elapsed${state.timeoutMillis > 0 ? `, at most ${seconds(left)} left` : ""}` +
        (state.number > 1 ? ` (${seconds(total)} in all)` : "")
    }
    case "Pause": {
      const next = tracker.attempts[state.kind] + 1
      const retry = next > maxAttempts(state.kind)
        ? "no attempt left"
        : state.waitMillis === undefined
        ? `attempt ${next} shortly`
        : `attempt ${next} in ${seconds(state.waitMillis - (now - state.since))}`
      return `waiting for ${state.target}: ${state.reason}, ${retry} (${seconds(total)} in all)`
    }
    case "Body": {
      const left = state.timeoutMillis - (now - state.since)
      return `waiting for the rest of the answer of ${state.target}: ${seconds(now - state.since)} elapsed, ` +
        `at most ${seconds(left)} left`
    }
  }
}

/** @internal */
export interface Display {
  /** Standard error is a terminal: redraw one line in place, with a spinner. */
  readonly tty: boolean
  /** Writes to stderr as it is (the text is scrubbed first). */
  readonly write: (text: string) => void
}

/** @internal */
export const nodeDisplay = (): Display => ({
  tty: process.stderr.isTTY === true,
  write: (text) => {
    process.stderr.write(text)
  }
})

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** Shown once the tool has waited this long. */
const THRESHOLD_MILLIS = 1000
/** Without a terminal, a line at least this often while a state lasts. */
const PLAIN_EVERY_MILLIS = 5000

/**
 * Runs `effect` with the progress display; returns its exit and, when progress was shown, the summary
 * (`2 token requests, 1 API call in 12.4s`) for the final message.
 *
 * @internal
 */
export const around = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  tracker: Tracker,
  display: Display,
  scrubber: Scrubber
): Effect.Effect<readonly [Exit.Exit<A, E>, string | undefined], never, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    let shown = false
    let drawn = false
    let lastChanges = -1
    let lastPrint = 0
    let frame = 0
    const clear = () => {
      if (drawn) display.write("\r\u001b[K")
      drawn = false
    }
    const tick = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        if (tracker.firstWaitAt === undefined || now - tracker.firstWaitAt < THRESHOLD_MILLIS) return
        const line = describe(tracker, now)
        if (line === undefined) {
          clear()
          return
        }
        shown = true
        if (display.tty) {
          frame = (frame + 1) % FRAMES.length
          // A pseudo-terminal with no size (as under `script`) says 0 columns.
          const columns = process.stderr.columns ?? 0
          const width = columns > 0 ? Math.max(20, columns - 3) : 117
          const text = scrubber.scrub(line)
          display.write(`\r\u001b[K${FRAMES[frame]} ${text.length > width ? `${text.slice(0, width - 1)}…` : text}`)
          drawn = true
        } else if (tracker.changes !== lastChanges || now - lastPrint >= PLAIN_EVERY_MILLIS) {
          display.write(`${scrubber.scrub(`criteo-auth: ${line}`)}\n`)
          lastChanges = tracker.changes
          lastPrint = now
        }
      }))
    const loop = Effect.forever(Effect.zipRight(tick, Effect.sleep(Duration.millis(display.tty ? 100 : 250))))
    const fiber = yield* Effect.fork(loop)
    const exit = yield* Effect.exit(effect)
    yield* Fiber.interrupt(fiber)
    clear()
    const end = yield* Clock.currentTimeMillis
    const summary = shown ? `${tracker.summary()} in ${((end - start) / 1000).toFixed(1)}s` : undefined
    return [exit, summary] as const
  })
