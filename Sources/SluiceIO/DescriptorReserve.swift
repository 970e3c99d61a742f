import CLibevent
import Synchronization

/// One descriptor held open in reserve (on /dev/null), so that a process out of descriptors
/// (EMFILE, ENFILE) can still take a waiting client, give it a short answer and close it, instead
/// of leaving it in the backlog with no word. One per process, shared by every listener. Any
/// thread.
///
/// Freeing the spare opens one slot in the process's descriptor table, and any thread's next
/// accept would take it. So every listener that shares the reserve accepts through `accept(on:)`,
/// under the reserve's lock: no accept runs while the spare is out. (Before, a worker accepting in
/// that moment took the slot, the spare could not be reopened, and from then on no client was
/// answered until load fell.) A call of another kind (an upstream socket, a file read by a reload)
/// can still take the slot; then the next connection accepted rebuilds the spare: that client gets
/// the answer, and its slot becomes the spare in one step, copied from `template`, a second
/// descriptor on /dev/null that is never closed.
public final class DescriptorReserve: Sendable {
    /// The spare, or -1 while it is out or lost.
    private let spare: Mutex<Int32>
    private let template: Int32

    /// What `accept(on:address:answer:)` did.
    enum Accepted {
        /// A new connection, the caller's to serve.
        case connection(Int32)
        /// A connection that was answered and closed, its slot kept as the spare, lost before.
        case answeredToRebuildTheSpare
        /// Nothing accepted; `accept4`'s error (EAGAIN when no one waits).
        case failed(Int32)
    }

    /// Opens the spare and the template now (when the process is far from its limit).
    public init() {
        template = sluice_open_spare_descriptor()
        spare = Mutex(template >= 0 ? sluice_dup_cloexec(template) : -1)
    }

    deinit {
        spare.withLock { if $0 >= 0 { sluice_close($0) } }
        if template >= 0 { sluice_close(template) }
    }

    /// Accepts one connection of `listeningSocket`, never while the spare is out. When the spare
    /// was lost, the connection gets `answer` and its slot becomes the spare again. Loop thread
    /// of the listener.
    func accept(on listeningSocket: Int32, address: UnsafeMutablePointer<sockaddr_storage>, answer: [UInt8]) -> Accepted {
        spare.withLock { spare in
            var error: Int32 = 0
            let fd = sluice_accept(listeningSocket, address, &error)
            guard fd >= 0 else { return .failed(error) }
            guard spare < 0, template >= 0 else { return .connection(fd) }
            answer.withUnsafeBytes { sluice_answer_connection(fd, $0.baseAddress, $0.count) }
            if sluice_replace_descriptor(template, fd) == fd {
                spare = fd
            } else {
                sluice_close(fd)
            }
            return .answeredToRebuildTheSpare
        }
    }

    /// Frees the spare and answers up to `limit` connections waiting on `listeningSocket` with
    /// `answer`, each accepted into the freed slot, answered, and closed by turning its slot back
    /// into the spare. Answers how many it answered. Loop thread of the listener, after an accept
    /// failed for want of descriptors.
    func answerWaiting(on listeningSocket: Int32, with answer: [UInt8], limit: Int) -> Int {
        spare.withLock { spare in
            guard template >= 0 else { return 0 }
            if spare < 0 { spare = sluice_dup_cloexec(template) }
            var answered = 0
            while answered < limit, spare >= 0 {
                sluice_close(spare)
                spare = -1
                var error: Int32 = 0
                let fd = sluice_accept(listeningSocket, nil, &error)
                guard fd >= 0 else { break }
                answer.withUnsafeBytes { sluice_answer_connection(fd, $0.baseAddress, $0.count) }
                answered += 1
                if sluice_replace_descriptor(template, fd) == fd {
                    spare = fd
                } else {
                    sluice_close(fd)
                }
            }
            // None waiting (or the slot went elsewhere): take it back if it is still free.
            if spare < 0 { spare = sluice_dup_cloexec(template) }
            return answered
        }
    }
}
