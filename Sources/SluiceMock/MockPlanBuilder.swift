import SluiceHTTP

/// Accumulates the steps of a plan, keeping the `MockStep` invariants: waits are never zero and
/// consecutive waits are merged; body steps are never empty and are cut into trickle pieces when
/// asked. Runs of content events are kept as descriptions (`content(_:)`), made only as the plan
/// is executed.
struct MockPlanBuilder {
    /// The steps written out since the last content run.
    private(set) var steps: [MockStep] = []
    private var parts: [MockPlan.Part] = []
    /// The pause between pieces of one event, or nil to send each event whole.
    let trickle: Duration?

    init(trickle: Duration?) {
        self.trickle = trickle
    }

    mutating func wait(_ duration: Duration) {
        guard duration > .zero else { return }
        if case .wait(let previous)? = steps.last {
            steps[steps.count - 1] = .wait(previous + duration)
        } else {
            steps.append(.wait(duration))
        }
    }

    mutating func head(_ head: HTTPResponseHead) {
        steps.append(.head(head))
    }

    /// One event, or one whole body: sent at once, or in trickle pieces with pauses between them.
    mutating func send(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        guard let trickle else {
            steps.append(.body(bytes))
            return
        }
        var start = 0
        while start < bytes.count {
            if start > 0 { wait(trickle) }
            let end = min(start + MockFaults.tricklePieceSize, bytes.count)
            steps.append(.body(Array(bytes[start..<end])))
            start = end
        }
    }

    /// A run of content events, generated when the plan reaches it. Each of its slots starts with a
    /// non-zero wait or follows a body step, so no wait needs merging across it.
    mutating func content(_ run: MockContentRun) {
        guard !run.range.isEmpty else { return }
        if !steps.isEmpty { parts.append(.steps(steps)) }
        steps = []
        parts.append(.content(run))
    }

    /// Appends the final step (`.end`, `.close`, `.reset` or `.stall`) and returns the plan.
    func finished(with last: MockStep, keepAlive: Bool) -> MockPlan {
        MockPlan(parts: parts + [.steps(steps + [last])], keepAlive: keepAlive && last == .end)
    }
}
