import SluiceFilterAPI

/// Which filter of one exchange's chain is running, who decided the exchange's outcome, and what a
/// running hook asked of its exchange. Owned by one `ProxyExchange`; loop thread only.
///
/// A hook may call `exchange.fail` or `exchange.resume` before it returns. Acting on that at once
/// would end the exchange, or start another attempt, under the walk that called the hook, and every
/// walk would have to look afterwards at what was left. The runner holds the request instead, and
/// hands it back when the hook returns (`leave`); the exchange applies it there, in one place, and
/// the walk goes on or stops by the answer it gets.
struct ChainRunner {
    /// What a hook asked of its exchange while it ran.
    enum Request {
        /// `exchange.fail`: ends the exchange, or the attempt, with this error.
        case fail(ProxyError)
        /// `exchange.resume`: the answer of a hook that suspended the exchange.
        case resume(Decision)
    }

    /// The chain's filter names, by index.
    let names: [String]
    /// The filter whose hook (or timer) is running now; nil between hooks.
    private(set) var running: Int?
    /// Hooks running, one inside another (a comment sent from a hook runs `onClientBlocked`).
    private var depth = 0
    private var held: Request?
    /// `held` is set: read per hook, where testing the enum itself (its payload is a `ProxyError`)
    /// cost about a hundred instructions per event.
    private var holding = false
    /// The filter whose answer decided the outcome (the access log's `decided_by`); nil while the
    /// exchange is undecided or an attempt that a filter ended is being retried.
    var decidedBy: String?

    init(names: [String]) {
        self.names = names
    }

    /// True while a hook runs: requests made now are held until it returns.
    var inHook: Bool { depth > 0 }

    /// A fail is held: what is left of the current walk is skipped.
    var holdsFail: Bool {
        guard holding else { return false }
        if case .fail? = held { return true }
        return false
    }

    /// Marks `filter`'s hook as running. Answers the filter that ran around it, for `leave`.
    mutating func enter(_ filter: Int) -> Int? {
        let outer = running
        running = filter
        depth += 1
        return outer
    }

    /// Marks the hook returned. Answers true when the walk cannot simply go on: a request made
    /// during the hook waits (`takeRequest`, once the outermost hook returned; an inner hook leaves
    /// its request to the hook around it), or a fail is held for the hook around this one. A Bool:
    /// the common answer costs no copy of an optional request, per hook.
    @inline(__always)
    mutating func leave(restoring outer: Int?) -> Bool {
        running = outer
        depth -= 1
        return holding
    }

    /// The request a hook made, once the outermost hook returned; nil while a hook still runs
    /// (the held fail then stops the inner walk, and the outer hook's return applies it).
    mutating func takeRequest() -> Request? {
        guard depth == 0, holding, let request = held else { return nil }
        held = nil
        holding = false
        return request
    }

    /// Holds `request` until the running hook returns. The first fail wins over everything after
    /// it; a fail replaces a resume, since the exchange could not go on from that resume.
    mutating func hold(_ request: Request) {
        if holdsFail { return }
        held = request
        holding = true
    }

    /// Records who decided an exchange that `error` fails: the filter the error names, else the
    /// one running. The first decider stays.
    mutating func noteDecider(of error: ProxyError) {
        guard decidedBy == nil else { return }
        if case .filter(let name) = error.source, names.contains(name) {
            decidedBy = name
        } else if let running {
            decidedBy = names[running]
        }
    }

    /// `filter`'s answer decided the outcome.
    mutating func decided(by filter: Int) {
        decidedBy = names[filter]
    }
}
