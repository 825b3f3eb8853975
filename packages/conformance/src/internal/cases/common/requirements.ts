/** Requirements several groups cite. */

export const criteoLifetime = {
  source: "Criteo: Authentication",
  text: "a token is valid for 900 s and several may be live at once; get a new one when the API answers 401"
}

export const singleFlight = {
  source: "Criteo: rate limits",
  text: "250 calls/min per application: concurrent callers share one token request instead of stampeding"
}
