/// Why a piece of text (an address, a URL, a name) is malformed, in words for an error message.
/// The caller adds what the text was and where it was written.
struct SyntaxProblem: Error {
    var reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}
