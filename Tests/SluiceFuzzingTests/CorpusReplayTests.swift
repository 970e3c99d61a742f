import Foundation
import SluiceFuzzing
import Testing

/// Every file of the committed corpus (`fuzz/corpus/<target>/`) runs through its target in the
/// ordinary debug build, so the seeds and every reproducer saved there stay regression tests
/// even where the sanitizer build does not run.
@Suite("Fuzz corpus replay")
struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus")

    static func files(of target: String) throws -> [URL] {
        let folder = corpus.appendingPathComponent(target)
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: FuzzTargets.all.map(\.name))
    func everyCorpusFilePasses(target name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        let files = try Self.files(of: name)
        // Seeds cover each target's main shapes; an emptied folder would make this test pass vacuously.
        #expect(files.count >= 10, "fuzz/corpus/\(name) has only \(files.count) files")
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            do {
                try target.run(bytes)
            } catch {
                Issue.record("\(name)/\(file.lastPathComponent): \(error)")
            }
        }
    }

    /// Findings not fixed yet (`fuzz/findings/TARGET-…`) pass only because their target sets them
    /// aside; once the fix lands and the set-aside goes, this replays them as regression tests.
    @Test func findingsSetAsideStillPass() throws {
        let folder = Self.corpus.deletingLastPathComponent().appendingPathComponent("findings")
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        #expect(!files.isEmpty)
        for file in files {
            let name = file.lastPathComponent
            if name == "README.md" { continue }
            guard let target = FuzzTargets.all.first(where: { name.hasPrefix($0.name + "-") }) else {
                Issue.record("fuzz/findings/\(name) names no target")
                continue
            }
            do {
                try target.run(try [UInt8](Data(contentsOf: file)))
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }

    @Test func targetNamesAreUniqueAndHaveCorpusFolders() throws {
        let names = FuzzTargets.all.map(\.name)
        #expect(Set(names).count == names.count)
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path)
        #expect(Set(folders) == Set(names))
    }
}
