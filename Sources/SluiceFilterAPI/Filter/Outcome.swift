/// How an exchange ended; handed to every filter's `onComplete`.
public struct Outcome: Sendable, CustomStringConvertible {
    /// The way an exchange ended. The raw value is the name logs use.
    public enum Kind: String, Sendable {
        /// The response reached the client whole.
        case completed
        /// A filter answered instead of the upstream (`.reject` or `.reply` before any upstream response).
        case rejected
        /// The exchange failed before the response head reached the client; the client got an error status.
        case failed
        /// The stream was cut after the head was sent; the client saw an error event and/or a closed connection, never a clean end.
        case truncated
        /// The client went away first; the upstream request was cancelled.
        case clientGone = "client_gone"
        /// The upstream reported an error inside its event stream (OpenAI `data: {"error": ...}`,
        /// a Responses API `error` / `response.failed`, Anthropic `event: error`), before or after
        /// content. The client got that event as the upstream sent it. `error` is an
        /// `upstream_error` with the event's message; the event's own type is
        /// `exchange.tokens.errorType`.
        case upstreamError = "upstream_error"
    }
    /// How it ended.
    public var kind: Kind
    /// The status the client received, when a head was sent.
    public var status: Int?
    /// The error behind a non-completed outcome.
    public var error: ProxyError?
    /// The name of the filter that decided the outcome, when one did: it answered `.reject` or
    /// `.reply`, failed an event, or called `exchange.fail` from one of its hooks or from a timer it
    /// scheduled (or with a `ProxyError` whose source is that filter). nil when the upstream or the
    /// client decided, and after a retry that went on to another attempt.
    public var decidedBy: String?
    /// nil unless the client left mid-stream and a filter kept the upstream running
    /// (`ClientLeftDecision.keepUpstream`). `kind` is then `client_gone`, and this says how the
    /// kept upstream's stream ended: `completed` (properly, by its framing and final event),
    /// `upstream_error` (with an error event in it), or `truncated` (cut, or cancelled by a filter).
    public var keptUpstreamEnding: Kind?

    /// An outcome built by hand (tests of an `onComplete` hook).
    public init(kind: Kind, status: Int? = nil, error: ProxyError? = nil, decidedBy: String? = nil,
                keptUpstreamEnding: Kind? = nil) {
        self.kind = kind
        self.status = status
        self.error = error
        self.decidedBy = decidedBy
        self.keptUpstreamEnding = keptUpstreamEnding
    }

    /// `kind status (error kind: message)`, for logs.
    public var description: String {
        var s = kind.rawValue
        if let status { s += " \(status)" }
        if let keptUpstreamEnding { s += " (upstream kept: \(keptUpstreamEnding.rawValue))" }
        if let error { s += " (\(error.kind.rawValue): \(error.message)\(error.logDetail.map { " [\($0)]" } ?? ""))" }
        return s
    }
}
