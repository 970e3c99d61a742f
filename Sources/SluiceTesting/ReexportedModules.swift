// A test that imports only `SluiceTesting` gets every type its API speaks: the fake upstream
// (`MockServer`, `MockSettings`, `MockFaultHeader`, `MockTokens`) from SluiceMock, the filter
// API types (`FilterRegistry`, `SSEEvent`, `ManualClock`) and the HTTP heads `TestClient` sends
// and returns, and `FilterFileErrors`, which `ProxyHarness` and `FilterTestBench` throw. SluiceMock and
// SluiceConfig are not products of their own, so this is the way a user's package reaches them.
@_exported import SluiceConfig
@_exported import SluiceFilterAPI
@_exported import SluiceHTTP
@_exported import SluiceMock
