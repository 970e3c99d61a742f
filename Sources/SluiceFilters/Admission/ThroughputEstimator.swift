#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceFilterAPI

/// How many units (content events or tokens) per second the live streams produce together: an
/// exponentially weighted moving average per stream with time constant `window`, summed over the
/// streams that are live now. Clock-injected: every call takes the instant, so tests drive it with
/// a `ManualClock`.
///
/// A stream is `started` when it is admitted, `record`s units as its events arrive, and is
/// `ended` when it finishes; its share of the total leaves at once then, rather than fading.
///
/// - A stream's first unit only marks when it began producing; the rate comes from the units
///   after it. A stream with no rate yet is *pending*.
/// - A young stream's average is corrected for its short history (divided by
///   `1 - exp(-age / window)`), so a new stream counts at its real pace from its second unit
///   on, not at a fraction of it while the average warms up.
/// - Silence lowers the estimate: a stream that stops producing fades by `exp(-t / window)`.
/// - `projectedRate` adds each pending stream at the mean rate of the measured ones, so a burst
///   of admissions is counted before their first events arrive. With no measured stream there is
///   no mean, and pending streams count zero.
///
/// A value type; not thread-safe on its own (the admission filter keeps it behind its mutex).
/// `record` and `streamEnded` are O(1); the rates cost O(streams younger than 4 windows).
public struct ThroughputEstimator: Sendable {
    public typealias StreamID = UInt64

    private struct Stream: Sendable {
        /// The stream's moving average in units per second, as of `updated`, without the
        /// young-stream correction.
        var value: Double = 0
        var updated: MonotonicInstant
        /// When the first unit arrived.
        var firstUnit: MonotonicInstant?
        /// True once units came after the first one: the stream has a rate.
        var measured = false
    }

    /// The averaging time constant.
    public let window: Duration
    private let tau: Double
    private var streams: [StreamID: Stream] = [:]
    /// Sum of every live stream's `value`, as of `totalUpdated` (the linearity of the average lets
    /// one number stand for the sum, decayed once).
    private var total: Double = 0
    private var totalUpdated: MonotonicInstant?
    /// Measured streams young enough for the warm-up correction to matter.
    private var warming: Set<StreamID> = []
    /// Live streams with a rate.
    public private(set) var measuredStreams = 0

    /// The correction is dropped once a stream is this many windows old (it is then under 2%).
    private static let warmWindows = 4.0

    public init(window: Duration = .seconds(1)) {
        precondition(window > .zero, "the window must be positive")
        self.window = window
        self.tau = window.seconds
    }

    /// Live streams, measured or pending.
    public var liveStreams: Int { streams.count }
    /// Live streams without a rate yet.
    public var pendingStreams: Int { streams.count - measuredStreams }

    /// Registers a live stream. Starting a stream that is live already does nothing.
    public mutating func streamStarted(_ id: StreamID, at now: MonotonicInstant) {
        // One lookup (it hashes the id) for a new stream, the usual case: a live one is put back.
        if let live = streams.updateValue(Stream(updated: now), forKey: id) { streams[id] = live }
    }

    /// Adds `units` the stream produced at `now`. Ignored for streams that are not live, and for
    /// counts that are not positive.
    public mutating func record(_ id: StreamID, units: Double, at now: MonotonicInstant) {
        guard units > 0, var stream = streams[id] else { return }
        var added = units
        if stream.firstUnit == nil {
            // The first unit is a marker: a rate needs two points in time.
            stream.firstUnit = now
            stream.updated = now
            added -= 1
        }
        if added > 0 {
            stream.value = stream.value * decay(from: stream.updated, to: now) + added / tau
            stream.updated = now
            decayTotal(to: now)
            total += added / tau
            if !stream.measured {
                stream.measured = true
                measuredStreams += 1
                warming.insert(id)
            }
        }
        streams[id] = stream
    }

    /// Removes the stream and its share of the total at once. Returns false, changing nothing, when
    /// the stream was not live.
    @discardableResult
    public mutating func streamEnded(_ id: StreamID, at now: MonotonicInstant) -> Bool {
        guard let stream = streams.removeValue(forKey: id) else { return false }
        if stream.measured {
            measuredStreams -= 1
            warming.remove(id)
            decayTotal(to: now)
            total -= stream.value * decay(from: stream.updated, to: now)
        }
        if streams.isEmpty || measuredStreams == 0 {
            // Nothing measured is left; clear the rounding error the subtractions leave behind.
            total = 0
        }
        total = max(0, total)
        return true
    }

    /// The live streams' combined rate at `now`, in units per second.
    public mutating func rate(at now: MonotonicInstant) -> Double {
        decayTotal(to: now)
        var sum = max(0, total)
        for id in warming {
            guard let stream = streams[id], let first = stream.firstUnit else { continue }
            let age = now.since(first).seconds
            if age >= Self.warmWindows * tau {
                warming.remove(id)
                continue
            }
            let covered = 1 - exp(-age / tau)
            guard covered > 0 else { continue }
            let current = stream.value * decay(from: stream.updated, to: now)
            sum += current * (1 / covered - 1)
        }
        return sum
    }

    /// The mean rate of a measured stream at `now`, or nil when none is measured.
    public mutating func meanStreamRate(at now: MonotonicInstant) -> Double? {
        guard measuredStreams > 0 else { return nil }
        return rate(at: now) / Double(measuredStreams)
    }

    /// `rate(at:)` plus every pending stream at the mean measured rate (zero when none is measured).
    public mutating func projectedRate(at now: MonotonicInstant) -> Double {
        let measured = rate(at: now)
        guard measuredStreams > 0 else { return measured }
        return measured + Double(pendingStreams) * measured / Double(measuredStreams)
    }

    private mutating func decayTotal(to now: MonotonicInstant) {
        if let last = totalUpdated {
            total *= decay(from: last, to: now)
        }
        if totalUpdated == nil || totalUpdated! < now { totalUpdated = now }
    }

    private func decay(from earlier: MonotonicInstant, to now: MonotonicInstant) -> Double {
        exp(-now.since(earlier).seconds / tau)
    }
}
