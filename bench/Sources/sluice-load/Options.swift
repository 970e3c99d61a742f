/// The load generator's command line. Every loop it starts is bounded in time by these values.
struct Options: Sendable {
    enum Mode: String, Sendable { case stream, short, hold }

    var host = "127.0.0.1"
    var port = 0
    var mode = Mode.stream
    var concurrency = 1
    var threads = 2
    /// stream/short: no new request after this many seconds.
    var duration = 5.0
    /// stream/short: how long requests in flight at the end of `duration` may take to finish.
    var grace = 10.0
    /// Connections are opened evenly over this many seconds.
    var ramp = 0.0
    /// hold: the longest wait for every stream to have received its first token.
    var holdTimeout = 30.0
    /// hold: the pause between "every stream is live" and the memory sample.
    var settle = 1.0
    var pids: [Int32] = []
    var path = "/v1/chat/completions"
    var model = "bench"
    var label = ""
    /// The bearer token sent with every request.
    var auth = "sk-bench"
    /// Requests one connection may send in all (a bound on every loop).
    var maxRequestsPerConnection = 1_000_000

    static let usage = """
    usage: sluice-load --target HOST:PORT [--mode stream|short|hold] [--concurrency N] [--threads T]
                       [--duration S] [--grace S] [--ramp S] [--hold-timeout S] [--settle S]
                       [--pid PID]... [--path P] [--model M] [--label L] [--auth TOKEN]
    Prints one JSON object with the results. Loopback targets only.
    """

    static func parse(_ args: [String]) throws(OptionError) -> Options {
        var o = Options()
        var i = 0
        func value() throws(OptionError) -> String {
            i += 1
            guard i < args.count else { throw OptionError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        func number(_ text: String) throws(OptionError) -> Double {
            guard let v = Double(text), v >= 0 else { throw OptionError("not a number: \(text)") }
            return v
        }
        func integer(_ text: String) throws(OptionError) -> Int {
            guard let v = Int(text), v >= 1 else { throw OptionError("not a positive integer: \(text)") }
            return v
        }
        while i < args.count {
            switch args[i] {
            case "--target":
                let t = try value()
                guard let colon = t.lastIndex(of: ":"), let p = Int(t[t.index(after: colon)...]) else {
                    throw OptionError("--target expects HOST:PORT")
                }
                o.host = String(t[..<colon])
                o.port = p
            case "--mode":
                guard let m = Mode(rawValue: try value()) else { throw OptionError("--mode is stream, short or hold") }
                o.mode = m
            case "--concurrency": o.concurrency = try integer(try value())
            case "--threads": o.threads = try integer(try value())
            case "--duration": o.duration = try number(try value())
            case "--grace": o.grace = try number(try value())
            case "--ramp": o.ramp = try number(try value())
            case "--hold-timeout": o.holdTimeout = try number(try value())
            case "--settle": o.settle = try number(try value())
            case "--pid": o.pids.append(Int32(try integer(try value())))
            case "--path": o.path = try value()
            case "--model": o.model = try value()
            case "--label": o.label = try value()
            case "--auth": o.auth = try value()
            case "--max-requests": o.maxRequestsPerConnection = try integer(try value())
            case "-h", "--help": throw OptionError(usage)
            default: throw OptionError("unknown option \(args[i])\n\(usage)")
            }
            i += 1
        }
        guard o.port > 0 else { throw OptionError("--target is required\n\(usage)") }
        guard o.host == "127.0.0.1" || o.host == "::1" || o.host == "localhost" else {
            throw OptionError("only loopback targets are allowed")
        }
        o.threads = min(o.threads, o.concurrency)
        return o
    }
}

struct OptionError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
