/// One run of a shared script that a filter's request hook depends on, described so that the engine
/// can make it ahead of the hook, in one round trip with the calls of the filters around it
/// (see `SharedLimitFilter`).
public struct SharedCall: Sendable {
    public let script: SharedScript
    public let keys: [String]
    public let arguments: [String]
    /// The first value of an answer that lets the request go on to the next filter. Any other first
    /// value is a refusal: in a batch, the calls after it are not made, as the filters after a refusal
    /// would not have run.
    public let goesOnWhenFirstValueIs: Int64

    public init(script: SharedScript, keys: [String], arguments: [String], goesOnWhenFirstValueIs: Int64) {
        self.script = script
        self.keys = keys
        self.arguments = arguments
        self.goesOnWhenFirstValueIs = goesOnWhenFirstValueIs
    }
}

extension SharedStore {
    /// Makes one call on its own. Same contract as `run(_:keys:arguments:worker:_:)`.
    public func run(_ call: SharedCall, worker: Int, _ completion: @escaping (SharedStoreAnswer) -> Void) {
        run(call.script, keys: call.keys, arguments: call.arguments, worker: worker, completion)
    }
}
