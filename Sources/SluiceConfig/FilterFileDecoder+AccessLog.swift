import Foundation
import SluiceFilterAPI

// `access_log:`; see `AccessLogSpec`.
extension FilterFileDecoder {
    func decodeAccessLog(_ map: ConfigMap?) -> AccessLogSpec? {
        guard let map else { return nil }
        var spec = AccessLogSpec()
        if let written = map.string("output") {
            switch written {
            case "stdout": spec.output = .stdout
            case "stderr": spec.output = .stderr
            case "off": spec.output = .off
            case "":
                map.error("output must be stdout, stderr, off or a file path", atValueOf: "output")
            default:
                let path = ReferencedFiles(filterFilePath: path).resolve(written)
                if let problem = Self.unwritableLogFile(path) {
                    map.error("access log file '\(written)': \(problem)", atValueOf: "output")
                }
                spec.output = .file(path)
            }
        }
        spec.format = map.oneOf("format", AccessLogSpec.Format.self, default: .json)
        spec.level = map.oneOf("level", AccessLogSpec.Level.self, default: .info)
        map.finish()
        return spec
    }

    /// Why a log file at `path` could not be appended to, or nil when it can (or can be made).
    private static func unwritableLogFile(_ path: String) -> String? {
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return "is a directory" }
            return files.isWritableFile(atPath: path) ? nil : "is not writable"
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !files.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
            return "its directory does not exist"
        }
        return files.isWritableFile(atPath: directory) ? nil : "its directory is not writable"
    }
}
