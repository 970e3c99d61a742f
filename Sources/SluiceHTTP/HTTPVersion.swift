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
    func write(into writer: inout HeadWriter) {
        if minor == 1 && major == 1 {
            writer.append(UnsafeRawBufferPointer(start: Self.spelling1_1.utf8Start, count: 8))
        } else if minor == 0 && major == 1 {
            writer.append(UnsafeRawBufferPointer(start: Self.spelling1_0.utf8Start, count: 8))
        } else {
            writer.append(description)
        }
    }

    /// The bytes `write(into:)` writes.
    var writeBound: Int { major == 1 && (minor == 0 || minor == 1) ? 8 : description.utf8.count }

    private static let spelling1_1: StaticString = "HTTP/1.1"
    private static let spelling1_0: StaticString = "HTTP/1.0"
}
