import Foundation

/// Resolves the paths a filter file names (certificates, keys, CA bundles) and checks that they
/// can be read, so a typo is reported by `sluice check` rather than when the listener starts.
struct ReferencedFiles {
    /// The absolute directory of the filter file, which relative paths are relative to.
    let baseDirectory: String

    init(filterFilePath: String) {
        var directory: String
        if let slash = filterFilePath.lastIndex(of: "/") {
            directory = String(filterFilePath[..<slash])
            if directory.isEmpty { directory = "/" }
        } else {
            directory = "."
        }
        if !directory.hasPrefix("/") {
            let current = FileManager.default.currentDirectoryPath
            directory = directory == "." ? current : current + "/" + directory
        }
        baseDirectory = directory
    }

    /// The absolute path `written` refers to.
    func resolve(_ written: String) -> String {
        if written.hasPrefix("/") { return written }
        return baseDirectory.hasSuffix("/") ? baseDirectory + written : baseDirectory + "/" + written
    }

    /// Resolves `written` and checks it is a readable regular file. On failure the problem
    /// names the file as `what` (e.g. `certificate file`) and shows the resolved path when it
    /// differs from what was written.
    func readableFile(_ written: String, what: String) -> (path: String, problem: String?) {
        let path = resolve(written)
        let shown = path == written ? "'\(written)'" : "'\(written)' (\(path))"
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return (path, "\(what) \(shown) does not exist")
        }
        if isDirectory.boolValue {
            return (path, "\(what) \(shown) is a directory, not a file")
        }
        if !FileManager.default.isReadableFile(atPath: path) {
            return (path, "\(what) \(shown) is not readable")
        }
        return (path, nil)
    }
}
