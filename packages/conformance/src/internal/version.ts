import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const PackageJson = Schema.parseJson(Schema.Struct({ version: Schema.String }))

/**
 * The version of this package, from its package.json (`../../package.json` from both
 * `src/internal` and `dist/internal`), read the same way as the criteo-auth CLI reads its own.
 *
 * @internal
 */
export const version: Effect.Effect<string, never, FileSystem.FileSystem | Path.Path> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = yield* path.fromFileUrl(new URL("../../package.json", import.meta.url))
  const text = yield* fs.readFileString(file)
  return (yield* Schema.decodeUnknown(PackageJson)(text)).version
}).pipe(Effect.orElseSucceed(() => "unknown"))
