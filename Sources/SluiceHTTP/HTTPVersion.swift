/// An HTTP protocol version as it appears on a start line ("HTTP/1.1").
///
/// The codec only accepts HTTP/1.0 and HTTP/1.1 on the wire; other values can be represented so that callers can
/// describe what they saw, but the parsers reject them with `505 HTTP Version Not Supported`.
public struct HTTPVersion: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// The start-line spelling, e.g. `HTTP/1.1`.
    public var description: String { "HTTP/\(major).\(minor)" }

    /// Appends the start-line spelling without going through string interpolation (this is on the write path).
    func write(into buffer: inout [UInt8]) {
        if self == .http1_1 {
            buffer.append(contentsOf: ASCII.http1_1)
        } else if self == .http1_0 {
            buffer.append(contentsOf: ASCII.http1_0)
        } else {
            buffer.append(contentsOf: description.utf8)
        }
    }
}
