/// Parsers and printers for the unit-carrying values of config files. `ConfigMap`'s getters use
/// them; they are public for values that arrive some other way (a mock endpoint's query string,
/// a header) and should read the same.
public enum ConfigParse {
    /// Reads a duration: one or more `<number><unit>` parts with no spaces between them, e.g.
    /// `250ms`, `30s`, `1.5s`, `5m`, `1h`, `100us`, `1m30s`. Units: `h`, `m`, `s`, `ms`, `us`
    /// (also `µs`), `ns`. Numbers are non-negative decimals; precision below a nanosecond is
    /// dropped. Leading and trailing whitespace is ignored.
    ///
    /// Returns nil for anything else, notably a bare number (`30`), whose unit would be a guess,
    /// and for durations longer than about 292 years.
    public static func duration(_ text: String) -> Duration? {
        let scalars = Array(text.trimmingConfigWhitespace.unicodeScalars)
        guard !scalars.isEmpty else { return nil }
        var index = 0
        var nanoseconds = 0
        while index < scalars.count {
            guard let quantity = DecimalQuantity.read(scalars, at: &index) else { return nil }
            let unitStart = index
            while index < scalars.count, isUnitLetter(scalars[index]) { index += 1 }
            let unit = String(String.UnicodeScalarView(scalars[unitStart..<index]))
            guard let unitNanoseconds = durationUnits[unit],
                  let part = quantity.times(unitNanoseconds) else { return nil }
            let (sum, overflow) = nanoseconds.addingReportingOverflow(part.value)
            if overflow { return nil }
            nanoseconds = sum
        }
        return .nanoseconds(nanoseconds)
    }

    /// Reads a byte count: a non-negative integer (bytes), or a number with a unit, optionally
    /// separated by spaces: `512B`, `64KB`, `1MB`, `1GB`, `1TB` (powers of 1000), `256KiB`,
    /// `10MiB`, `1GiB`, `1TiB` (powers of 1024), `1.5MiB`. Units are case-sensitive, because
    /// `kb` and `Kb` are ambiguous. Returns nil for anything else, including values that are
    /// not a whole number of bytes (`1.5B`) and values that do not fit in an `Int`.
    public static func size(_ text: String) -> Int? {
        let scalars = Array(text.trimmingConfigWhitespace.unicodeScalars)
        var index = 0
        guard let quantity = DecimalQuantity.read(scalars, at: &index) else { return nil }
        while index < scalars.count, scalars[index] == " " { index += 1 }
        let unit = String(String.UnicodeScalarView(scalars[index...]))
        if unit.isEmpty {
            guard quantity.fractionDigits == 0, !quantity.droppedNonZeroDigits else { return nil }
            return quantity.whole
        }
        guard let unitBytes = sizeUnits[unit], let bytes = quantity.times(unitBytes), bytes.isExact else {
            return nil
        }
        return bytes.value
    }

    /// Prints a duration the way `duration(_:)` reads it, in the largest unit that keeps it a
    /// whole number: `1h`, `90s`, `1500ms`, `0s`. Negative durations get a leading `-`.
    public static func durationText(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        // Durations in config files stay far below the ~292 years an Int of nanoseconds holds.
        let nanoseconds = Int(truncatingIfNeeded: seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
        if nanoseconds == 0 { return "0s" }
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = nanoseconds.magnitude
        for (unit, size) in durationUnitsLargestFirst where magnitude % UInt(size) == 0 {
            return "\(sign)\(magnitude / UInt(size))\(unit)"
        }
        return "\(sign)\(magnitude)ns"
    }

    /// Prints a byte count the way `size(_:)` reads it: the largest 1024-based unit that keeps
    /// it whole, else the largest 1000-based one, else bytes: `32KiB`, `10MiB`, `64KB`, `100B`.
    public static func sizeText(_ bytes: Int) -> String {
        guard bytes > 0 else { return "\(bytes)B" }
        for (unit, size) in [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
                             ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000)]
        where bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)B"
    }

    private static let durationUnitsLargestFirst: [(String, Int)] = [
        ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
        ("ms", 1_000_000), ("us", 1_000), ("ns", 1),
    ]

    private static let durationUnits: [String: Int] = {
        var units = Dictionary(uniqueKeysWithValues: durationUnitsLargestFirst)
        units["µs"] = 1_000  // U+00B5 MICRO SIGN
        units["μs"] = 1_000  // U+03BC GREEK SMALL LETTER MU, which keyboards often produce instead
        return units
    }()

    private static let sizeUnits: [String: Int] = [
        "B": 1,
        "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000, "TB": 1_000_000_000_000,
        "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
    ]

    private static func isUnitLetter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic
    }
}

fileprivate extension String {
    /// The text without leading and trailing spaces and tabs.
    var trimmingConfigWhitespace: Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }),
              let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return self[first...last]
    }
}
