/**
 * Signals for the package's executables (`criteo-conformance`, `pnpm simulate`): SIGINT, SIGTERM and SIGHUP
 * interrupt the main fiber, whose scope then stops the simulator (JVM or container), the adapters and removes
 * the temporary directories, before the process exits.
 *
 * Why a guard is needed: `NodeRuntime.runMain` interrupts the main fiber on the first SIGINT/SIGTERM and
 * removes its listeners at once. testcontainers loads `signal-exit`, which re-raises the signal (killing the
 * process with no cleanup, in about 0.1 s) when it sees no listener but its own — which is the case as soon
 * as runMain's is gone. A listener of ours keeps the process alive until the scope has closed.
 */

const signalNumbers = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const

/** A second signal this long after the first forces the exit (cleanup is hanging and the user insists). */
const forceAfterMillis = 2_000

let received: { readonly signal: NodeJS.Signals; readonly at: number } | undefined

/**
 * Installs the guard (once; later calls do nothing). SIGHUP (a closed terminal) is turned into SIGTERM, which
 * runMain handles. A second SIGINT/SIGTERM within 2 s of the first is ignored — a terminal and `pnpm` each
 * deliver Ctrl-C — a later one exits at once, with 128 + the signal's number.
 */
export const guard = (): void => {
  if (process.listeners("SIGINT").some((listener) => listener === onSignal)) return
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.on("SIGHUP", onHangup)
}

const onSignal = (signal: NodeJS.Signals) => {
  const now = Date.now()
  if (received === undefined) {
    received = { signal, at: now }
    return
  }
  if (now - received.at < forceAfterMillis) return
  process.stderr.write(`\n${signal} again: exiting without waiting for the cleanup to finish\n`)
  process.exit(exitCodeOf(signal))
}

const onHangup = () => {
  if (received === undefined) process.kill(process.pid, "SIGTERM")
}

const exitCodeOf = (signal: NodeJS.Signals) =>
  128 + (signal in signalNumbers ? signalNumbers[signal as keyof typeof signalNumbers] : 0)

/**
 * The signal that stopped the process, if one did: the exit code an interrupted run should end with
 * (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP), the convention of shells.
 */
export const interruptedExitCode = (): number | undefined =>
  received === undefined ? undefined : exitCodeOf(received.signal)

/** Which signal stopped the process, if one did. */
export const receivedSignal = (): NodeJS.Signals | undefined => received?.signal
