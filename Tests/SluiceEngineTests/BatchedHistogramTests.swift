@testable import SluiceEngine
import Testing

/// The token-gap histogram is fed in batches: a stream's samples reach it every `flushEvery` samples
/// and when added explicitly, and it renders as a Prometheus histogram.
struct BatchedHistogramTests {
    @Test func aBatchReachesTheHistogramWhenFullOrAdded() {
        let histogram = BatchedHistogram(bounds: [0.01, 0.1, 1])
        var batch = BatchedHistogram.Batch()
        for i in 1..<BatchedHistogram.Batch.flushEvery {
            let full = batch.record(.milliseconds(5), bounds: histogram.bounds)
            #expect(!full, "\(i)")
        }
        let full = batch.record(.milliseconds(50), bounds: histogram.bounds)
        #expect(full)
        histogram.add(&batch)
        #expect(batch.samples == 0)
        _ = batch.record(.seconds(2), bounds: histogram.bounds)
        _ = batch.record(.milliseconds(100), bounds: histogram.bounds)
        histogram.add(&batch)
        histogram.add(&batch)  // empty: changes nothing
        var text: [UInt8] = []
        histogram.emit(name: "g", labels: "route=\"r\"", into: &text)
        let n = BatchedHistogram.Batch.flushEvery
        #expect(String(decoding: text, as: UTF8.self) == """
            g_bucket{route="r",le="0.01"} \(n - 1)
            g_bucket{route="r",le="0.1"} \(n + 1)
            g_bucket{route="r",le="1.0"} \(n + 1)
            g_bucket{route="r",le="+Inf"} \(n + 2)
            g_sum{route="r"} \(Double(n - 1) * 0.005 + 0.05 + 2 + 0.1)
            g_count{route="r"} \(n + 2)

            """)
    }
}
