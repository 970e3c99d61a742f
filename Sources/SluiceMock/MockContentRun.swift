/// A run of content events in a plan, generated one event at a time as the plan is executed, so a
/// long answer never sits in memory: the plan holds this description, and iterating it makes at
/// most one event (and its trickle pieces) at a time.
///
/// Slot `i` of the run is a wait (`firstWait` for slot 0 of the stream, `wait` for the others;
/// none when zero) followed by content event `i`, sent whole or in trickle pieces.
struct MockContentRun: Sendable {
    /// The content events `range.lowerBound ..< range.upperBound` of the stream.
    var range: Range<Int>
    /// Content event `i` in wire form.
    var event: @Sendable (Int) -> [UInt8]
    /// The pause before content event 0 (time to first token).
    var firstWait: Duration
    /// The pause before every later content event.
    var wait: Duration
    /// The pause between trickle pieces, or nil to send each event whole.
    var trickle: Duration?

    /// The steps of slot `index`, in order: its wait, then its event's body steps.
    func steps(ofSlot index: Int) -> [MockStep] {
        var builder = MockPlanBuilder(trickle: trickle)
        builder.wait(index == 0 ? firstWait : wait)
        builder.send(event(index))
        return builder.steps
    }
}
