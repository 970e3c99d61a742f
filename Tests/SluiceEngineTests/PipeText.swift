import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process's output pipe, read with deadlines (`poll`): keeps what was read, so a test can
/// wait for a line the process prints, or for its end (a crash closes the pipe). One thread.
final class PipeText {
    private let fd: Int32
    private(set) var text = ""
    private(set) var ended = false

    init(_ pipe: Pipe) { fd = pipe.fileHandleForReading.fileDescriptor }

    /// Reads until `condition` holds for everything read so far, the pipe ends, or `deadline`
    /// passes; answers whether the condition held.
    @discardableResult
    func wait(until deadline: ContinuousClock.Instant, for condition: (String) -> Bool) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while !condition(text), !ended {
            let remaining = deadline - .now
            guard remaining > .zero else { return false }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard poll(&entry, 1, milliseconds) > 0 else { continue }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { ended = true } else { text += String(decoding: buffer[..<n], as: UTF8.self) }
        }
        return condition(text)
    }

    /// Occurrences of `needle` in what was read so far.
    func count(of needle: String) -> Int { text.components(separatedBy: needle).count - 1 }
}
