#if canImport(Glibc)
import Glibc
#endif
import LoadCore
import SluiceIO

// sluice-load: drives one target with N concurrent keep-alive connections and prints one JSON object.

enum Runner {
    static func run() {
        let options: Options
        do {
            options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            print("\(error)")
            exit(2)
        }

        // Each connection is a descriptor; take the hard limit.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

        func requestBytes(_ o: Options) -> [UInt8] {
            let stream = o.mode != .short
            let body = "{\"model\":\"\(o.model)\",\"stream\":\(stream),\"messages\":[{\"role\":\"user\",\"content\":\"Say something.\"}]}"
            let head = "POST \(o.path) HTTP/1.1\r\nhost: \(o.host):\(o.port)\r\ncontent-type: application/json\r\n"
                + "authorization: Bearer \(o.auth)\r\naccept: \(stream ? "text/event-stream" : "application/json")\r\n"
                + "content-length: \(body.utf8.count)\r\n\r\n"
            return Array((head + body).utf8)
        }

        func sampleTargets() -> (cpu: Double, rss: Int, processes: Int) {
            var cpu = 0.0, rss = 0, n = 0
            for pid in options.pids {
                if let s = ProcessSampler.sample(root: pid) { cpu += s.cpuSeconds; rss += s.rssKiB; n += s.processes }
            }
            return (cpu, rss, n)
        }

        let shared = Shared()
        let request = requestBytes(options)
        var workers: [Worker] = []
        let per = options.concurrency / options.threads
        var first = 0
        for t in 0..<options.threads {
            let count = per + (t < options.concurrency % options.threads ? 1 : 0)
            workers.append(Worker(options: options, shared: shared, request: request, firstIndex: first, count: count))
            first += count
        }

        let before = sampleTargets()
        let selfBefore = ProcessSampler.selfCPUSeconds()
        let startedAt = nowNanos()
        func elapsed() -> Double { Double(nowNanos() &- startedAt) / 1e9 }
        for (i, w) in workers.enumerated() { w.start(name: "load-\(i)") }

        var peakRSS = before.rss
        var heldStreams = 0
        var heldRSS = 0
        var heldAt = 0.0
        var liveMax = 0
        func poll() {
            let s = sampleTargets()
            peakRSS = max(peakRSS, s.rss)
        }

        switch options.mode {
        case .stream, .short:
            // Issue requests for `duration` (plus the ramp), then let those in flight finish within `grace`.
            let issueUntil = options.ramp + options.duration
            while elapsed() < issueUntil { usleep(250_000); poll() }
            shared.stopIssuing.store(true, ordering: .relaxed)
            let hardEnd = issueUntil + options.grace
            while elapsed() < hardEnd && shared.finishedConnections.load(ordering: .relaxed) < options.concurrency {
                usleep(50_000)
            }
        case .hold:
            // Wait until every stream is live (or the timeout), let it settle, then read the target's memory.
            let deadline = options.ramp + options.holdTimeout
            while elapsed() < deadline {
                let live = shared.live.load(ordering: .relaxed)
                liveMax = max(liveMax, live)
                if live >= options.concurrency { break }
                usleep(100_000)
            }
            sleepSeconds(options.settle)
            heldStreams = shared.live.load(ordering: .relaxed)
            heldRSS = sampleTargets().rss
            heldAt = elapsed()
            peakRSS = max(peakRSS, heldRSS)
            shared.stopIssuing.store(true, ordering: .relaxed)
        }

        let wall = elapsed()
        let after = sampleTargets()
        peakRSS = max(peakRSS, after.rss)
        for w in workers { w.stop() }
        for w in workers { _ = w.loop.waitUntilFinished(timeout: .seconds(10)) }
        let selfCPU = ProcessSampler.selfCPUSeconds() - selfBefore

        var total = WorkerStats()
        for w in workers { total.merge(w.stats) }
        let ttft = Summary(&total.ttft)
        let ttftFirst = Summary(&total.ttftFirst)
        let gaps = Summary(&total.gaps)
        let latency = Summary(&total.latency)

        func jsonString(_ s: String) -> String {
            var out = "\""
            for c in s.unicodeScalars {
                switch c {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where c.value < 0x20: out += " "
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "\""
        }
        let failures = total.failures.sorted { $0.value > $1.value }.prefix(8)
            .map { "\(jsonString($0.key)):\($0.value)" }.joined(separator: ",")
        let targetCPU = after.cpu - before.cpu
        let events = total.dataEvents
        print("""
        {"label":\(jsonString(options.label)),"mode":"\(options.mode.rawValue)","concurrency":\(options.concurrency),\
        "threads":\(options.threads),"wall_s":\(wall),"started":\(total.started),"completed":\(total.completed),\
        "failed":\(total.failed),"unfinished":\(total.unfinished),"failures":{\(failures)},\
        "ttft":\(ttft.json),"ttft_first_on_connection":\(ttftFirst.json),"gap":\(gaps.json),"latency":\(latency.json),\
        "data_events":\(events),"content_events":\(total.contentEvents),"body_bytes":\(total.bodyBytes),\
        "requests_per_s":\(Double(total.completed) / max(0.001, wall - options.ramp)),\
        "target_cpu_s":\(targetCPU),"target_processes":\(after.processes),\
        "target_rss_kib_before":\(before.rss),"target_rss_kib_peak":\(peakRSS),"target_rss_kib_after":\(after.rss),\
        "held_streams":\(heldStreams),"held_rss_kib":\(heldRSS),"held_at_s":\(heldAt),"live_max":\(liveMax),\
        "ended_while_held":\(total.endedWhileHeld),"loadgen_cpu_s":\(selfCPU)}
        """)

    }
}

Runner.run()
exit(0)
