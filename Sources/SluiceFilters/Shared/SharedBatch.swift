import SluiceFilterAPI

/// `shared: { batch: N, hold: D }`: a shared limit in batch mode. Instead of one script per request,
/// an instance takes up to `size` units of the limit from Redis at once (a slice of a token bucket,
/// a block of stream slots) and answers requests from them locally, with no round trip.
///
/// The bounds, for `I` instances sharing one limit:
/// - over-admission is zero: every unit an instance admits locally was first taken from Redis by an
///   atomic script, so all instances together never admit more than the limit;
/// - under-admission (stranding) is bounded: each instance holds at most `size` units it has not
///   used yet, so at most `I × size` units are held where no request needs them; unspent tokens go
///   back after `hold`, idle stream slots after `hold` (or at most `lease_ttl` after an instance
///   died).
///
/// `shared: true` alone is the exact mode: one script per request, nothing held ahead.
struct SharedBatch: Sendable, Equatable {
    /// `batch`: the most units one instance holds unused, and the most it asks for at once.
    let size: Int
    /// `hold`: how long unspent tokens or idle slots stay with the instance before they go back.
    let hold: Duration

    static let defaultHold: Duration = .seconds(1)
}
