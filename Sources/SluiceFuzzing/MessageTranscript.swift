import SluiceHTTP

/// Everything a parser reported for one input, fed in a given way, in a form that compares: the
/// messages it completed, the one in progress when the input ended, and how it ended.
///
/// After an error only the status is kept, with the messages completed before it: how far the
/// failing message got before the error depends, legitimately, on how the bytes were cut.
struct MessageTranscript: Equatable, CustomStringConvertible {
    /// One message: its head as the parser's writer renders it, its framing, its decoded body.
    struct Message: Equatable {
        var head: [UInt8]
        var framing: BodyFraming
        var body: [UInt8] = []
    }

    var messages: [Message] = []
    var partial: Message?
    /// "error <status>", or what the end of input meant ("idle", "open", an `EOFOutcome`).
    var ending = ""
    /// Offsets (into the whole input) just past the byte that completed each head. Only exact when
    /// the input was fed one byte at a time; not part of the comparison.
    var headEnds: [Int] = []
    /// Offset where each message started (after the previous one ended); not compared either.
    var messageStarts: [Int] = []

    static func == (lhs: MessageTranscript, rhs: MessageTranscript) -> Bool {
        lhs.messages == rhs.messages && lhs.partial == rhs.partial && lhs.ending == rhs.ending
    }

    var description: String {
        func text(_ m: Message) -> String {
            "\(String(decoding: m.head, as: UTF8.self).debugDescription) \(m.framing) body \(String(decoding: m.body, as: UTF8.self).debugDescription)"
        }
        var lines = messages.map(text)
        if let partial { lines.append("partial: " + text(partial)) }
        lines.append("ending: \(ending)")
        return lines.joined(separator: "\n  ")
    }
}

/// Feeds an input to a fresh parser in the given pieces, pipelining: after each `.end` the parser
/// is reset and the rest of the piece goes to the next message, as a connection does.
enum MessageTranscriber {
    /// At most this many messages are read from one input, so a fuzzer cannot make one run long.
    static let maxMessages = 16

    static func transcript<Parser: MessageParser>(
        _ parser: Parser, _ input: UnsafeRawBufferPointer, pieces: [Int], headRequest: Bool
    ) throws(FuzzFinding) -> MessageTranscript {
        var parser = parser
        var transcript = MessageTranscript()
        var current: MessageTranscript.Message?
        var finding: FuzzFinding?
        var offset = 0
        var headSeen = false
        parser.prepare(headRequest: headRequest)
        transcript.messageStarts.append(0)

        func record(_ event: HTTPParseEvent<Parser.Head>, at position: Int) {
            switch event {
            case .head(let head):
                current = .init(head: Parser.wireForm(of: head), framing: .none)
                headSeen = true
                transcript.headEnds.append(position)
            case .body(let bytes):
                if current == nil { finding = FuzzFinding("body event before any head") }
                current?.body.append(contentsOf: bytes)
            case .end:
                guard let message = current else {
                    finding = FuzzFinding("end event before any head")
                    return
                }
                transcript.messages.append(message)
                current = nil
            }
        }

        InputSplits.forEachPiece(of: input, lengths: pieces) { piece in
            var rest = piece
            while !rest.isEmpty, transcript.messages.count < maxMessages {
                let used: Int
                let pieceEnd = offset + rest.count
                do throws(HTTPParseError) {
                    headSeen = false
                    used = try parser.parse(rest) { record($0, at: pieceEnd) }
                } catch {
                    transcript.ending = "error \(error.status)"
                    current = nil
                    return false
                }
                // The framing can only be read between calls; a call reports at most one message,
                // which may already have ended.
                if headSeen {
                    if current != nil {
                        current?.framing = parser.framing
                    } else if !transcript.messages.isEmpty {
                        transcript.messages[transcript.messages.count - 1].framing = parser.framing
                    }
                }
                if finding != nil { return false }
                guard used <= rest.count else {
                    finding = FuzzFinding("parse consumed more than it was given", details: "\(used) of \(rest.count)")
                    return false
                }
                offset += used
                guard parser.isComplete else {
                    if used != rest.count {
                        finding = FuzzFinding(
                            "parse left bytes unread without completing a message", details: "\(used) of \(rest.count)")
                        return false
                    }
                    break
                }
                parser.reset()
                parser.prepare(headRequest: headRequest)
                transcript.messageStarts.append(offset)
                rest = UnsafeRawBufferPointer(rebasing: rest[used...])
            }
            return transcript.messages.count < maxMessages
        }
        if let finding { throw finding }
        if transcript.ending.isEmpty {
            transcript.ending = parser.finishInput { record($0, at: offset) }
            if let finding { throw finding }
        }
        transcript.partial = current
        return transcript
    }
}
