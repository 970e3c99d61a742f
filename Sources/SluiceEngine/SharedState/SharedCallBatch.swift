import SluiceFilterAPI
import Synchronization

/// A loop turn's shared calls made as one script: the store gathers a worker's calls until the end
/// of the turn (`RedisSharedStore`), then sends each Redis Cluster slot's calls as one script. A
/// request's run of shared filters is one group whose calls stop after the first answer that does not
/// go on (see `SharedLimitFilter`); a lone call (a release, a renewal) is a group of its own. Redis
/// runs a script atomically, so a group decides as its filters would one after the other with no
/// other request in between, and one round trip carries the turn.
///
/// The script is made of the distinct scripts of the calls, each wrapped as a Lua function of its
/// keys and arguments. Layout: `KEYS` are the calls' keys one after the other. `ARGV` is the group
/// count, then per group its call count and whether it stops at a refusal, then per call the index
/// of its function, its key count, argument count and going-on value, then its arguments. The
/// answer is, per group, the number of calls made (-1: a call raised an error, and nothing follows
/// for the group), then per call made its value count and values.
enum SharedCallBatch {
    /// Calls the store makes as one unit.
    struct Group {
        let calls: [SharedCall]
        /// Later calls are not made after an answer that does not go on.
        let stopsAtRefusal: Bool
        let completion: ([SharedStoreAnswer?]) -> Void
    }

    /// The composites made so far, by the scripts they hold. Scripts are made once (`static let`), so
    /// there are few. Any thread.
    private static let composites = Mutex<[[ObjectIdentifier]: (SharedScript, [ObjectIdentifier: Int])]>([:])

    /// The script for `groups`, and its keys and arguments. Any thread.
    static func pack(_ groups: [Group]) -> (script: SharedScript, keys: [String], arguments: [String]) {
        var distinct: [SharedScript] = []
        var seen = Set<ObjectIdentifier>()
        for group in groups {
            for call in group.calls where seen.insert(ObjectIdentifier(call.script)).inserted { distinct.append(call.script) }
        }
        distinct.sort { ($0.name, ObjectIdentifier($0).hashValue) < ($1.name, ObjectIdentifier($1).hashValue) }
        let (script, index) = composite(of: distinct)
        var keys: [String] = []
        var arguments = [String(groups.count)]
        for group in groups {
            arguments += [String(group.calls.count), group.stopsAtRefusal ? "1" : "0"]
            for call in group.calls {
                keys += call.keys
                arguments += [String(index[ObjectIdentifier(call.script)]!), String(call.keys.count),
                              String(call.arguments.count), String(call.goesOnWhenFirstValueIs)]
                arguments += call.arguments
            }
        }
        return (script, keys, arguments)
    }

    private static func composite(of scripts: [SharedScript]) -> (SharedScript, [ObjectIdentifier: Int]) {
        let ids = scripts.map(ObjectIdentifier.init)
        return composites.withLock { made in
            if let known = made[ids] { return known }
            let script = SharedScript(name: "batch(" + scripts.map(\.name).joined(separator: ",") + ")", source: source(for: scripts))
            var index: [ObjectIdentifier: Int] = [:]
            for (i, id) in ids.enumerated() { index[id] = i + 1 }
            made[ids] = (script, index)
            return (script, index)
        }
    }

    static func source(for scripts: [SharedScript]) -> String {
        var lua = ""
        for (i, script) in scripts.enumerated() {
            // Parameters named KEYS and ARGV hide the globals, so each script runs unchanged on its own part.
            lua += "local function call\(i + 1)(KEYS, ARGV)\n\(script.source)\nend\n"
        }
        lua += "local scripts = {" + scripts.indices.map { "call\($0 + 1)" }.joined(separator: ", ") + "}\n"
        lua += """
            local answer = {}
            local k, a = 1, 2
            for g = 1, tonumber(ARGV[1]) do
              local count, stops = tonumber(ARGV[a]), ARGV[a + 1] == '1'
              a = a + 2
              local at = #answer + 1
              answer[at] = 0
              local going = true
              for i = 1, count do
                local fn, keyCount, argumentCount, goesOn = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
                a = a + 4
                local keys, arguments = {}, {}
                for j = 1, keyCount do keys[j] = KEYS[k]; k = k + 1 end
                for j = 1, argumentCount do arguments[j] = ARGV[a]; a = a + 1 end
                if going then
                  local ok, values = pcall(scripts[fn], keys, arguments)
                  if not ok or type(values) ~= 'table' then
                    for j = #answer, at + 1, -1 do answer[j] = nil end
                    answer[at] = -1
                    going = false
                  else
                    answer[at] = i
                    answer[#answer + 1] = #values
                    for j = 1, #values do answer[#answer + 1] = values[j] end
                    if stops and values[1] ~= goesOn then going = false end
                  end
                end
              end
            end
            return answer
            """
        return lua
    }

    /// Each group's answers from the composite's: per call its values, nil when it was not made, or
    /// a failure for all of a group's calls when the script has no answer or the group's raised an error.
    static func unpack(_ answer: SharedStoreAnswer, groups: [Group]) -> [[SharedStoreAnswer?]] {
        func all(_ failed: SharedStoreAnswer) -> [[SharedStoreAnswer?]] {
            groups.map { Array(repeating: failed, count: $0.calls.count) }
        }
        guard case .values(let v) = answer else { return all(answer) }
        let malformed = SharedStoreAnswer.failed(.badAnswer("a batch answer of \(v.count) values for \(groups.count) groups"))
        var result: [[SharedStoreAnswer?]] = []
        var at = 0
        for group in groups {
            guard at < v.count else { return all(malformed) }
            let made = v[at]
            at += 1
            if made == -1 {
                result.append(Array(repeating: .failed(.badAnswer("a script raised an error")), count: group.calls.count))
                continue
            }
            guard made >= 0, made <= group.calls.count else { return all(malformed) }
            var answers: [SharedStoreAnswer?] = []
            for _ in 0..<Int(made) {
                guard at < v.count, v[at] >= 0, at + 1 + Int(v[at]) <= v.count else { return all(malformed) }
                let count = Int(v[at])
                answers.append(.values(Array(v[(at + 1)..<(at + 1 + count)])))
                at += 1 + count
            }
            result.append(answers + Array(repeating: nil, count: group.calls.count - Int(made)))
        }
        guard at == v.count else { return all(malformed) }
        return result
    }
}
