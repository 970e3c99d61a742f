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
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(" ")
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                if parts.count == 2 { types[String(parts[0])] = String(parts[1]) }
                continue
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let sample = Self.parseSample(line) { samples.append(sample) }
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

    private static func parseSample(_ line: Substring) -> Sample? {
        var name = Substring()
        var labels: [String: String] = [:]
        var rest: Substring
        if let brace = line.firstIndex(of: "{") {
            name = line[..<brace]
            guard let close = line.lastIndex(of: "}") else { return nil }
            labels = parseLabels(line[line.index(after: brace)..<close])
            rest = line[line.index(after: close)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = line[..<space]
            rest = line[space...]
        }
        let valueText = rest.trimmingCharacters(" ").split(separator: " ").first ?? ""
        let value: Double
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let v = Double(valueText) else { return nil }
            value = v
        }
        return Sample(name: String(name), labels: labels, value: value)
    }

    private static func parseLabels(_ text: Substring) -> [String: String] {
        var labels: [String: String] = [:]
        var i = text.startIndex
        while i < text.endIndex {
            guard let eq = text[i...].firstIndex(of: "=") else { break }
            let key = text[i..<eq].trimmingCharacters(" ").trimmingCharacters(",")
            var j = text.index(after: eq)
            guard j < text.endIndex, text[j] == "\"" else { break }
            j = text.index(after: j)
            var value = ""
            while j < text.endIndex, text[j] != "\"" {
                if text[j] == "\\", text.index(after: j) < text.endIndex {
                    j = text.index(after: j)
                    value.append(text[j] == "n" ? "\n" : text[j])
                } else {
                    value.append(text[j])
                }
                j = text.index(after: j)
            }
            labels[String(key)] = value
            i = j < text.endIndex ? text.index(after: j) : j
        }
        return labels
    }
}

private extension Substring {
    func trimmingCharacters(_ c: Character) -> Substring {
        var s = self
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return s
    }
}
