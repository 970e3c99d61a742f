/// What a fuzz target found: the code under test answered differently for the same input fed in
/// different ways, or broke a rule its contract states. `description` says which, with enough of
/// both answers to start debugging from the input file.
public struct FuzzFinding: Error, Sendable, CustomStringConvertible {
    /// What went wrong, e.g. "whole and byte-by-byte parses disagree".
    public var message: String
    /// The answers that disagree, or the state that broke the rule.
    public var details: String

    /// A finding with its summary and the evidence.
    public init(_ message: String, details: String = "") {
        self.message = message
        self.details = details
    }

    public var description: String { details.isEmpty ? message : "\(message)\n\(details)" }

    /// Throws a finding when `lhs` and `rhs` differ, naming the two ways of feeding that gave them.
    static func expectEqual<T: Equatable>(
        _ lhs: T, _ rhs: T, _ lhsName: String, _ rhsName: String
    ) throws(FuzzFinding) {
        guard lhs != rhs else { return }
        throw FuzzFinding("\(lhsName) and \(rhsName) disagree", details: "\(lhsName): \(lhs)\n\(rhsName): \(rhs)")
    }
}
