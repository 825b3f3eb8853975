/**
 * The table `pnpm bench` prints and the README shows, from the figures' results.
 */
import type * as Day from "../figures/day.js"
import type * as Fleet from "../figures/fleet.js"
import type * as HotPath from "../figures/hotPath.js"
import type * as Memory from "../figures/memory.js"
import type * as Simulator from "../figures/simulator.js"
import type * as Soak from "../figures/soak.js"
import type * as Stampede from "../figures/stampede.js"
import type * as Storm from "../figures/storm.js"
import type * as Users from "../figures/users.js"

export interface Figures {
  readonly "hot-path"?: HotPath.Result | undefined
  readonly users?: Users.Result | undefined
  readonly stampede?: Stampede.Result | undefined
  readonly storm?: Storm.Result | undefined
  readonly day?: Day.Result | undefined
  readonly memory?: Memory.Result | undefined
  readonly simulator?: Simulator.Result | undefined
  readonly fleet?: Fleet.Result | undefined
  readonly soak?: Soak.Result | undefined
}

export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly node: string
  readonly os: string
}

/** A figure of criteo-auth against its target. */
export interface Verdict {
  readonly figure: string
  readonly value: number | undefined
  readonly target: string
  readonly met: boolean | undefined
}

const int = (value: number) => Math.round(value).toLocaleString("en-US")

const seconds = (ms: number) => ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

const yes = (met: boolean | undefined) => met === undefined ? "—" : met ? "yes" : "**no**"

/** Heap growth in the second half of the memory run, over the heap halfway: a leak grows in both halves. */
const secondHalfPercent = (memory: Memory.Result): number =>
  (memory.secondHalfGrowthBytes / memory.heapHalfwayBytes) * 100

export const verdicts = (figures: Figures): ReadonlyArray<Verdict> => {
  const hot = figures["hot-path"]
  const stampede = figures.stampede
  const storm = figures.storm
  const day = figures.day
  const memory = figures.memory
  const fleet = figures.fleet
  const soak = figures.soak
  const failedHot = hot !== undefined && hot.failures > 0
  const users = figures.users
  const secondHalf = memory === undefined ? undefined : secondHalfPercent(memory)
  return [
    {
      figure: "CriteoNode.layer ÷ its floor",
      value: users?.toFloor["criteo-node"].median,
      target: "≥ 0.97",
      met: users === undefined ? undefined : users.failures === 0 && users.toFloor["criteo-node"].median >= 0.97
    },
    {
      figure: "CriteoFetch.layer ÷ its floor",
      value: users?.toFloor["criteo-fetch"].median,
      target: "≥ 0.97",
      met: users === undefined ? undefined : users.failures === 0 && users.toFloor["criteo-fetch"].median >= 0.97
    },
    {
      figure: "CPU CriteoNode.layer adds over its floor, µs/request",
      value: users?.cpuOverFloorMicros["criteo-node"].median,
      target: "≤ 10",
      met: users === undefined ? undefined : users.cpuOverFloorMicros["criteo-node"].median <= 10
    },
    {
      figure: "CPU CriteoFetch.layer adds over its floor, µs/request",
      value: users?.cpuOverFloorMicros["criteo-fetch"].median,
      target: "≤ 10",
      met: users === undefined ? undefined : users.cpuOverFloorMicros["criteo-fetch"].median <= 10
    },
    {
      figure: "memory growth %, second half",
      value: secondHalf,
      target: "< 1 %",
      met: memory === undefined || secondHalf === undefined ? undefined : secondHalf < 1 && memory.failed === 0
    },
    {
      figure: "hot-path ratio",
      value: hot?.ratio["criteo-auth"].median,
      target: "≥ 0.97",
      met: hot === undefined ? undefined : !failedHot && hot.ratio["criteo-auth"].median >= 0.97
    },
    {
      figure: "stampede token requests",
      value: stampede?.clients["criteo-auth"].tokenRequests,
      target: "1",
      met: stampede === undefined
        ? undefined
        : stampede.clients["criteo-auth"].tokenRequests === 1 && stampede.clients["criteo-auth"].failures === 0
    },
    {
      figure: "401 storm token requests",
      value: storm?.clients["criteo-auth"].tokenRequests,
      target: "1",
      met: storm === undefined ? undefined : storm.clients["criteo-auth"].tokenRequests === 1
    },
    {
      figure: "401 storm failed requests",
      value: storm?.clients["criteo-auth"].failed,
      target: "0",
      met: storm === undefined ? undefined : storm.clients["criteo-auth"].failed === 0
    },
    {
      figure: "day token requests",
      value: day?.tokenRequests,
      target: "≤ 101",
      met: day === undefined ? undefined : day.tokenRequests <= 101 && day.failed === 0
    },
    {
      figure: "day expired tokens sent",
      value: day?.expiredSent,
      target: "0",
      met: day === undefined ? undefined : day.expiredSent === 0
    },
    {
      figure: "memory growth %, whole run (reported; the verdict is the second half's)",
      value: memory?.growthPercent,
      target: "—",
      met: undefined
    },
    {
      figure: "fleet stampede token requests",
      value: fleet?.stampede.withStore.tokenRequests,
      target: "1",
      met: fleet === undefined
        ? undefined
        : fleet.stampede.withStore.tokenRequests === 1 && fleet.stampede.withStore.failed === 0
    },
    {
      figure: "fleet outage failed calls",
      value: fleet?.outage.withStore.failed,
      target: "0",
      met: fleet === undefined ? undefined : fleet.outage.withStore.failed === 0
    },
    {
      figure: "fleet day token requests",
      value: fleet?.day?.withStore.tokenRequests,
      target: "≤ 101",
      met: fleet?.day === undefined
        ? undefined
        : fleet.day.withStore.tokenRequests <= 101 && fleet.day.withStore.failed === 0 &&
          fleet.day.withStore.expiredSent === 0
    },
    {
      figure: "fleet hot-path ratio",
      value: fleet?.hotPathRatio.median,
      target: "≥ 0.97",
      met: fleet === undefined ? undefined : fleet.hotPathRatio.median >= 0.97 && fleet.hotPathFailures === 0
    },
    {
      figure: "soak failed calls",
      value: soak?.failed,
      target: "0",
      met: soak === undefined ? undefined : soak.failed === 0
    },
    {
      figure: "soak expired tokens sent",
      value: soak?.expiredSent,
      target: "0",
      met: soak === undefined ? undefined : soak.expiredSent === 0
    },
    {
      figure: "soak tokens issued",
      value: soak?.tokensIssued,
      target: "≤ the design bound",
      met: soak === undefined ? undefined : soak.tokensIssued <= soak.designBoundTokens
    },
    {
      figure: "soak heap growth %, second half",
      value: soak?.secondHalfGrowthPercent,
      target: "< 1 %",
      met: soak === undefined ? undefined : soak.secondHalfGrowthPercent < 1
    }
  ]
}

/** The sign of a non-negative figure (`+`); a negative one carries its own. */
const plus = (value: number) => (value >= 0 ? "+" : "")

/** The markdown table: one row per figure, one column per client, and criteo-auth's target. */
export const table = (figures: Figures): string => {
  const rows: Array<ReadonlyArray<string>> = []
  const v = new Map(verdicts(figures).map((verdict) => [verdict.figure, verdict]))
  const met = (figure: string) => yes(v.get(figure)?.met)
  const na = "—"
  /** A row of a figure only criteo-auth has: the other clients' columns empty. */
  const own = (figure: string, value: string, target = na, verdict = na): ReadonlyArray<string> => [
    figure,
    value,
    na,
    na,
    target,
    verdict
  ]
  /** A row of a figure every client has: `cell` of each one's result. */
  const compared = <R>(
    figure: string,
    results: Record<"criteo-auth" | "hand-written" | "badgateway", R>,
    cell: (result: R) => string,
    target: string,
    verdict: string
  ): ReadonlyArray<string> => [
    figure,
    cell(results["criteo-auth"]),
    cell(results["hand-written"]),
    cell(results.badgateway),
    target,
    verdict
  ]

  const hot = figures["hot-path"]
  if (hot !== undefined) {
    const cell = (name: HotPath.Authenticated) => {
      const ratio = hot.ratio[name]
      if (ratio === undefined) return na
      const overhead = hot.cpuOverheadMicros[name]
      return `**${ratio.median.toFixed(3)}** (rounds ${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}; CPU ${
        hot.cpuRatio[name].median.toFixed(3)
      }, ${overhead.median >= 0 ? "+" : ""}${overhead.median.toFixed(0)} µs/request)`
    }
    rows.push([
      `1. Hot path: req/s with auth ÷ the same client without (median of ${hot.rounds} ABBA rounds of ${
        int(hot.requests)
      } calls, ${hot.concurrency} in flight${
        hot.failures > 0 ? `, ${int(hot.failures)} failed` : ""
      }; in brackets the CPU-time ratio and the CPU time auth adds)`,
      cell("criteo-auth"),
      cell("hand-written"),
      cell("badgateway"),
      "≥ 0.97",
      met("hot-path ratio")
    ])
    rows.push([
      "1. … floor: the same undici client sending a fixed bearer header (no token logic) ÷ without",
      cell("undici-bearer"),
      na,
      na,
      na,
      na
    ])
    if (hot.aboveFloor !== undefined) {
      rows.push([
        "1. … criteo-auth's ratio ÷ the floor's, per round: what the token logic costs beyond sending the header",
        `**${hot.aboveFloor.median.toFixed(3)}** (rounds ${hot.aboveFloor.min.toFixed(2)}–${
          hot.aboveFloor.max.toFixed(2)
        })`,
        na,
        na,
        na,
        na
      ])
    }
  }

  const users = figures.users
  if (users !== undefined) {
    const ratio = (spreadOf: { median: number; min: number; max: number }) =>
      `**${spreadOf.median.toFixed(3)}** (rounds ${spreadOf.min.toFixed(2)}–${spreadOf.max.toFixed(2)})`
    const sign = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(1)}`
    for (const [name, floor] of [["criteo-node", "undici-bearer"], ["criteo-fetch", "fetch-effect-bearer"]] as const) {
      const label = name === "criteo-node" ? "CriteoNode.layer" : "CriteoFetch.layer"
      rows.push([
        `1b. What users run, ${label} (defaults, attempt timeout included) ÷ its floor (${floor}: Effect's client, fixed bearer header), req/s, median of ${users.rounds} interleaved rounds of ${
          int(users.requests)
        } calls, ${users.concurrency} in flight${users.failures > 0 ? `, ${int(users.failures)} failed` : ""}`,
        `${ratio(users.toFloor[name])}; CPU ${users.cpuMicrosPerRequest[name].toFixed(0)} µs/request, ${
          sign(users.cpuOverFloorMicros[name].median)
        } µs over the floor`,
        na,
        na,
        "≥ 0.97",
        met(name === "criteo-node" ? "CriteoNode.layer ÷ its floor" : "CriteoFetch.layer ÷ its floor")
      ])
      const cpu = users.cpuOverFloorMicros[name]
      rows.push([
        `1b. … CPU ${label} adds over its floor per request (median of the same rounds' differences)`,
        `**${sign(cpu.median)} µs** (rounds ${sign(cpu.min)} to ${sign(cpu.max)})`,
        na,
        na,
        "≤ 10 µs",
        met(`CPU ${label} adds over its floor, µs/request`)
      ])
    }
    for (const name of Object.keys(users.toFetch) as Array<keyof typeof users.toFetch>) {
      if (name === "fetch-bearer") continue
      rows.push([
        `1b. … ${name} ÷ plain fetch with a fixed bearer header (same rounds)`,
        `${ratio(users.toFetch[name])}; ${int(users.requestsPerSecond[name])} req/s, CPU ${
          users.cpuMicrosPerRequest[name].toFixed(0)
        } µs/request (fetch: ${users.cpuMicrosPerRequest["fetch-bearer"].toFixed(0)})`,
        na,
        na,
        na,
        na
      ])
    }
    for (const row of promiseClientRows(users, ratio, sign)) rows.push(row)
    for (const name of ["criteo-node-promise", "criteo-fetch-promise"] as const) {
      rows.push([
        `1b. … ${name} (ManagedRuntime.runPromise per call) ÷ its floor (${
          users.toFloor[name].floor
        }, called the same way)`,
        `${ratio(users.toFloor[name])}; ${sign(users.cpuOverFloorMicros[name].median)} µs over the floor`,
        na,
        na,
        na,
        na
      ])
    }
  }

  const stampede = figures.stampede
  if (stampede !== undefined) {
    const c = stampede.clients
    rows.push(compared(
      `2. Cold stampede, ${int(stampede.callers)} concurrent first calls: token requests (worst of ${stampede.trials})`,
      c,
      (r) => int(r.tokenRequests),
      "1",
      met("stampede token requests")
    ))
    const latency = (r: Stampede.ClientResult, floor: Stampede.ClientResult | undefined) =>
      `${seconds(r.p50Ms)} / ${seconds(r.p99Ms)}${r.failures > 0 ? ` (${int(r.failures)} failed)` : ""}${
        floor === undefined ? "" : `; without auth ${seconds(floor.p50Ms)} / ${seconds(floor.p99Ms)}`
      }`
    rows.push([
      `2. … latency p50 / p99 (median of ${stampede.trials}; token endpoint ${stampede.tokenLatencyMs} ms, ${stampede.connections} connections)`,
      latency(c["criteo-auth"], c.undici),
      latency(c["hand-written"], c.fetch),
      latency(c.badgateway, c.fetch),
      na,
      na
    ])
  }

  const storm = figures.storm
  if (storm !== undefined) {
    const c = storm.clients
    rows.push(compared(
      `3. 401 storm, ${
        int(storm.callers)
      } concurrent calls with a revoked token: token requests (worst of ${storm.trials})`,
      c,
      (r) => int(r.tokenRequests),
      "1",
      met("401 storm token requests")
    ))
    rows.push(compared(
      "3. … failed caller requests (worst trial)",
      c,
      (r) => int(r.failed),
      "0",
      met("401 storm failed requests")
    ))
  }

  const day = figures.day
  if (day !== undefined) {
    rows.push(own(
      `4. Simulated day on the TestClock, a call every ${day.intervalSeconds} s: token requests (physical minimum ${day.physicalMinimum})`,
      `${int(day.tokenRequests)}`,
      "≤ 101",
      met("day token requests")
    ))
    rows.push(own(
      `4. … expired tokens sent (callers that waited for a token: ${int(day.callersWaited)} of ${int(day.calls)})`,
      int(day.expiredSent),
      "0",
      met("day expired tokens sent")
    ))
  }

  const memory = figures.memory
  if (memory !== undefined) {
    rows.push(own(
      `5. Memory: heap growth after GC, ${int(memory.requests)} requests + ${int(memory.refreshes)} refreshes`,
      `${plus(memory.growthPercent)}${memory.growthPercent.toFixed(2)} % (${mib(memory.heapBeforeBytes)} → ${
        mib(memory.heapAfterBytes)
      }); second half ${plus(memory.secondHalfGrowthBytes)}${mib(memory.secondHalfGrowthBytes)} = ${
        secondHalfPercent(memory).toFixed(2)
      } %`,
      "< 1 % (second half)",
      met("memory growth %, second half")
    ))
  }

  const simulator = figures.simulator
  if (simulator !== undefined) {
    const startup = (s: Simulator.Startup) =>
      s.available ? `${seconds(s.startMs)} (stop ${seconds(s.stopMs)})` : `not available: ${s.reason}`
    rows.push(own(`6. Simulator startup, median of ${simulator.runs}: process (JVM)`, startup(simulator.process)))
    rows.push(own(`6. … container`, startup(simulator.container)))
    const catalogue = simulator.catalogue
    rows.push(own(
      "6. Full conformance catalogue against criteo-auth",
      catalogue.available
        ? `${seconds(catalogue.ms)} (\`${catalogue.command}\`, exit ${catalogue.exitCode}${
          catalogue.timedOut ? ", timed out" : ""
        }: ${catalogue.summary})`
        : `not available: ${catalogue.reason}`
    ))
  }

  const fleet = figures.fleet
  if (fleet !== undefined) {
    const { outage, stampede } = fleet
    rows.push([
      `7. Fleet cold stampede, ${fleet.processes} processes × ${
        int(fleet.callers)
      } concurrent first calls: token requests with the Redis store (without it, same run)`,
      `**${int(stampede.withStore.tokenRequests)}** (without: ${int(stampede.withoutStore.tokenRequests)})${
        stampede.withStore.failed > 0 ? `, ${int(stampede.withStore.failed)} failed` : ""
      }`,
      na,
      na,
      `1 (against ${fleet.processes})`,
      met("fleet stampede token requests")
    ])
    rows.push([
      `7. … Redis outage, ${fleet.outageProcesses} processes calling for ${
        seconds(fleet.outageMs)
      } (SIGSTOP, tokens revoked, SIGKILL, revoked again): failed calls`,
      `**${int(outage.withStore.failed)}** of ${int(outage.withStore.calls)}, ${
        int(outage.withStore.tokenRequests)
      } token requests (without the store: ${int(outage.withoutStore.failed)} of ${int(outage.withoutStore.calls)}, ${
        int(outage.withoutStore.tokenRequests)
      })`,
      na,
      na,
      "0",
      met("fleet outage failed calls")
    ])
    if (fleet.day !== undefined) {
      const day = fleet.day
      rows.push([
        `7. … simulated day of ${fleet.dayProcesses} providers (own state and Redis connection each, one TestClock), a call from each every ${fleet.dayIntervalSeconds} s: token requests (expired tokens sent)`,
        `**${int(day.withStore.tokenRequests)}** (${int(day.withStore.expiredSent)}${
          day.withStore.failed > 0 ? `, ${int(day.withStore.failed)} failed` : ""
        }; without the store: ${int(day.withoutStore.tokenRequests)} (${int(day.withoutStore.expiredSent)}))`,
        na,
        na,
        `≤ 101 (against ~${fleet.dayProcesses} × 96)`,
        met("fleet day token requests")
      ])
    }
    rows.push([
      `7. … hot path with the Redis store configured ÷ without (median of ${fleet.hotRounds} ABBA rounds of ${
        int(fleet.hotRequests)
      } calls)`,
      `**${fleet.hotPathRatio.median.toFixed(3)}** (rounds ${fleet.hotPathRatio.min.toFixed(2)}–${
        fleet.hotPathRatio.max.toFixed(2)
      })`,
      na,
      na,
      "≥ 0.97",
      met("fleet hot-path ratio")
    ])
  }

  const soak = figures.soak
  if (soak !== undefined) {
    rows.push(own(
      `8. Soak, ${
        seconds(soak.totalSeconds * 1000)
      } (${soak.warmupSeconds} s warm-up included) of CriteoNode.layer, ${soak.callers} callers, against ${soak.tokenLifetimeSeconds} s tokens and a token endpoint failing ${soak.tokenFailurePercent} % of requests (503s, resets): failed calls`,
      `**${int(soak.failed)}** of ${int(soak.calls)}${
        soak.firstFailure === undefined ? "" : ` (first: ${soak.firstFailure})`
      }`,
      "0",
      met("soak failed calls")
    ))
    rows.push(own(
      "8. … expired tokens sent (the server checks each bearer against its expiry)",
      int(soak.expiredSent),
      "0",
      met("soak expired tokens sent")
    ))
    rows.push(own(
      `8. … token requests: tokens issued (requests in all, failed on purpose) against the minimum total / (lifetime − lead ${soak.leadSeconds} s) + 1`,
      `**${int(soak.tokensIssued)}** (${int(soak.tokenRequests)}, ${
        int(soak.tokenFailures)
      } failed); minimum ${soak.minimumTokens}, design bound with the refresh jitter ${soak.designBoundTokens}`,
      `≤ ${soak.designBoundTokens}`,
      met("soak tokens issued")
    ))
    rows.push(own(
      "8. … heap after GC at the end of the warm-up → halfway → end: growth in the second half",
      `${mib(soak.heapStartBytes)} → ${mib(soak.heapHalfwayBytes)} → ${mib(soak.heapEndBytes)}: first half ${
        plus(soak.firstHalfGrowthPercent)
      }${soak.firstHalfGrowthPercent.toFixed(2)} %, second half ${plus(soak.secondHalfGrowthPercent)}${
        soak.secondHalfGrowthPercent.toFixed(2)
      } %`,
      "< 1 % (second half)",
      met("soak heap growth %, second half")
    ))
  }

  const header = [
    "Figure",
    "criteo-auth",
    "hand-written fetch wrapper",
    "@badgateway/oauth2-client",
    "Target (criteo-auth)",
    "Met"
  ]
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((cell) => cell.replace(/\|/g, "\\|")).join(" | ")} |`
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n")
}

export const describeMachine = (machine: Machine): string =>
  `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB of memory, Node ${machine.node}, ${machine.os}`

/** The rows of `CriteoPromise` (issue 14): against the Promise path it replaces, and against plain fetch. */
const promiseClientRows = (
  users: Users.Result,
  ratio: (spreadOf: { median: number; min: number; max: number }) => string,
  sign: (value: number) => string
): Array<Array<string>> => {
  const { cpuOverFetchMicros, cpuSavedMicros, toNodePromise } = users.promiseClient
  const na = "—"
  const range = (s: { median: number; min: number; max: number }) =>
    `**${sign(s.median)} µs** (rounds ${sign(s.min)} to ${sign(s.max)})`
  return [
    [
      "1b. … criteo-promise (CriteoPromise: undici's request on the common path) ÷ criteo-node-promise (CriteoNode.layer, ManagedRuntime.runPromise per call), req/s, same rounds",
      `${ratio(toNodePromise)}; CPU ${users.cpuMicrosPerRequest["criteo-promise"].toFixed(0)} against ${
        users.cpuMicrosPerRequest["criteo-node-promise"].toFixed(0)
      } µs/request`,
      na,
      na,
      na,
      na
    ],
    [
      "1b. … CPU criteo-promise saves per request over criteo-node-promise (median of the rounds' differences)",
      range(cpuSavedMicros),
      na,
      na,
      na,
      na
    ],
    [
      "1b. … CPU criteo-promise adds per request over plain fetch with a fixed bearer header",
      range(cpuOverFetchMicros),
      na,
      na,
      na,
      na
    ]
  ]
}
