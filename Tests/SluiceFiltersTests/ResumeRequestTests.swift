@testable import SluiceFilters
import SluiceHTTP
import Testing

/// What a request to the resume path asks for.
struct ResumeRequestTests {
    @Test func aResumeRequestTakesTheHeaderThenTheQueryParameter() {
        func parse(_ target: String, _ headers: [(String, String)] = []) -> String {
            switch ResumeRequest.parse(HTTPRequestHead(method: "GET", target: target, headers: HTTPHeaders(headers)), prefix: "/s/") {
            case .notResume: return "not a resume"
            case .malformed: return "malformed"
            case .resume(let request): return "\(request.streamID) after \(request.lastEventID ?? "-")"
            }
        }
        #expect(parse("/v1/chat/completions") == "not a resume")
        #expect(parse("/s/abc") == "abc after -")
        #expect(parse("/s/abc", [("last-event-id", "7")]) == "abc after 7")
        #expect(parse("/s/abc?last_event_id=7", [("last-event-id", "8")]) == "abc after 8")
        #expect(parse("/s/abc?x=1&last_event_id=msg%2D7+b") == "abc after msg-7 b")
        #expect(parse("/s/abc?last_event_id=") == "abc after -")
        #expect(parse("/s/abc?last_event_id=%e2%82") == "malformed")
        #expect(parse("/s/abc?last_event_id=%4") == "malformed")
    }
}
