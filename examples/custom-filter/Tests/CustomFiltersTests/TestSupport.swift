import CustomFilters
import Foundation
import SluiceFilters
import SluiceTesting

/// The registry the example binary uses: the built-in filters and the example's.
func exampleRegistry() -> FilterRegistry {
    let registry = BuiltinFilters.registry()
    CustomFilters.register(into: registry)
    return registry
}

/// Keys used by the tests, as `keysFileText` lists them.
enum TestKeys {
    static let alice = "sk-test-alice-1111"
    static let aliceSecond = "sk-test-alice-2222"
    static let bob = "sk-test-bob-3333"
}

let keysFileText = """
    # test keys
    \(TestKeys.alice) alice
    \(TestKeys.aliceSecond) alice

    \(TestKeys.bob) bob

    """

/// A fresh directory under the temporary directory.
func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-example-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Writes `text` to a new keys file and answers its absolute path.
func writeKeysFile(_ text: String = keysFileText) throws -> String {
    let path = try temporaryDirectory() + "/keys.txt"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// `Authorization: Bearer key`.
func bearer(_ key: String) -> [(String, String)] { [("authorization", "Bearer \(key)")] }

/// The body parsed as a JSON object, or nil.
func jsonObject(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

/// An Anthropic Messages request body, streamed.
func messagesRequest() -> String {
    #"{"model":"claude-mock","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"\#(TestClient.chatPrompt)"}]}"#
}

/// The generated text of each SSE event of a response, in order (OpenAI `choices[0].delta.content`,
/// Anthropic `delta.text`), with nil for events that carry none. Records an issue for any event that
/// is not valid JSON, other than `[DONE]`.
func deltaTexts(_ response: TestResponse) -> [String?] {
    response.sseEvents.compactMap { event -> String?? in
        if event.data == "[DONE]" { return .some(nil) }
        guard let object = jsonObject(event.data) else { return nil }
        if let delta = object["delta"] as? [String: Any], object["type"] as? String == "content_block_delta" {
            return .some(delta["text"] as? String)
        }
        let choice = (object["choices"] as? [[String: Any]])?.first
        return .some((choice?["delta"] as? [String: Any])?["content"] as? String)
    }
}

/// Every SSE event's data is JSON, except a final `[DONE]`.
func everyEventIsJSON(_ response: TestResponse) -> Bool {
    response.sseEvents.allSatisfy { $0.data == "[DONE]" || jsonObject($0.data) != nil }
}
