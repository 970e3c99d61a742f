import SluiceHTTP

/// The client's request body as one exchange holds it: what is kept, for whom, and what an attempt
/// sends. Pure: it decides, the exchange writes. Loop thread only.
struct RequestBody {
    enum State {
        /// Some filter asked for the whole body (`Filter.requestBodyLimit`): it collects here, up to
        /// `limit`, and reaches the upstream only once whole, as `exchange.requestBody`.
        case buffering(limit: Int, bytes: [UInt8])
        /// Streamed to the upstream as it arrives. `replay` is a copy for retries while it fits the
        /// replay limit (nil once it outgrew it); `unsent` holds what arrived before the first
        /// attempt's head went out.
        case streaming(replay: [UInt8]?, unsent: [UInt8])
    }

    /// What a piece of the body that just arrived asks of the exchange.
    enum Arrival: Equatable {
        /// Kept here (or, during a retry's connect, in the replay copy only): nothing to write now.
        case kept
        /// The current attempt's head went out: write the piece to its upstream now.
        case forward
        /// The buffered body would pass `limit` bytes: answer 413.
        case tooLarge(limit: Int)
    }

    /// How the client framed the body.
    let framing: BodyFraming
    private(set) var state: State
    /// Every byte of the body arrived.
    private(set) var complete: Bool
    /// The request went to an upstream once; later attempts send the replay copy.
    private(set) var sentOnce = false
    private let replayLimit: Int

    /// The body of a request framed `framing`; `bufferLimit` when the chain buffers bodies.
    init(framing: BodyFraming, bufferLimit: Int?, replayLimit: Int) {
        self.framing = framing
        self.replayLimit = replayLimit
        complete = framing == .none || framing == .contentLength(0)
        state = bufferLimit.map { .buffering(limit: $0, bytes: []) } ?? .streaming(replay: [], unsent: [])
    }

    /// The chain buffers the body for its filters.
    var isBuffered: Bool {
        if case .buffering = state { return true }
        return false
    }

    /// The buffered body so far (empty when streaming).
    var buffered: [UInt8] {
        if case .buffering(_, let bytes) = state { return bytes }
        return []
    }

    /// A retry could send the whole body again: it is complete and a copy of it is kept.
    var canReplay: Bool {
        guard complete else { return false }
        if case .streaming(nil, _) = state { return false }
        return true
    }

    /// Body bytes arrived from the client; `attemptHeadSent` tells whether the current attempt's
    /// request head already went to its upstream.
    mutating func arrived(_ bytes: UnsafeRawBufferPointer, attemptHeadSent: Bool) -> Arrival {
        switch state {
        case .buffering(let limit, var kept):
            if kept.count + bytes.count > limit { return .tooLarge(limit: limit) }
            state = .streaming(replay: nil, unsent: [])  // so `kept` is the only reference while it grows
            kept.append(contentsOf: bytes)
            state = .buffering(limit: limit, bytes: kept)
            return .kept
        case .streaming(var replay, var unsent):
            state = .streaming(replay: nil, unsent: [])
            defer { state = .streaming(replay: replay, unsent: unsent) }
            if replay != nil {
                if replay!.count + bytes.count <= replayLimit {
                    replay!.append(contentsOf: bytes)
                } else {
                    replay = nil
                }
            }
            if attemptHeadSent { return .forward }
            if !sentOnce { unsent.append(contentsOf: bytes) }
            return .kept
        }
    }

    /// The last byte of the body arrived.
    mutating func ended() {
        complete = true
    }

    /// What an attempt sends after its head, and how it is framed, as its head goes out.
    /// `filtered` is `exchange.requestBody`: the buffered body as the filters left it.
    mutating func forAttempt(filtered: [UInt8]?) -> (bytes: [UInt8], framing: UpstreamBodyFraming) {
        defer {
            sentOnce = true
            if case .streaming(let replay, _) = state { state = .streaming(replay: replay, unsent: []) }
        }
        if isBuffered, let filtered {
            return (filtered, filtered.isEmpty && framing == .none ? .none : .contentLength(filtered.count))
        }
        let upstreamFraming: UpstreamBodyFraming
        switch framing {
        case .none: upstreamFraming = .none
        case .contentLength(let n): upstreamFraming = .contentLength(n)
        case .chunked, .closeDelimited:
            if complete, case .streaming(let replay?, _) = state {
                upstreamFraming = .contentLength(replay.count)
            } else if complete, isBuffered {
                upstreamFraming = .contentLength(buffered.count)
            } else {
                upstreamFraming = .chunked
            }
        }
        switch state {
        case .buffering(_, let bytes): return (sentOnce ? bytes : [], upstreamFraming)
        case .streaming(let replay, let unsent): return (sentOnce ? replay ?? [] : unsent, upstreamFraming)
        }
    }
}
