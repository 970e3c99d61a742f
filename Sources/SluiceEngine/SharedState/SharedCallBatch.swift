import SluiceFilterAPI
import Synchronization

/// Several filters' shared calls made as one script, so a request pays one round trip to Redis for
/// a run of shared filters (see `SharedLimitFilter`). The script is made of the calls' own scripts,
/// each wrapped as a Lua function of its keys and arguments, and runs them in order, stopping after
/// the first answer that does not go on. Redis runs a script atomically, so the batch decides as
/// the filters would one after the other with no other request in between.
///
/// Layout. `KEYS` are the calls' keys one after the other. `ARGV` holds, per call, its key count,
/// argument count and going-on value, then its arguments. The answer is the number of calls made,
/// then per call made its value count and values.
enum SharedCallBatch {
    /// The composite scripts made so far, by the scripts they are made of. Scripts are made once
    /// (`static let`), so a chain needs one composite per pattern of calls. Any thread.
    private static let composites = Mutex<[[ObjectIdentifier]: SharedScript]>([:])

    /// The script running `scripts` in order. Any thread.
    static func script(for scripts: [SharedScript]) -> SharedScript {
        let ids = scripts.map(ObjectIdentifier.init)
        return composites.withLock { made in
            if let known = made[ids] { return known }
            let composite = SharedScript(name: "batch(" + scripts.map(\.name).joined(separator: ",") + ")",
                                         source: source(for: scripts))
            made[ids] = composite
            return composite
        }
    }

    static func source(for scripts: [SharedScript]) -> String {
        var lua = ""
        for (i, script) in scripts.enumerated() {
            // Parameters named KEYS and ARGV hide the globals, so each script runs unchanged on its own part.
            lua += "local function call\(i + 1)(KEYS, ARGV)\n\(script.source)\nend\n"
        }
        lua += "local calls = {" + scripts.indices.map { "call\($0 + 1)" }.joined(separator: ", ") + "}\n"
        lua += """
            local answer = {0}
            local k, a = 1, 1
            for i = 1, #calls do
              local keyCount, argumentCount, goesOn = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
              a = a + 3
              local keys, arguments = {}, {}
              for j = 1, keyCount do keys[j] = KEYS[k]; k = k + 1 end
              for j = 1, argumentCount do arguments[j] = ARGV[a]; a = a + 1 end
              local values = calls[i](keys, arguments)
              answer[1] = i
              answer[#answer + 1] = #values
              for j = 1, #values do answer[#answer + 1] = values[j] end
              if values[1] ~= goesOn then break end
            end
            return answer
            """
        return lua
    }

    /// The keys and arguments of the composite for `calls`.
    static func pack(_ calls: [SharedCall]) -> (keys: [String], arguments: [String]) {
        var keys: [String] = []
        var arguments: [String] = []
        for call in calls {
            keys += call.keys
            arguments += [String(call.keys.count), String(call.arguments.count), String(call.goesOnWhenFirstValueIs)]
            arguments += call.arguments
        }
        return (keys, arguments)
    }

    /// Each call's answer from the composite's: its values, nil when it was not made, or the failure
    /// for all of them when the batch has no answer.
    static func unpack(_ answer: SharedStoreAnswer, calls: Int) -> [SharedStoreAnswer?] {
        guard case .values(let v) = answer else { return Array(repeating: answer, count: calls) }
        let malformed = SharedStoreAnswer.failed(.badAnswer("a batch answer of \(v.count) values for \(calls) calls"))
        guard let made = v.first, made >= 0, made <= calls else { return Array(repeating: malformed, count: calls) }
        var answers: [SharedStoreAnswer?] = []
        var at = 1
        for _ in 0..<Int(made) {
            guard at < v.count, v[at] >= 0, at + 1 + Int(v[at]) <= v.count else { return Array(repeating: malformed, count: calls) }
            let count = Int(v[at])
            answers.append(.values(Array(v[(at + 1)..<(at + 1 + count)])))
            at += 1 + count
        }
        guard at == v.count else { return Array(repeating: malformed, count: calls) }
        return answers + Array(repeating: nil, count: calls - Int(made))
    }
}
