#if canImport(Glibc)
import Glibc

let streamSocketType = Int32(SOCK_STREAM.rawValue)
/// A peer that closed must give EPIPE, not kill the test process with SIGPIPE.
private let sendFlags = Int32(MSG_NOSIGNAL)
#elseif canImport(Darwin)
import Darwin

let streamSocketType = SOCK_STREAM
// Darwin has no MSG_NOSIGNAL; the socket gets SO_NOSIGPIPE instead.
private let sendFlags: Int32 = 0
#endif

/// A TCP connection to a loopback address whose every wait is bounded by a deadline.
///
/// The descriptor is non-blocking and `TCP_NODELAY`; waits use `poll`. Owned by one thread at a
/// time (the test's); closes its descriptor exactly once, in `close()` or at deinit.
final class LoopbackSocket {
    /// What one `read` found.
    enum ReadResult {
        /// Some bytes (never empty).
        case bytes([UInt8])
        /// The peer closed the connection: `reset` is true for an RST (ECONNRESET), false for a FIN.
        case closed(reset: Bool)
        /// Nothing arrived before the deadline.
        case timedOut
    }

    private var descriptor: Int32
    /// Reused by every `read`.
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Connects to `host` (`127.0.0.1`, `::1`, any other IP literal, or `localhost`) and `port`.
    init(host: String, port: Int, deadline: ContinuousClock.Instant, receiveBuffer: Int? = nil) throws(TestClientError) {
        guard (1...65535).contains(port) else { throw .connectFailed("port \(port) is out of range") }
        let literal = host == "localhost" ? "127.0.0.1" : host
        var address = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        if literal.contains(":") {
            family = AF_INET6
            var ipv6 = sockaddr_in6()
            ipv6.sin6_family = sa_family_t(AF_INET6)
            ipv6.sin6_port = in_port_t(UInt16(port)).bigEndian
            guard inet_pton(AF_INET6, literal, &ipv6.sin6_addr) == 1 else {
                throw .connectFailed("\(host) is not an IP address (the test client does no DNS)")
            }
            withUnsafeBytes(of: ipv6) { source in
                withUnsafeMutableBytes(of: &address) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            family = AF_INET
            var ipv4 = sockaddr_in()
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_port = in_port_t(UInt16(port)).bigEndian
            guard inet_pton(AF_INET, literal, &ipv4.sin_addr) == 1 else {
                throw .connectFailed("\(host) is not an IP address (the test client does no DNS)")
            }
            withUnsafeBytes(of: ipv4) { source in
                withUnsafeMutableBytes(of: &address) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }

        descriptor = socket(family, streamSocketType, 0)
        guard descriptor >= 0 else { throw .connectFailed("socket(): \(Self.errorText(errno))") }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        #if canImport(Darwin)
        setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        if let receiveBuffer {
            // Set before connecting, so the window the peer sees is small from the start.
            var size = Int32(receiveBuffer)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL, 0) | O_NONBLOCK)

        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, length) }
        }
        if result != 0 {
            let code = errno
            guard code == EINPROGRESS else {
                close()
                throw .connectFailed("\(host):\(port): \(Self.errorText(code))")
            }
            guard wait(for: Int16(POLLOUT), until: deadline) else {
                close()
                throw .connectFailed("\(host):\(port): no answer before the deadline")
            }
            var failure: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &size)
            if failure != 0 {
                close()
                throw .connectFailed("\(host):\(port): \(Self.errorText(failure))")
            }
        }
    }

    deinit {
        close()
    }

    var isClosed: Bool { descriptor < 0 }

    /// Writes every byte, waiting for buffer space until `deadline`.
    func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(TestClientError) {
        guard !isClosed else { throw .closed }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                send(descriptor, buffer.baseAddress! + offset, buffer.count - offset, sendFlags)
            }
            if written > 0 {
                offset += written
                continue
            }
            let code = errno
            if written < 0 && (code == EAGAIN || code == EWOULDBLOCK || code == EINTR) {
                guard wait(for: Int16(POLLOUT), until: deadline) else {
                    throw .timedOut("room to send \(bytes.count - offset) more request bytes")
                }
                continue
            }
            throw .sendFailed(Self.errorText(code))
        }
    }

    /// Reads what is available, waiting until `deadline` for at least one byte or the close.
    func read(deadline: ContinuousClock.Instant) -> ReadResult {
        guard !isClosed else { return .closed(reset: false) }
        while true {
            let count = readBuffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 { return .bytes(Array(readBuffer[..<count])) }
            if count == 0 { return .closed(reset: false) }
            let code = errno
            guard code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
                // ECONNRESET, or any other failure: the stream ends for the test as an abort would.
                return .closed(reset: true)
            }
            guard wait(for: Int16(POLLIN), until: deadline) else { return .timedOut }
        }
    }

    /// Shuts down the sending side (`shutdown(SHUT_WR)`): the peer reads an end of stream, and this
    /// side can still read. Does nothing once closed.
    func shutdownSending() {
        guard descriptor >= 0 else { return }
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Closes the descriptor; later calls do nothing.
    func close() {
        guard descriptor >= 0 else { return }
        #if canImport(Glibc)
        Glibc.close(descriptor)
        #else
        Darwin.close(descriptor)
        #endif
        descriptor = -1
    }

    /// Polls for `events` until `deadline`; true when the descriptor is ready (or failed, which
    /// the next call reports).
    private func wait(for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { return false }
            let (seconds, attoseconds) = remaining.components
            // Round up so a sub-millisecond remainder still waits instead of spinning.
            let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: milliseconds))
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return true }
        }
    }

    private static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
