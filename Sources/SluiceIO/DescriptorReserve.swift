import CLibevent
import Synchronization

/// One descriptor held open in reserve (on /dev/null), so that a listener whose accept fails for
/// want of descriptors (EMFILE, ENFILE) can still take a waiting client, give it a short answer
/// and close it, instead of leaving it in the backlog with no word. One per process, shared by
/// every listener. Any thread.
public final class DescriptorReserve: Sendable {
    private let spare: Mutex<Int32>

    /// Opens the spare descriptor now (when the process is far from its limit).
    public init() {
        spare = Mutex(sluice_open_spare_descriptor())
    }

    deinit {
        spare.withLock { if $0 >= 0 { sluice_close($0) } }
    }

    /// Frees the spare, answers up to `limit` connections waiting on `listeningSocket` with
    /// `answer` (each accepted, answered and closed at once), and takes the spare back. Answers how
    /// many it answered. When the spare is gone (another thread took the freed descriptor before
    /// it could be reopened), it tries to reopen it first and answers none if it cannot.
    func answerWaiting(on listeningSocket: Int32, with answer: [UInt8], limit: Int) -> Int {
        spare.withLock { spare in
            if spare < 0 { spare = sluice_open_spare_descriptor() }
            guard spare >= 0 else { return 0 }
            sluice_close(spare)
            var answered = 0
            while answered < limit, answer.withUnsafeBytes({ sluice_answer_pending_connection(listeningSocket, $0.baseAddress, $0.count) }) == 1 {
                answered += 1
            }
            spare = sluice_open_spare_descriptor()
            return answered
        }
    }
}
