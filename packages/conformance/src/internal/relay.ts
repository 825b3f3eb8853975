/**
 * A TCP relay in front of the simulator, one per case: the adapter of a case talks to its own port, so
 * every request it sends carries that port in its `Host` header. The journal entries of a case are
 * found by that port, and its stubs match it: cases run side by side on one simulator without seeing
 * each other. Bytes are relayed as they are (WireMock's network faults included); a reset upstream is a
 * reset downstream.
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Net from "node:net"

export interface Relay {
  /** The port the relay listens on, on 127.0.0.1. */
  readonly port: number
}

/**
 * Ports this process gave to a relay already. A port is never used twice: the simulator may log a
 * request of a case after that case ended (an answer delayed 30 s), and the next user of the port
 * would see it as its own.
 */
const used = new Set<number>()

const listen = (target: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket>; readonly port: number }, Error>(
      (resume) => {
        const sockets = new Set<Net.Socket>()
        const server = Net.createServer((client) => {
          const upstream = Net.connect({ host: target.host, port: target.port })
          sockets.add(client)
          sockets.add(upstream)
          client.setNoDelay(true)
          upstream.setNoDelay(true)
          client.pipe(upstream)
          upstream.pipe(client)
          const forget = () => {
            sockets.delete(client)
            sockets.delete(upstream)
          }
          upstream.on("error", () => {
            if (!client.destroyed) client.resetAndDestroy()
            forget()
          })
          client.on("error", () => {
            if (!upstream.destroyed) upstream.resetAndDestroy()
            forget()
          })
          client.on("close", () => {
            upstream.destroy()
            forget()
          })
          upstream.on("close", () => {
            client.end()
            forget()
          })
        })
        server.on("error", (error) => resume(Effect.fail(error)))
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          if (address === null || typeof address === "string") return resume(Effect.fail(new Error("no port")))
          resume(Effect.succeed({ server, sockets, port: address.port }))
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      }).pipe(Effect.interruptible, Effect.timeout("2 seconds"), Effect.ignore)
  )

export const make = (
  target: { readonly host: string; readonly port: number }
): Effect.Effect<Relay, Error, Scope.Scope> =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 50; attempt++) {
      const scope = yield* Effect.scope
      const inner = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      const { port } = yield* Scope.extend(listen(target), inner)
      if (!used.has(port)) {
        used.add(port)
        return { port }
      }
      yield* Scope.close(inner, Exit.void)
    }
    return yield* Effect.fail(new Error("no fresh port for a relay"))
  })
