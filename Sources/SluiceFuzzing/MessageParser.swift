import SluiceHTTP

/// What the HTTP fuzz targets need from a parser, so one transcriber drives requests and responses
/// alike. `HTTPRequestParser` and `HTTPResponseParser` conform as they are.
protocol MessageParser {
    associatedtype Head
    mutating func parse(_ input: UnsafeRawBufferPointer, _ onEvent: (HTTPParseEvent<Head>) -> Void) throws(HTTPParseError) -> Int
    mutating func reset()
    var isComplete: Bool { get }
    var isIdle: Bool { get }
    var framing: BodyFraming { get }
    /// The head in wire form, byte for byte as the parser's own writer puts it.
    static func wireForm(of head: Head) -> [UInt8]
    /// Called before each message: a response parser is told which request it answers.
    mutating func prepare(headRequest: Bool)
    /// The input ended: a response parser ends a close-delimited body here (its `.end` goes to
    /// `onEvent`). Answers what the end meant, for the transcript.
    mutating func finishInput(_ onEvent: (HTTPParseEvent<Head>) -> Void) -> String
}

extension HTTPRequestParser: MessageParser {
    static func wireForm(of head: HTTPRequestHead) -> [UInt8] {
        var bytes: [UInt8] = []
        head.write(into: &bytes)
        return bytes
    }

    mutating func prepare(headRequest: Bool) {}

    mutating func finishInput(_ onEvent: (HTTPParseEvent<HTTPRequestHead>) -> Void) -> String {
        isIdle ? "idle" : "open"
    }
}

extension HTTPResponseParser: MessageParser {
    static func wireForm(of head: HTTPResponseHead) -> [UInt8] {
        var bytes: [UInt8] = []
        head.write(into: &bytes)
        return bytes
    }

    mutating func prepare(headRequest: Bool) {
        expectResponse(toMethod: headRequest ? "HEAD" : "GET")
    }

    mutating func finishInput(_ onEvent: (HTTPParseEvent<HTTPResponseHead>) -> Void) -> String {
        "\(finishAtEOF(onEvent))"
    }
}
