import * as Effect from "effect/Effect"
import * as Net from "node:net"

/**
 * A port of 127.0.0.1 that nothing listens on: bound to port 0 (the system chooses), then released. A
 * connection to it is refused until someone listens there (a server the test starts on it).
 */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})
