/// A filter that holds part of a shared limit ahead of need (batch mode: a slice of a token bucket,
/// a block of stream slots) and gives it back to the shared store when the process stops, so other
/// instances can use it at once instead of after it expires.
///
/// The engine calls `giveBack` once, when it stops, after every exchange has ended, on the loop
/// thread of `worker`; the filter sends what it holds back through its store on that worker and calls
/// `done` once every answer came (or failed). The engine waits for `done` at most the store's
/// timeout, then stops anyway: what was not given back expires on its own.
public protocol SharedHoldings: Filter {
    func giveBack(worker: Int, _ done: @escaping () -> Void)
}
