#if canImport(Glibc)
import Glibc
#endif

/// Prints a line to standard error.
func printError(_ text: String) {
    var line = text
    line.append("\n")
    line.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}

/// Prints a line to standard output at once (stdout is block-buffered when not a terminal, and
/// operators tail these lines).
func printLine(_ text: String) {
    var line = text
    line.append("\n")
    line.withUTF8 { bytes in
        _ = write(1, bytes.baseAddress, bytes.count)
    }
}
