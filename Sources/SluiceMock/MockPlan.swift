/// A timed script for one response, produced by `MockPlanner` and run by the mock server.
///
/// The steps always end with exactly one of `.end`, `.close`, `.reset` or `.stall`, and that
/// step is the only one of the four in the plan.
///
/// A plan is a sequence of steps made as they are read: runs of content events are generated one
/// event at a time (`MockContentRun`), so executing a plan of any length holds one event in memory.
/// `steps` writes the whole plan out, for tests and small plans.
public struct MockPlan: Sendable, Sequence {
    /// One part of a plan: steps written out, or a run of content events made on demand.
    enum Part: Sendable {
        case steps([MockStep])
        case content(MockContentRun)
    }

    let parts: [Part]
    /// True when the connection may carry another request after this plan's `.end`: the
    /// request allowed it, and the response is neither cut short nor close-delimited.
    /// Always false when the plan ends with `.close`, `.reset` or `.stall`.
    public var keepAlive: Bool

    /// A plan from its steps.
    public init(steps: [MockStep], keepAlive: Bool) {
        self.init(parts: [.steps(steps)], keepAlive: keepAlive)
    }

    init(parts: [Part], keepAlive: Bool) {
        self.parts = parts
        self.keepAlive = keepAlive
    }

    /// Every step, written out. Costs memory in proportion to the answer: the server iterates instead.
    public var steps: [MockStep] { Array(self) }

    public func makeIterator() -> Iterator { Iterator(parts: parts) }

    /// Reads a plan's steps in order, making content events only when they are reached.
    public struct Iterator: IteratorProtocol, Sendable {
        private let parts: [Part]
        private var part = 0
        /// The steps of the current written-out part, or of the current content slot.
        private var buffered: [MockStep] = []
        private var bufferedIndex = 0
        /// Whether the current part has been taken up: a written-out part's steps are buffered, or
        /// a run's `nextSlot` is set.
        private var started = false
        private var nextSlot = 0

        init(parts: [Part]) { self.parts = parts }

        public mutating func next() -> MockStep? {
            while true {
                if bufferedIndex < buffered.count {
                    defer { bufferedIndex += 1 }
                    return buffered[bufferedIndex]
                }
                guard part < parts.count else { return nil }
                switch parts[part] {
                case .steps(let steps):
                    if started {
                        moveToNextPart()
                    } else {
                        started = true
                        buffered = steps
                        bufferedIndex = 0
                    }
                case .content(let run):
                    if !started {
                        started = true
                        nextSlot = run.range.lowerBound
                    }
                    if nextSlot < run.range.upperBound {
                        buffered = run.steps(ofSlot: nextSlot)
                        bufferedIndex = 0
                        nextSlot += 1
                    } else {
                        moveToNextPart()
                    }
                }
            }
        }

        private mutating func moveToNextPart() {
            part += 1
            started = false
            buffered = []
            bufferedIndex = 0
        }
    }
}

extension MockPlan: Equatable {
    /// Plans compare by the steps they send and by `keepAlive`.
    public static func == (lhs: MockPlan, rhs: MockPlan) -> Bool {
        lhs.keepAlive == rhs.keepAlive && lhs.elementsEqual(rhs)
    }
}
