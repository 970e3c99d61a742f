import SluiceFilters
import SluiceTesting
import Testing

/// A `resumable` filter's `config:`, as the file check reads it.
struct ResumableSettingsTests {
    @Test func theSettingsDefaultAsDocumented() throws {
        let filter = try FilterTestBench.makeFilter("resumable", registry: BuiltinFilters.registry()) as? ResumableFilter
        let settings = try #require(filter?.settings)
        #expect(settings.window == .seconds(60))
        #expect(settings.maxBytes == 4 * 1024 * 1024)
        #expect(settings.maxTotalBytes == 256 * 1024 * 1024)
        #expect(settings.resumePath == "/sluice/streams")
        #expect(settings.key == nil)
        let trimmed = try FilterTestBench.makeFilter("resumable", config: "{ resume_path: /r/, key: { header: x-api-key } }",
                                                     registry: BuiltinFilters.registry()) as? ResumableFilter
        #expect(trimmed?.settings.resumePath == "/r")
        #expect(trimmed?.settings.key == .header("x-api-key"))
    }

    @Test func unknownKeysAndBadPathsAreReportedWithPositions() {
        do {
            _ = try FilterTestBench.makeFilter("resumable", config: "window: 60s\nresume_path: /\nwindoww: 1s",
                                               registry: BuiltinFilters.registry(), path: "r.yaml")
            Issue.record("bad settings were accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("r.yaml:2:14: 'resume_path' must not be '/' alone"), "\(text)")
            #expect(text.contains("r.yaml:3:1:"), "\(text)")
        }
    }
}
