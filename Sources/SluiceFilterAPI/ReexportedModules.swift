// The filter API speaks HTTP heads (`exchange.request`, `Decision.reply`): a filter that imports
// `SluiceFilterAPI` gets `HTTPRequestHead`, `HTTPResponseHead` and `HTTPHeaders` with it, since
// SluiceHTTP is not a product of its own.
@_exported import SluiceHTTP

// Filters report what they decide through swift-metrics handles made with `FilterSetup.metrics`:
// `Counter`, `Gauge`, `Recorder` and `Timer` come with the filter API too.
@_exported import CoreMetrics
