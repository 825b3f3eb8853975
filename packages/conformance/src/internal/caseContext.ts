/**
 * The context a case's workload runs in (`ConformanceCase.Context`): its calls through the adapter, its
 * waits and simulator operations, each recorded — the answers by label, the marks, the timeline — for the
 * evidence the checks read. One per case run; the runner builds it once the adapter is ready.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Adapter from "../Adapter.js"
import type * as ConformanceCase from "../ConformanceCase.js"
import type * as Protocol from "../Protocol.js"
import type * as CaseSimulator from "./caseSimulator.js"
import * as Evidence from "./evidence.js"

/** What the workload recorded: the parts of the evidence that come from the context. */
export interface Recorded {
  readonly answers: ReadonlyMap<string, ReadonlyArray<ConformanceCase.Answer>>
  readonly marks: ReadonlyMap<string, number>
  readonly timeline: ReadonlyArray<ConformanceCase.Step>
}

export interface CaseContext extends Recorded {
  readonly context: ConformanceCase.Context
}

/** `HTTP 200 in 12 ms`, `error TransportError (socket hang up) in 3 ms`. */
export const answerText = (answer: ConformanceCase.Answer): string =>
  `${Evidence.describe(answer)}${
    answer.error !== undefined && answer.message !== undefined ? ` (${answer.message.slice(0, 160)})` : ""
  } in ${answer.elapsedMillis} ms`

const requestOf = (o: ConformanceCase.CallOptions = {}): Protocol.ApiRequest => ({
  method: o.method ?? "GET",
  path: o.path ?? "/advertisers/me"
})

const asAnswer = (outcome: Protocol.Outcome, sentAt: number, now: number): ConformanceCase.Answer => ({
  ...outcome,
  sentAt,
  elapsedMillis: now - sentAt
})

/**
 * The context of one case run: `startedAt` is when the workload starts (the timeline counts from it);
 * `hangIsFailure` turns a hung or crashed adapter into an answer instead of an error.
 */
export const make = (options: {
  readonly environment: ConformanceCase.Environment
  readonly session: Adapter.Session
  readonly caseSim: CaseSimulator.CaseSimulator
  readonly hangIsFailure: boolean
  readonly startedAt: number
}): CaseContext => {
  const { caseSim, environment, hangIsFailure, session, startedAt } = options
  const timeline: Array<ConformanceCase.Step> = []
  const answers = new Map<string, Array<ConformanceCase.Answer>>()
  const marks = new Map<string, number>()

  const step = (kind: ConformanceCase.Step["kind"], label: string, text: string, at?: number) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      timeline.push({ at: (at ?? now) - startedAt, kind, label, text })
    })

  const record = (label: string, all: ReadonlyArray<ConformanceCase.Answer>) => {
    answers.set(label, [...(answers.get(label) ?? []), ...all])
  }

  /** Sends a command; in cases that look for hangs and crashes, those become answers. */
  const perform = <A>(effect: Effect.Effect<A, Adapter.AdapterError>) =>
    Effect.gen(function*() {
      const sentAt = yield* Clock.currentTimeMillis
      const result = yield* Effect.either(effect)
      const now = yield* Clock.currentTimeMillis
      if (Either.isRight(result)) return { ok: result.right, sentAt, now }
      const error = result.left
      if (hangIsFailure && (error.reason === "Timeout" || error.reason === "Exited")) {
        const stalled: ConformanceCase.Answer = error.reason === "Timeout"
          ? { error: "Hung", sentAt, elapsedMillis: now - sentAt, hung: true }
          : { error: "Crashed", sentAt, elapsedMillis: now - sentAt, crashed: true }
        return { stalled, sentAt, now }
      }
      return yield* Effect.fail(error)
    })

  const context: ConformanceCase.Context = {
    ...environment,
    call: (label, o) =>
      Effect.gen(function*() {
        const request = requestOf(o)
        const result = yield* perform(session.call(request, o?.timeout ?? Duration.seconds(30)))
        const answer = "stalled" in result ? result.stalled : asAnswer(result.ok, result.sentAt, result.now)
        record(label, [answer])
        yield* step("call", label, `${request.method} ${request.path} → ${answerText(answer)}`, result.sentAt)
        return answer
      }),
    calls: (label, count, o) =>
      Effect.gen(function*() {
        const request = requestOf(o)
        const result = yield* perform(session.calls(count, request, o?.timeout ?? Duration.seconds(30)))
        const all = "stalled" in result
          ? [result.stalled]
          : result.ok.map((outcome) => asAnswer(outcome, result.sentAt, result.now))
        record(label, all)
        yield* step(
          "calls",
          label,
          `${count} × ${request.method} ${request.path} → ${Evidence.describeAll(all)} in ${
            result.now - result.sentAt
          } ms`,
          result.sentAt
        )
        return all
      }),
    wait: (duration, why) =>
      Effect.zipRight(
        step("wait", why, `wait ${Duration.format(Duration.decode(duration))}: ${why}`),
        Effect.sleep(duration)
      ),
    simulate: (label, description, effect) =>
      Effect.tap(effect, () =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          marks.set(label, now)
          return step("simulator", label, description)
        })),
    addStub: caseSim.addStub,
    setFault: caseSim.setFault,
    clearFaults: caseSim.clearFaults,
    expireTokens: caseSim.expireTokens,
    revokeConsent: caseSim.revokeConsent
  }

  return { context, answers, marks, timeline }
}
