// A test that imports only `SluiceTesting` gets every type its API speaks: the fake upstream
// (`MockServer`, `MockSettings`, `MockFaultHeader`, `MockTokens`) from SluiceMock, the filter
// API types (`FilterRegistry`, `SSEEvent`, `ManualClock`) and the HTTP heads `TestClient` sends
// and returns. SluiceMock is not a product of its own, so this is the only way a user's package reaches it.
@_exported import SluiceFilterAPI
@_exported import SluiceHTTP
@_exported import SluiceMock
