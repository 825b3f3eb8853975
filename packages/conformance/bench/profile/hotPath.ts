/**
 * `node --cpu-prof --cpu-prof-dir DIR --import tsx bench/profile/hotPath.ts CLIENT [REQUESTS]`: runs one
 * client of the users' hot-path figure alone against the loopback server (a warm-up, then REQUESTS
 * calls, 32 in flight), so that a CPU profile shows where its time goes. `summary.ts` prints the
 * functions with the most self time, and how much of it is criteo-auth's code.
 */
import * as Clients from "../lib/clients.js"
import * as Loopback from "../lib/loopback.js"

const [name = "criteo-node", count = "20000"] = process.argv.slice(2)
const server = await Loopback.start()
try {
  await server.reset(0)
  const client = Clients.makeUser[name as Clients.UserClientName](server)
  await client.ready()
  await client.batch(3_000, 32)
  const cpu = process.cpuUsage()
  const outcome = await client.batch(Number(count), 32)
  const used = process.cpuUsage(cpu)
  process.stdout.write(
    `${name}: ${Number(count)} calls, ${outcome.failures} failed, ${
      ((used.user + used.system) / Number(count)).toFixed(1)
    } µs CPU per call\n`
  )
  await client.close()
} finally {
  await server.close()
}
