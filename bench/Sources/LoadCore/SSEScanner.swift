/// What one complete SSE line was, for a load generator that only needs timings.
public enum SSELineKind: Equatable, Sendable {
    /// A `data:` line whose JSON carries a non-empty `"content"` string: a token reached the client.
    case content
    /// `data: [DONE]`: the stream ended properly.
    case done
    /// Any other `data:` line (a role-only delta, a usage chunk, an error event).
    case otherData
    /// A comment, another field, or a blank line.
    case other
}

/// Splits an SSE body into lines as bytes arrive (a line may be cut across reads) and classifies each
/// `data:` line. Keeps at most `maxLine` bytes of a partial line, so a peer cannot grow it without bound.
public struct SSEScanner: Sendable {
    private var partial: [UInt8] = []
    private let maxLine: Int

    public init(maxLine: Int = 64 * 1024) { self.maxLine = maxLine }

    public mutating func reset() { partial.removeAll(keepingCapacity: true) }

    /// Feeds body bytes; calls `onLine` for each complete line, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onLine: (SSELineKind) -> Void) {
        var start = 0
        let n = bytes.count
        while start < n {
            var end = start
            while end < n && bytes[end] != 0x0A { end += 1 }
            if end == n {
                if partial.count + (n - start) <= maxLine {
                    partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<n]))
                }
                return
            }
            if partial.isEmpty {
                onLine(Self.classify(UnsafeRawBufferPointer(rebasing: bytes[start..<end])))
            } else {
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                let kind = partial.withUnsafeBytes { Self.classify($0) }
                partial.removeAll(keepingCapacity: true)
                onLine(kind)
            }
            start = end + 1
        }
    }

    /// Classifies one line without its `\n` (a trailing `\r` is tolerated).
    public static func classify(_ line: UnsafeRawBufferPointer) -> SSELineKind {
        // "data:"
        guard line.count >= 5, line[0] == 0x64, line[1] == 0x61, line[2] == 0x74, line[3] == 0x61, line[4] == 0x3A else {
            return .other
        }
        var i = 5
        if i < line.count && line[i] == 0x20 { i += 1 }
        var end = line.count
        if end > i && line[end - 1] == 0x0D { end -= 1 }
        let rest = UnsafeRawBufferPointer(rebasing: line[i..<end])
        if rest.count == 6 && rest.elementsEqual("[DONE]".utf8) { return .done }
        return hasContent(rest) ? .content : .otherData
    }

    private static let key = Array("\"content\":".utf8)

    /// True when the JSON text holds `"content":` followed (after spaces) by a string that is not empty.
    static func hasContent(_ json: UnsafeRawBufferPointer) -> Bool {
        let k = key
        let n = json.count
        guard n >= k.count + 3 else { return false }
        var i = 0
        while i + k.count + 2 <= n {
            if json[i] == 0x22 {
                var match = true
                for j in 1..<k.count where json[i + j] != k[j] { match = false; break }
                if match {
                    var v = i + k.count
                    while v < n && json[v] == 0x20 { v += 1 }
                    if v + 1 < n && json[v] == 0x22 && json[v + 1] != 0x22 { return true }
                    i = v
                    continue
                }
            }
            i += 1
        }
        return false
    }
}
