/**
 * An adapter subprocess, driven with the JSON-lines protocol (see `Protocol`): started with its scope,
 * stopped with it — asked to shut down, then its whole process group killed — whatever happens. Every
 * wait has a timeout, so a hung, silent or crashed adapter is an `AdapterError`, never a hung runner.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Protocol from "./Protocol.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@criteo-auth/conformance/AdapterError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The adapter did not do its part: it could not be started, never said it was ready, wrote a malformed
 * protocol message, did not answer in time, or exited before it was asked to.
 *
 * @since 0.1.0
 * @category errors
 */
export class AdapterError extends Schema.TaggedError<AdapterError>("@criteo-auth/conformance/AdapterError")(
  "AdapterError",
  {
    reason: Schema.Literal("Spawn", "NotReady", "Protocol", "Timeout", "Exited"),
    /** What happened, in a sentence. */
    detail: Schema.String,
    /** The last lines the adapter wrote on stderr. */
    stderr: Schema.optional(Schema.String)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `adapter ${this.reason}: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isAdapterError = (u: unknown): u is AdapterError => Predicate.hasProperty(u, TypeId)

/**
 * A line the client wrote, with the time it was read (epoch milliseconds).
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputLine {
  readonly at: number
  readonly stream: "stdout" | "stderr"
  readonly text: string
}

/**
 * How the adapter process ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exit {
  /** The exit code, or `undefined` when it was killed by a signal. */
  readonly code: number | undefined
  /** Whether the runner had to kill it. */
  readonly killed: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A shell command line, run with `/bin/sh -c`. */
  readonly command: string
  /** The working directory. */
  readonly cwd?: string | undefined
  /** The environment: exactly these variables (plus nothing inherited). */
  readonly env: Readonly<Record<string, string>>
  /** How long the adapter may take to print its `ready` line. Default 30 s. */
  readonly readyTimeout?: Duration.DurationInput | undefined
  /** How long the adapter may take to exit after `shutdown`. Default 5 s. */
  readonly shutdownGrace?: Duration.DurationInput | undefined
}

/**
 * A running adapter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  /** The name and version the adapter announced. */
  readonly name: string | undefined
  readonly version: string | undefined
  /**
   * The protocol version the adapter announced (`undefined`: it did not say).
   *
   * @since 0.2.0
   */
  readonly protocol: number | undefined
  /**
   * What the adapter claims it can do (everything, unless its `ready` line restricts it).
   *
   * @since 0.2.0
   */
  readonly capabilities: Protocol.Capabilities
  /** One call; fails with an `AdapterError` (reason `Timeout`) when no answer comes within `timeout`. */
  readonly call: (
    request: Protocol.ApiRequest,
    timeout: Duration.DurationInput
  ) => Effect.Effect<Protocol.Outcome, AdapterError>
  /** `count` concurrent calls, answered together. */
  readonly calls: (
    count: number,
    request: Protocol.ApiRequest,
    timeout: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<Protocol.Outcome>, AdapterError>
  /** Everything the client wrote that is not a protocol message, stdout and stderr, in order. */
  readonly output: Effect.Effect<ReadonlyArray<OutputLine>>
  /** Asks the adapter to exit, kills its process group if it does not within the grace period. */
  readonly shutdown: Effect.Effect<Exit>
  /** How it ended, once it has. */
  readonly exit: Effect.Effect<Option.Option<Exit>>
}

type Pending = Deferred.Deferred<Protocol.Message, AdapterError>

const maxOutputLines = 2_000

/**
 * The longest line read from an adapter, in characters: a longer line on stdout is a protocol violation,
 * on stderr it is cut. So a runaway adapter (a 400 MB line was seen) costs the runner 1 MiB per stream.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxLineLength = 1_048_576

/** How much of each line of the client's output is kept for the report and the leak checks. */
const keptLineLength = 16_384

interface ReadLine {
  /** The line, at most `maxLineLength` characters of it. */
  readonly text: string
  /** Its whole length: more than `text.length` when it was cut. */
  readonly length: number
  /**
   * The line has just gone over `maxLineLength` and has not ended (it may never): emitted once, so that
   * a reader can act at once; the whole line follows when it ends.
   */
  readonly overflowing: boolean
}

/** Splits a byte stream into lines (LF or CRLF), holding at most `maxLineLength` characters of a line. */
const lines = <E>(stream: Stream.Stream<Uint8Array, E>): Stream.Stream<ReadLine, E> =>
  Stream.suspend(() => {
    let buffer = ""
    let dropped = 0
    const finish = (): ReadLine => {
      const text = buffer.endsWith("\r") && dropped === 0 ? buffer.slice(0, -1) : buffer
      const line = { text, length: text.length + dropped, overflowing: false }
      buffer = ""
      dropped = 0
      return line
    }
    const append = (piece: string) => {
      const room = maxLineLength - buffer.length
      if (piece.length <= room) buffer += piece
      else {
        buffer += piece.slice(0, room)
        dropped += piece.length - room
      }
    }
    const split = (chunk: string): Array<ReadLine> => {
      const out: Array<ReadLine> = []
      let start = 0
      let newline = chunk.indexOf("\n", start)
      while (newline >= 0) {
        append(chunk.slice(start, newline))
        out.push(finish())
        start = newline + 1
        newline = chunk.indexOf("\n", start)
      }
      const wasDropping = dropped > 0
      append(chunk.slice(start))
      if (!wasDropping && dropped > 0) out.push({ text: buffer, length: buffer.length + dropped, overflowing: true })
      return out
    }
    return stream.pipe(
      Stream.decodeText(),
      Stream.mapConcat(split),
      Stream.concat(Stream.suspend(() => buffer.length > 0 || dropped > 0 ? Stream.make(finish()) : Stream.empty))
    )
  })

/** What is kept of a line of output: its first `keptLineLength` characters. */
const kept = (line: ReadLine) =>
  line.length <= keptLineLength
    ? line.text
    : `${line.text.slice(0, keptLineLength)}… (${line.length - keptLineLength} more characters)`

/**
 * Starts the adapter and waits for its `ready` line. The process (and every process it started) is
 * stopped when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  options: Options
): Effect.Effect<Session, AdapterError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const readyTimeout = Duration.decode(options.readyTimeout ?? Duration.seconds(30))
    const grace = Duration.decode(options.shutdownGrace ?? Duration.seconds(5))
    const command = Command.make("/bin/sh", "-c", options.command).pipe(
      Command.env(options.env, { extendEnv: false }),
      options.cwd === undefined ? (self) => self : Command.workingDirectory(options.cwd)
    )

    const output = yield* Ref.make<ReadonlyArray<OutputLine>>([])
    const pending = yield* Ref.make(new Map<string, Pending>())
    const ready = yield* Deferred.make<Protocol.Ready, AdapterError>()
    const exited = yield* Ref.make<Option.Option<Exit>>(Option.none())
    const killed = yield* Ref.make(false)
    const stalled = yield* Ref.make(false)
    const counter = yield* Ref.make(0)
    const stdin = yield* Queue.unbounded<string>()

    const stderrTail = Effect.map(
      Ref.get(output),
      (all) =>
        all.filter((line) => line.stream === "stderr").slice(-20).map((line) => line.text).join("\n").slice(-4000)
    )
    const fail = (reason: AdapterError["reason"], detail: string) =>
      Effect.flatMap(
        stderrTail,
        (stderr) => Effect.fail(new AdapterError({ reason, detail, ...(stderr.length > 0 ? { stderr } : {}) }))
      )

    const record = (stream: OutputLine["stream"], text: string) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (at) => Ref.update(output, (all) => all.length >= maxOutputLines ? all : [...all, { at, stream, text }])
      )

    /** Fails every waiting command and the ready wait with the same error. */
    const failAll = (error: AdapterError) =>
      Effect.gen(function*() {
        const waiting = yield* Ref.getAndSet(pending, new Map())
        yield* Effect.forEach(waiting.values(), (deferred) => Deferred.fail(deferred, error), { discard: true })
        yield* Deferred.fail(ready, error)
      })

    const violation = (detail: string) =>
      Effect.gen(function*() {
        yield* Ref.set(stalled, true)
        const error = yield* Effect.flip(fail("Protocol", detail))
        return yield* failAll(error)
      })

    const onLine = (read: ReadLine) =>
      Effect.gen(function*() {
        const text = kept(read)
        if (read.length > maxLineLength) {
          // Reported once, as soon as the line goes over the limit (it may never end).
          if (!read.overflowing) return
          yield* record("stdout", text)
          return yield* violation(`a line longer than ${maxLineLength} characters on stdout (the protocol's limit)`)
        }
        const ids = new Set((yield* Ref.get(pending)).keys())
        const line = Protocol.parseLine(read.text, ids)
        switch (line._tag) {
          case "Output":
            return yield* record("stdout", text)
          case "Invalid": {
            yield* record("stdout", text)
            return yield* violation(`malformed protocol message ${line.problem}`)
          }
          case "Message": {
            const message = line.message
            if (message.type === "ready") return yield* Deferred.succeed(ready, message)
            const deferred = (yield* Ref.get(pending)).get(message.id)
            if (deferred === undefined) {
              yield* Ref.set(stalled, true)
              const error = yield* Effect.flip(
                fail("Protocol", `an answer to the unknown or already answered command "${message.id}"`)
              )
              return yield* failAll(error)
            }
            yield* Ref.update(pending, (map) => {
              const next = new Map(map)
              next.delete(message.id)
              return next
            })
            return yield* Deferred.succeed(deferred, message)
          }
        }
      })

    const process = yield* Command.start(command).pipe(
      Effect.catchAll((error) =>
        Effect.fail(new AdapterError({ reason: "Spawn", detail: `cannot start ${options.command}: ${error.message}` }))
      )
    )

    // A reader that dies (whatever the reason) must not look like a silent adapter: it is reported.
    const stdoutFiber = yield* lines(process.stdout).pipe(
      Stream.runForEach(onLine),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : violation(`its stdout could not be read: ${Cause.squash(cause)}`.slice(0, 500))
      ),
      Effect.forkScoped
    )
    yield* lines(process.stderr).pipe(
      Stream.runForEach((line) => line.overflowing ? Effect.void : record("stderr", kept(line))),
      Effect.ignore,
      Effect.forkScoped
    )
    yield* Stream.fromQueue(stdin).pipe(
      Stream.map((line) => new TextEncoder().encode(`${line}\n`)),
      Stream.run(process.stdin),
      Effect.ignore,
      Effect.forkScoped
    )

    // When the process ends: read what it wrote last, then fail whatever still waits for an answer.
    yield* process.exitCode.pipe(
      Effect.map((code): number | undefined => code),
      Effect.orElseSucceed(() => undefined),
      Effect.tap(() =>
        Fiber.await(stdoutFiber).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(1)), Effect.ignore)
      ),
      Effect.flatMap((code) =>
        Effect.gen(function*() {
          const wasKilled = yield* Ref.get(killed)
          yield* Ref.set(exited, Option.some({ code, killed: wasKilled }))
          const error = yield* Effect.flip(
            fail("Exited", `the adapter exited (${code === undefined ? "killed by a signal" : `code ${code}`})`)
          )
          yield* failAll(error)
        })
      ),
      Effect.forkScoped
    )

    // These waits also run in the scope's finalizer, which is uninterruptible: each waited effect is made
    // interruptible, or its timeout could not cut it short.
    const killGroup = Effect.gen(function*() {
      yield* Ref.set(killed, true)
      yield* process.kill("SIGKILL").pipe(Effect.interruptible, Effect.timeout(Duration.seconds(2)), Effect.ignore)
    })

    const waitExit = (timeout: Duration.Duration) =>
      process.exitCode.pipe(
        Effect.ignore,
        Effect.interruptible,
        Effect.timeout(timeout),
        Effect.option,
        Effect.map(Option.isSome)
      )

    const shutdown = Effect.gen(function*() {
      const already = yield* Ref.get(exited)
      if (Option.isNone(already)) {
        yield* Queue.offer(stdin, Protocol.encodeCommand({ type: "shutdown" }))
        yield* Queue.shutdown(stdin)
        // An adapter that already let a command time out, or broke the protocol, gets no grace period.
        if ((yield* Ref.get(stalled)) || !(yield* waitExit(grace))) yield* killGroup
      }
      // Whatever the adapter started in the background goes with it.
      yield* process.kill("SIGKILL").pipe(Effect.interruptible, Effect.timeout(Duration.seconds(2)), Effect.ignore)
      yield* waitExit(Duration.seconds(2))
      return Option.getOrElse(yield* Ref.get(exited), (): Exit => ({ code: undefined, killed: true }))
    })

    yield* Effect.addFinalizer(() => Effect.asVoid(shutdown))

    const announced = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: readyTimeout,
        onTimeout: () => new AdapterError({ reason: "NotReady", detail: "" })
      }),
      Effect.catchIf(
        (error) => error.reason === "NotReady",
        () =>
          Effect.zipRight(
            Ref.set(stalled, true),
            fail("NotReady", `no {"type":"ready"} line within ${Duration.format(readyTimeout)}`)
          )
      )
    )

    const send = <A>(
      build: (id: string) => Protocol.Command,
      timeout: Duration.DurationInput,
      answer: (message: Protocol.Message) => Effect.Effect<A, AdapterError>
    ) =>
      Effect.gen(function*() {
        const id = String(yield* Ref.updateAndGet(counter, (n) => n + 1))
        const deferred = yield* Deferred.make<Protocol.Message, AdapterError>()
        if (Option.isSome(yield* Ref.get(exited))) return yield* fail("Exited", "the adapter has exited")
        yield* Ref.update(pending, (map) => new Map(map).set(id, deferred))
        yield* Queue.offer(stdin, Protocol.encodeCommand(build(id)))
        const duration = Duration.decode(timeout)
        const message = yield* Deferred.await(deferred).pipe(
          Effect.timeout(duration),
          Effect.catchTag(
            "TimeoutException",
            () =>
              Effect.zipRight(
                Ref.set(stalled, true),
                fail("Timeout", `no answer to command ${id} within ${Duration.format(duration)}`)
              )
          )
        )
        return yield* answer(message)
      })

    const call = (request: Protocol.ApiRequest, timeout: Duration.DurationInput) =>
      send(
        (id) => ({ id, type: "call", method: request.method, path: request.path, body: request.body ?? null }),
        timeout,
        (message) =>
          message.type === "result"
            ? Effect.succeed(outcomeOf(message))
            : fail("Protocol", `a "${message.type}" answer to a "call" command`)
      )

    const calls = (count: number, request: Protocol.ApiRequest, timeout: Duration.DurationInput) =>
      send(
        (id) => ({ id, type: "calls", count, method: request.method, path: request.path }),
        timeout,
        (message) =>
          message.type !== "results"
            ? fail("Protocol", `a "${message.type}" answer to a "calls" command`)
            : message.results.length !== count
            ? fail("Protocol", `${message.results.length} results for ${count} calls`)
            : Effect.succeed(message.results)
      )

    return {
      name: announced.name,
      version: announced.version,
      protocol: announced.protocol,
      capabilities: Protocol.capabilitiesOf(announced),
      call,
      calls,
      output: Ref.get(output),
      shutdown,
      exit: Ref.get(exited)
    } satisfies Session
  })

const outcomeOf = (message: typeof Protocol.Result.Type): Protocol.Outcome => {
  const { id: _id, type: _type, ...outcome } = message
  return outcome
}
