import SluiceFilterAPI
import Synchronization

/// Answers that a hook gave and its phase cannot honour (a `.retry` from `onRequest`, a `.drop`
/// in a chain that forwards bytes as they arrive), and which of them were already reported.
///
/// The engine goes on as the hook's contract says (`Filter`, `EventDecision`): such an answer counts
/// as `.next` (`.pass` for events). That is never silent: the first time a filter instance gives a
/// given answer from a given hook, the log gets a warning naming both; later ones are not logged
/// again, so a filter that answers so on every request costs the log one line, and the exchange
/// one atomic load. One per chain version (its filter instances), shared by every worker: any thread.
package final class UnhonouredAnswers: Sendable {
    /// The hooks whose answers can go unhonoured.
    package enum Hook: Int, Sendable, CaseIterable, CustomStringConvertible {
        case onRequest, onRequestBody, selectUpstream, onResponseChunk, onEvent

        package var description: String {
            switch self {
            case .onRequest: return "onRequest"
            case .onRequestBody: return "onRequestBody"
            case .selectUpstream: return "selectUpstream"
            case .onResponseChunk: return "onResponseChunk"
            case .onEvent: return "onEvent"
            }
        }
    }

    /// An answer that some phase cannot honour, and what it counts as there.
    package enum Answer: Int, Sendable, CustomStringConvertible {
        case retry, reply, suspend, modified, drop, prepend

        /// The answer as a filter writes it.
        package var description: String {
            switch self {
            case .retry: return ".retry"
            case .reply: return ".reply"
            case .suspend: return ".suspend"
            case .modified: return ".modified"
            case .drop: return ".drop"
            case .prepend: return ".prepend"
            }
        }

        /// What the answer counts as where it is not honoured.
        package var countsAs: String {
            switch self {
            case .retry, .reply, .suspend: return ".next"
            case .modified, .drop, .prepend: return ".pass"
            }
        }

        /// The kind of a decision some phase may not honour; nil for answers every phase honours.
        package init?(_ decision: Decision) {
            switch decision {
            case .retry: self = .retry
            case .reply: self = .reply
            case .suspend: self = .suspend
            case .next, .reject: return nil
            }
        }
    }

    /// One word of bits per filter: bit `hook * 8 + answer` is set once that pair was reported.
    private final class Reported: Sendable {
        let bits = Atomic<UInt64>(0)
    }

    private let reported: [Reported]

    /// For a chain of `filters` filters, none reported yet.
    package init(filters: Int) {
        reported = (0..<filters).map { _ in Reported() }
    }

    /// True exactly once per filter, hook and answer: the first time it is noted (whichever worker
    /// notes it first).
    package func isFirst(filter: Int, hook: Hook, answer: Answer) -> Bool {
        guard reported.indices.contains(filter) else { return false }
        let bit = UInt64(1) << UInt64(hook.rawValue * 8 + answer.rawValue)
        let entry = reported[filter]
        if entry.bits.load(ordering: .relaxed) & bit != 0 { return false }
        return entry.bits.bitwiseOr(bit, ordering: .relaxed).oldValue & bit == 0
    }

    /// The warning's text, e.g. `filter 'gate' of chain 'main' answered .retry from onRequest, which
    /// cannot honour it: it counts as .next (reported once per filter and answer)`.
    package static func message(filter: String, chain: String, hook: Hook, answer: Answer) -> String {
        "filter '\(filter)' of chain '\(chain)' answered \(answer) from \(hook), which cannot honour it: "
            + "it counts as \(answer.countsAs) (reported once per filter and answer)"
    }
}
