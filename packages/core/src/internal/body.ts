import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Json from "./json.js"

/**
 * The body as text, read as a stream and abandoned as soon as it passes `maxBytes` (`None` then): a
 * hostile or broken server cannot make the client buffer hundreds of megabytes. At most `maxBytes`
 * plus one chunk is held. A `content-length` above the limit is refused after one chunk at most.
 *
 * Abandoning the stream ends it, and ending the body stream of an `HttpClient.make` client aborts
 * its request: the rest is not read and the connection is closed, not left half-read. The read has
 * no time bound of its own: the caller bounds it (a body that never comes waits as long as the
 * transport lets it).
 *
 * @internal
 */
export const readCapped = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<Option.Option<string>, HttpClientError.ResponseError> => {
  const declared = Number(response.headers["content-length"])
  if (Number.isFinite(declared) && declared > maxBytes) {
    // nothing is kept, but the stream is opened and ended (one chunk pulled at most): only that aborts
    // the request; a stream never opened leaves the connection to the garbage collector
    return Effect.as(Effect.ignore(Stream.runDrain(Stream.take(response.stream, 1))), Option.none())
  }
  return Effect.map(
    Stream.runFoldWhile(
      response.stream,
      { size: 0, chunks: [] as Array<Uint8Array> },
      (read) => read.size <= maxBytes,
      (read, chunk) => {
        read.chunks.push(chunk)
        return { size: read.size + chunk.length, chunks: read.chunks }
      }
    ),
    (read) => read.size > maxBytes ? Option.none() : Option.some(Json.decodeUtf8(read.chunks, read.size))
  )
}
