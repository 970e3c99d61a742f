/// A non-negative decimal number as written in a config value (`1.5` in `1.5s`), kept exact so
/// that `1.5s` is exactly 1_500_000_000 nanoseconds and `1.5KiB` exactly 1536 bytes, with no
/// floating-point rounding.
struct DecimalQuantity {
    /// The digits before the point.
    var whole: Int
    /// The first `fractionDigits` digits after the point, as an integer (`5` for `.5`).
    var fraction: Int
    var fractionDigits: Int
    /// Whether non-zero digits were written beyond the ones kept, which are too small to matter
    /// for any unit here but make the value inexact.
    var droppedNonZeroDigits: Bool

    /// 10^18 still fits in an `Int`, so up to 18 fraction digits are kept exactly.
    private static let maxFractionDigits = 18

    /// Reads `digits[.digits]` at `index` in `scalars`, advancing `index` past it. Nil when no
    /// number starts there, when the point is not followed by a digit, or on overflow.
    static func read(_ scalars: [Unicode.Scalar], at index: inout Int) -> DecimalQuantity? {
        var position = index
        var whole = 0
        var sawDigit = false
        while position < scalars.count, let digit = digitValue(scalars[position]) {
            let (shifted, overflow1) = whole.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = shifted.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            whole = added
            sawDigit = true
            position += 1
        }
        guard sawDigit else { return nil }
        var quantity = DecimalQuantity(whole: whole, fraction: 0, fractionDigits: 0, droppedNonZeroDigits: false)
        if position < scalars.count, scalars[position] == "." {
            position += 1
            var sawFractionDigit = false
            while position < scalars.count, let digit = digitValue(scalars[position]) {
                sawFractionDigit = true
                if quantity.fractionDigits < maxFractionDigits {
                    quantity.fraction = quantity.fraction * 10 + digit
                    quantity.fractionDigits += 1
                } else if digit != 0 {
                    quantity.droppedNonZeroDigits = true
                }
                position += 1
            }
            guard sawFractionDigit else { return nil }
        }
        index = position
        return quantity
    }

    /// This quantity times `unit`, truncated toward zero, and whether that was exact.
    /// Nil when the result does not fit in an `Int`.
    func times(_ unit: Int) -> (value: Int, isExact: Bool)? {
        let (wholePart, overflow) = whole.multipliedReportingOverflow(by: unit)
        if overflow { return nil }
        var divisor = 1
        for _ in 0..<fractionDigits { divisor *= 10 }
        // fraction < 10^18 and unit < 2^63, so the product needs up to 128 bits; the quotient is
        // below `unit` and fits again.
        let (quotient, remainder) = divisor.dividingFullWidth(fraction.multipliedFullWidth(by: unit))
        let (total, overflow2) = wholePart.addingReportingOverflow(quotient)
        if overflow2 { return nil }
        return (total, remainder == 0 && !droppedNonZeroDigits)
    }

    private static func digitValue(_ scalar: Unicode.Scalar) -> Int? {
        guard scalar.value >= 48, scalar.value <= 57 else { return nil }
        return Int(scalar.value - 48)
    }
}
