/// Sends one give-back per item and calls `done` once, when the last was answered (at once when
/// there is none). Loop thread: the answers come back on the thread that sent them.
enum SharedReturns {
    static func all<Item>(_ items: [Item], _ done: @escaping () -> Void, send: (Item, @escaping () -> Void) -> Void) {
        guard !items.isEmpty else { return done() }
        var left = items.count
        for item in items {
            send(item) {
                left -= 1
                if left == 0 { done() }
            }
        }
    }
}
