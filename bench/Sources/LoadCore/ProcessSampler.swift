#if canImport(Glibc)
import Glibc
#endif

/// CPU time and resident memory of a process and all its descendants, read from /proc (Linux).
/// A proxy's workers (nginx, HAProxy, LiteLLM) are children of the process the harness started, so
/// the whole tree is the target.
public enum ProcessSampler {
    public struct Sample: Sendable {
        /// utime + stime of every process in the tree, in seconds.
        public var cpuSeconds: Double
        /// VmRSS summed over the tree, in KiB.
        public var rssKiB: Int
        public var processes: Int
    }

    /// Samples the tree rooted at `root`; nil when `root` is gone.
    public static func sample(root: Int32) -> Sample? {
        let pids = tree(root: root)
        guard !pids.isEmpty else { return nil }
        var cpu = 0.0, rss = 0
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        for pid in pids {
            if let stat = read("/proc/\(pid)/stat"), let fields = statFields(stat), fields.count > 14,
               let u = Double(fields[13]), let s = Double(fields[14]) {
                cpu += (u + s) / ticks
            }
            if let status = read("/proc/\(pid)/status") {
                for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                    rss += Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
                }
            }
        }
        return Sample(cpuSeconds: cpu, rssKiB: rss, processes: pids.count)
    }

    /// `root` and its descendants, found through each process's parent in /proc/PID/stat.
    public static func tree(root: Int32) -> [Int32] {
        guard access("/proc/\(root)", F_OK) == 0 else { return [] }
        var parents: [Int32: [Int32]] = [:]
        if let dir = opendir("/proc") {
            defer { closedir(dir) }
            var scanned = 0
            while let entry = readdir(dir), scanned < 1_000_000 {
                scanned += 1
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard let pid = Int32(name), let stat = read("/proc/\(pid)/stat"),
                      let fields = statFields(stat), fields.count > 3, let ppid = Int32(fields[3]) else { continue }
                parents[ppid, default: []].append(pid)
            }
        }
        var result: [Int32] = [root]
        var i = 0
        while i < result.count && i < 10_000 {
            result.append(contentsOf: parents[result[i]] ?? [])
            i += 1
        }
        return result
    }

    /// The fields of /proc/PID/stat, with the command name (which may hold spaces) as one field.
    static func statFields(_ stat: String) -> [String]? {
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let pid = stat[..<open].trimmingCharacters(" ")
        let rest = stat[stat.index(after: close)...].split(separator: " ").map(String.init)
        return [pid, String(stat[stat.index(after: open)..<close])] + rest
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<64 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// This process's own CPU seconds (user + system), all threads.
    public static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

extension Substring {
    fileprivate func trimmingCharacters(_ c: Character) -> String {
        String(drop { $0 == c }.reversed().drop { $0 == c }.reversed())
    }
}
