import SluiceFilterAPI

/// What `RedisStreamScripts.follow` answered, read from its reply. Pure; any thread.
enum SharedStreamReply: Equatable {
    /// No such stream (or, on open, another credential's).
    case notFound
    /// The stream, or the part asked for, is not kept there.
    case gone(StreamLoss)
    /// The stream is kept whole and has no event with the id asked for.
    case unknownEventID
    case page(Page)

    /// Events from `start` up to (not including) `next`, and the stream as it was then.
    struct Page: Equatable {
        var start: Int
        var next: Int
        var dialect: StreamDialect
        /// `live`, `complete` or `cut`.
        var state: String
        /// Why it was cut.
        var why: String
        /// The newest sequence number.
        var newest: Int
        /// Each event in wire form, in order.
        var events: [[UInt8]]

        var isLive: Bool { state == "live" }

        /// How the stream ended, once `next` is past its newest event; nil while more may come.
        var ending: StreamEnding? {
            guard !isLive, next > newest else { return nil }
            return state == "complete" ? .complete : .cut(why.isEmpty ? "the stream was cut" : why)
        }
    }

    /// Reads `reply`; nil when it is not one of the script's answers (then the store treats it as
    /// a failed call).
    init?(_ reply: SharedReply) {
        guard let items = reply.array, let kind = items.first?.text else { return nil }
        switch kind {
        case "not_found":
            self = .notFound
        case "unknown_event_id":
            self = .unknownEventID
        case "gone":
            let why = items.count > 1 ? items[1].text ?? "" : ""
            self = .gone(StreamLoss(rawValue: why) ?? .expired)
        case "ok":
            guard items.count >= 7, let start = items[1].integer, let next = items[2].integer,
                  let dialect = items[3].text.flatMap(StreamDialect.init(rawValue:)), let state = items[4].text,
                  ["live", "complete", "cut"].contains(state), let newest = items[6].integer,
                  next >= start, Int(next - start) == items.count - 7 else { return nil }
            var events: [[UInt8]] = []
            events.reserveCapacity(items.count - 7)
            for item in items[7...] {
                guard let bytes = item.bytes else { return nil }
                events.append(bytes)
            }
            self = .page(Page(start: Int(start), next: Int(next), dialect: dialect, state: state, why: items[5].text ?? "",
                              newest: Int(newest), events: events))
        default:
            return nil
        }
    }
}
