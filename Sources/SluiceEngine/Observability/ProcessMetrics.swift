import Prometheus
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` series, read from /proc at each scrape (Linux; elsewhere they stay 0).
final class ProcessMetrics: Sendable {
    private let openFDs: Prometheus.Gauge
    private let maxFDs: Prometheus.Gauge
    private let residentBytes: Prometheus.Gauge
    private let cpuSeconds: Prometheus.Counter
    private let startTime: Prometheus.Gauge
    /// CPU seconds already added to the counter (a counter only goes up by increments).
    private let cpuReported = Mutex<Double>(0)

    init(registry: PrometheusCollectorRegistry) {
        openFDs = registry.makeGauge(descriptor: ProxyMetrics.descriptor("process_open_fds"))
        maxFDs = registry.makeGauge(descriptor: ProxyMetrics.descriptor("process_max_fds"))
        residentBytes = registry.makeGauge(descriptor: ProxyMetrics.descriptor("process_resident_memory_bytes"))
        cpuSeconds = registry.makeCounter(descriptor: ProxyMetrics.descriptor("process_cpu_seconds_total"))
        startTime = registry.makeGauge(descriptor: ProxyMetrics.descriptor("process_start_time_seconds"))
    }

    func update() {
        openFDs.set(Double(Self.countOpenFDs()))
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(Double(limit.rlim_cur)) }
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let statm = Self.read("/proc/self/statm")?.split(separator: " "), statm.count > 1, let pages = Double(statm[1]) {
            residentBytes.set(pages * page)
        }
        guard let stat = Self.read("/proc/self/stat"), let close = stat.lastIndex(of: ")") else { return }
        // Fields after the command name, which may itself hold spaces: state is field 3, so
        // utime (14), stime (15) and starttime (22) are at 11, 12 and 19 here.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]), let started = Double(fields[19]) else {
            return
        }
        let total = (user + system) / ticks
        cpuReported.withLock { reported in
            if total > reported {
                cpuSeconds.increment(by: total - reported)
                reported = total
            }
        }
        if let boot = Self.bootTime { startTime.set(boot + started / ticks) }
    }

    private static func countOpenFDs() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        // Only the name's first byte is read: a record holds just as much of `d_name` as its name
        // needs, so copying the whole 256-byte field read past the end of readdir's buffer, and
        // faulted when the record ended at the end of a page (seen with thousands of descriptors).
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19
        while let entry = readdir(dir) {
            let first = UnsafeRawPointer(entry).load(fromByteOffset: nameOffset, as: UInt8.self)
            if first != UInt8(ascii: ".") { count += 1 }
        }
        // The directory stream itself holds one descriptor while it is read.
        return max(0, count - 1)
    }

    /// When the machine booted, in seconds since the epoch: read once, since it does not change and
    /// splitting /proc/stat by lines cost a million instructions per scrape.
    private static let bootTime: Double? = readBootTime()

    private static func readBootTime() -> Double? {
        guard let stat = read("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    /// A small /proc file's text, or nil.
    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
