/// A Prometheus text exposition, parsed into samples: what the admin console reads its figures
/// from (on the control loop, off the data path), and what tests assert on `/metrics` with.
///
/// ```swift
/// let scrape = try proxy.metrics()
/// #expect(scrape.value("sluice_requests_total", ["route": "all", "status": "429"]) == 1)
/// ```
public struct MetricsScrape: Sendable {
    /// One line of the exposition: `name{labels} value`.
    public struct Sample: Sendable {
        /// The series name as written (`sluice_ttft_seconds_bucket` for a histogram's bucket).
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    /// The exposition as scraped.
    public let text: String
    /// Every sample, in order.
    public let samples: [Sample]
    /// Metric names with their `# TYPE`.
    public let types: [String: String]

    /// Parses `text`; lines that are not samples or `# TYPE` lines are skipped.
    public init(text: String) {
        self.text = text
        var samples: [Sample] = []
        var types: [String: String] = [:]
        // On the UTF-8 bytes: the console parses a whole exposition per reading, and walking it by
        // `Character` cost some 15 million instructions each time.
        var copy = text
        copy.withUTF8 { bytes in
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count, bytes[lineEnd] != Self.newline { lineEnd += 1 }
                let line = Self.trimmed(UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd]), Self.space)
                lineStart = lineEnd + 1
                if Self.starts(line, with: "# TYPE ") {
                    let parts = UnsafeBufferPointer(rebasing: line[7...]).split(separator: Self.space)
                    if parts.count == 2 { types[Self.string(parts[0])] = Self.string(parts[1]) }
                    continue
                }
                if line.isEmpty || line[0] == Self.hash { continue }
                if let sample = Self.parseSample(line) { samples.append(sample) }
            }
        }
        self.samples = samples
        self.types = types
    }

    /// The sum of the samples named `name` whose labels include all of `labels` (0 when none match).
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        matching(name, labels).reduce(0) { $0 + $1.value }
    }

    /// The samples named `name` whose labels include all of `labels`.
    public func matching(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
    }

    /// True when a sample or a `# TYPE` line names `name` (histograms: the base name).
    public func has(_ name: String) -> Bool {
        types[name] != nil || samples.contains { $0.name == name }
    }

    /// The cumulative count of a histogram's bucket `le` (written as in the exposition, `0.25`).
    public func bucket(_ histogram: String, le: String, _ labels: [String: String] = [:]) -> Double {
        value(histogram + "_bucket", labels.merging(["le": le]) { a, _ in a })
    }

    private static let newline = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")
    private static let hash = UInt8(ascii: "#")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    private static func parseSample(_ line: UnsafeBufferPointer<UInt8>) -> Sample? {
        let name: UnsafeBufferPointer<UInt8>
        var labels: [String: String] = [:]
        let rest: UnsafeBufferPointer<UInt8>
        if let brace = line.firstIndex(of: UInt8(ascii: "{")) {
            name = UnsafeBufferPointer(rebasing: line[..<brace])
            guard let close = line.lastIndex(of: UInt8(ascii: "}")) else { return nil }
            labels = parseLabels(UnsafeBufferPointer(rebasing: line[(brace + 1)..<max(brace + 1, close)]))
            rest = UnsafeBufferPointer(rebasing: line[(close + 1)...])
        } else {
            guard let space = line.firstIndex(of: Self.space) else { return nil }
            name = UnsafeBufferPointer(rebasing: line[..<space])
            rest = UnsafeBufferPointer(rebasing: line[space...])
        }
        let valueText = trimmed(rest, Self.space).split(separator: Self.space).first.map(string) ?? ""
        let value: Double
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let v = Double(valueText) else { return nil }
            value = v
        }
        return Sample(name: string(name[...]), labels: labels, value: value)
    }

    private static func parseLabels(_ text: UnsafeBufferPointer<UInt8>) -> [String: String] {
        var labels: [String: String] = [:]
        var i = 0
        while i < text.count {
            guard let eq = text[i...].firstIndex(of: UInt8(ascii: "=")) else { break }
            let key = trimmed(trimmed(UnsafeBufferPointer(rebasing: text[i..<eq]), Self.space), UInt8(ascii: ","))
            var j = eq + 1
            guard j < text.count, text[j] == Self.quote else { break }
            j += 1
            var value: [UInt8] = []
            while j < text.count, text[j] != Self.quote {
                if text[j] == Self.backslash, j + 1 < text.count {
                    j += 1
                    value.append(text[j] == UInt8(ascii: "n") ? Self.newline : text[j])
                } else {
                    value.append(text[j])
                }
                j += 1
            }
            labels[string(key[...])] = String(decoding: value, as: UTF8.self)
            i = j < text.count ? j + 1 : j
        }
        return labels
    }

    private static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>, _ byte: UInt8) -> UnsafeBufferPointer<UInt8> {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == byte { start += 1 }
        while end > start, bytes[end - 1] == byte { end -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    private static func starts(_ bytes: UnsafeBufferPointer<UInt8>, with prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        let p = prefix.utf8Start
        for k in 0..<n where bytes[k] != p[k] { return false }
        return true
    }

    private static func string(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes), as: UTF8.self)
    }
}
