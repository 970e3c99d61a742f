import CLibevent

/// What a bufferevent reported besides data.
public enum BufferEventCondition: Sendable, Equatable {
    /// An outgoing connection (and its TLS handshake) completed.
    case connected
    /// The peer closed its side cleanly.
    case endOfStream
    /// A socket, DNS or TLS error; the text is for logs.
    case failure(String)
}

/// Owns one libevent bufferevent (plain TCP or OpenSSL) and frees it exactly once, in `close` or
/// `abort` or at deinit. Loop thread only. Callbacks never run after the socket was closed.
public final class BufferEvent {
    private var bev: OpaquePointer?
    public let loop: EventLoop
    private let tls: OpaquePointer?  // SSL*, owned by the bufferevent (BEV_OPT_CLOSE_ON_FREE frees it)

    // The callbacks and the staging buffer are used on every read and write, on the loop thread only,
    // never across a call that could reach them again: not checked for exclusivity at run time.
    /// Data arrived; read it from `input`.
    @exclusivity(unchecked) public var onReadable: (() -> Void)?
    /// The output buffer drained to the write low watermark (0 unless set).
    @exclusivity(unchecked) public var onWritable: (() -> Void)?
    @exclusivity(unchecked) public var onCondition: ((BufferEventCondition) -> Void)?
    private var closeWhenFlushed = false
    private var abortWhenFlushed = false
    /// Keeps this object (and so the socket) alive while queued output drains after its owner let go.
    private var lingering: BufferEvent?
    private var flushTimer: Timer?
    private var resetWatch: PeerResetWatch?
    /// Plain TCP and connected: `write` stages bytes and they go out once, when the running
    /// callback returns.
    private var coalescesWrites = false
    /// Bytes written and not yet handed on (see `write`).
    @exclusivity(unchecked) private var staged = StagingBuffer()
    @exclusivity(unchecked) private var flushPending = false

    // Reading a plain TCP socket around libevent's input buffer: a read event of our own puts what
    // the socket has into the loop's scratch memory (`EventLoop.readScratch`) and offers it to
    // `onReadable` in place; only what the owner leaves unconsumed is copied, into `unconsumed`.
    // libevent's way allocated an evbuffer chain per read, took its locks, peeked and drained
    // (about 700 instructions per forwarded event). TLS sockets read through the bufferevent.
    /// The read event, once the socket is connected and plain TCP; nil otherwise.
    @exclusivity(unchecked) private var readEvent: OpaquePointer?
    @exclusivity(unchecked) private var readEventAdded = false
    /// The current read's bytes, still in the loop's scratch memory: set only during `onReadable`
    /// (and only while `unconsumed` is empty, so the input stays one contiguous run).
    @exclusivity(unchecked) private var current = UnsafeRawBufferPointer(start: nil, count: 0)
    /// Input read before and not consumed yet.
    @exclusivity(unchecked) private var unconsumed = StagingBuffer()
    /// The owner wants reads (`setReading`); closing turns it off.
    @exclusivity(unchecked) private var readingWanted = true
    /// See `setReadHighWatermark`; 0: no limit.
    @exclusivity(unchecked) private var readHighWatermark = 0
    /// The peer's end of stream or a read error was seen: nothing more to read.
    @exclusivity(unchecked) private var readingOver = false
    /// The errno of the read that failed, for `describeError`.
    private var readErrno: Int32 = 0
    /// The socket's descriptor once reads go around libevent (read and written per event).
    @exclusivity(unchecked) private var descriptor: Int32 = -1

    /// Wraps a socket accepted by a listener; `tls` makes this the server side of a TLS session.
    public init(loop: EventLoop, acceptedSocket fd: Int32, tls: TLSContext?) {
        self.loop = loop
        sluice_set_nodelay(fd)
        let options = Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)
        if let tls {
            let ssl = SSL_new(tls.context)
            self.tls = ssl
            bev = bufferevent_openssl_socket_new(loop.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, options)
        } else {
            self.tls = nil
            bev = bufferevent_socket_new(loop.base, fd, options)
            coalescesWrites = true
        }
        install()
        if tls == nil { readAroundLibevent() }
    }

    /// Creates an unconnected bufferevent for `connect(host:port:)`. `tls` with `serverName` makes
    /// this the client side of a verified TLS session (SNI and host name check).
    public init(loop: EventLoop, connectingWith tls: TLSContext?, serverName: String?) {
        self.loop = loop
        let options = Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)
        if let tls {
            let ssl = SSL_new(tls.context)!
            if let serverName, !serverName.isEmpty {
                sluice_ssl_set_sni(ssl, serverName)
                if tls.verifyPeer { SSL_set1_host(ssl, serverName) }
            }
            self.tls = ssl
            bev = bufferevent_openssl_socket_new(loop.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, options)
            // Many servers close without close_notify; the HTTP framing, not TLS, decides truncation.
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1)
        } else {
            self.tls = nil
            bev = bufferevent_socket_new(loop.base, -1, options)
        }
        install()
    }

    private func install() {
        bufferevent_setcb(bev, readTrampoline, writeTrampoline, eventTrampoline, Unmanaged.passUnretained(self).toOpaque())
        bufferevent_enable(bev, Int16(EV_READ | EV_WRITE))
    }

    deinit {
        free()
        if let readEvent { event_free(readEvent) }
    }

    public var isOpen: Bool { bev != nil }

    /// Starts connecting; `onCondition(.connected)` or `.failure` follows. Host names resolve
    /// through the loop's non-blocking DNS. Returns false when the attempt could not even start.
    @discardableResult
    public func connect(host: String, port: Int) -> Bool {
        guard let bev else { return false }
        var storage = sockaddr_storage()
        let len = sluice_make_address(host, Int32(port), &storage)
        if len > 0 {
            return withUnsafePointer(to: &storage) { ptr in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bufferevent_socket_connect(bev, $0, len) == 0 }
            }
        }
        return bufferevent_socket_connect_hostname(bev, loop.dnsBase, AF_UNSPEC, host, Int32(port)) == 0
    }

    /// After the peer's end of stream (`onCondition(.endOfStream)`), calls `onReset` on the loop
    /// thread if the peer then resets the connection (a client that closed entirely, answering the
    /// bytes it was sent), while nothing reads. Once per socket; ends with the socket, or at
    /// `closeAfterFlush`/`abortAfterFlush`. Does nothing when it cannot watch (no descriptor left).
    public func watchForPeerReset(_ onReset: @escaping () -> Void) {
        guard resetWatch == nil, socket >= 0 else { return }
        resetWatch = PeerResetWatch(loop: loop, socket: socket, onReset: onReset)
    }

    /// The file descriptor, or -1.
    public var socket: Int32 { bev.map { bufferevent_getfd($0) } ?? -1 }

    // MARK: reading

    /// Bytes waiting in the input buffer.
    public var inputLength: Int {
        guard let bev else { return 0 }
        if readEvent != nil { return current.count + unconsumed.count }
        return evbuffer_get_length(bufferevent_get_input(bev))
    }

    /// Offers the input buffer to `consume` one contiguous segment at a time, without copying;
    /// `consume` returns how many bytes it used. Stops at the first segment not fully used, then
    /// drains what was used. Returns the total used.
    @discardableResult
    public func consumeInput(_ consume: (UnsafeRawBufferPointer) throws -> Int) rethrows -> Int {
        guard let bev else { return 0 }
        if readEvent != nil { return try consumeOwnInput(consume) }
        // The segment list lives on the stack: this runs on every read.
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: 8) { segments in
            let input = bufferevent_get_input(bev)
            var total = 0
            outer: while true {
                let available = evbuffer_get_length(input)
                if available == 0 { break }
                let count = Int(evbuffer_peek(input, -1, nil, segments.baseAddress, 8))
                var usedThisRound = 0
                for i in 0..<min(count, 8) {
                    let seg = UnsafeRawBufferPointer(start: segments[i].iov_base, count: segments[i].iov_len)
                    let used = try consume(seg)
                    // The consumer may have closed this bufferevent; its buffers are gone then.
                    if self.bev == nil { return total + usedThisRound + used }
                    usedThisRound += used
                    if used < seg.count {
                        evbuffer_drain(input, usedThisRound)
                        total += usedThisRound
                        break outer
                    }
                }
                evbuffer_drain(input, usedThisRound)
                total += usedThisRound
                if count <= 8 { break }
            }
            return total
        }
    }

    /// Stops reading from the socket while `bytes` or more wait unread in the input buffer (0: no limit),
    /// so a peer cannot pile up data the owner is not consuming yet.
    public func setReadHighWatermark(_ bytes: Int) {
        guard let bev else { return }
        readHighWatermark = max(0, bytes)
        if readEvent != nil {
            updateReadEvent()
        } else {
            bufferevent_setwatermark(bev, Int16(EV_READ), 0, bytes)
        }
    }

    /// Stops or resumes reading from the socket (backpressure, and pausing pipelined requests).
    public func setReading(_ enabled: Bool) {
        guard let bev else { return }
        readingWanted = enabled
        if readEvent != nil {
            updateReadEvent()
        } else if enabled {
            bufferevent_enable(bev, Int16(EV_READ))
        } else {
            bufferevent_disable(bev, Int16(EV_READ))
        }
    }

    // MARK: writing

    /// Bytes queued for the socket and not yet written (staged ones included).
    public var outputLength: Int { bev.map { evbuffer_get_length(bufferevent_get_output($0)) + staged.count } ?? 0 }

    /// `onWritable` fires when the output drains to `bytes` or below.
    public func setWriteLowWatermark(_ bytes: Int) {
        guard let bev else { return }
        bufferevent_setwatermark(bev, Int16(EV_WRITE), bytes, 0)
    }

    /// Queues `bytes` for the socket. On a plain TCP connection the bytes are staged and go out
    /// when the running callback returns (`EventLoop.dispatch`; at the end of the loop turn when no
    /// callback runs): what one callback writes to one socket (a head and its body, the pieces of a
    /// chunk, the events of one read) leaves in one `send`.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        write(bytes, UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Writes `first`, `second` and `third` in order (a chunk header, its payload and its CRLF).
    public func write(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, _ third: UnsafeRawBufferPointer) {
        guard let bev else { return }
        loop.assertMayTouch("a bufferevent")
        guard first.count + second.count + third.count > 0 else { return }
        if coalescesWrites {
            staged.append(first)
            staged.append(second)
            staged.append(third)
            if !flushPending {
                flushPending = true
                loop.flushLater(self)
            }
            return
        }
        // TLS: each piece goes to the bufferevent as it is (no array of them on this per-chunk path).
        if first.count > 0 { bufferevent_write(bev, first.baseAddress, first.count) }
        if second.count > 0 { bufferevent_write(bev, second.baseAddress, second.count) }
        if third.count > 0 { bufferevent_write(bev, third.baseAddress, third.count) }
    }

    /// Hands the staged bytes on (`EventLoop.dispatch`, `EventLoop.runFlushes`). When the
    /// socket took them all at once, this is where libevent would have called the write callback
    /// after writing them: `writable` runs here instead, so a writer that paused on a backlog of
    /// staged bytes (the watermark check counts them) hears that it drained. Loop thread only.
    func flushQueued() {
        if flushStaged() { writable() }
    }

    /// Hands the staged bytes to the socket or libevent (see `flushQueued`, or before a close).
    /// Answers true when the socket took them all directly. Loop thread only.
    @discardableResult
    func flushStaged() -> Bool {
        guard flushPending else { return false }
        flushPending = false
        defer { staged.removeAll() }
        guard let bev, !staged.isEmpty else { return false }
        return staged.withBytes { raw in
            var sent = 0
            // Nothing is queued in libevent: the socket almost always takes the whole turn's bytes
            // here, so no write event is armed and no second loop turn runs to write them. What it
            // does not take goes to the bufferevent as before, which writes it once the socket is
            // writable and reports an error it meets: the backlog (`outputLength`), the watermarks
            // and `onWritable` mean what they meant. Plain TCP only (TLS never stages).
            if evbuffer_get_length(bufferevent_get_output(bev)) == 0 {
                sent = sluice_send_now(descriptor >= 0 ? descriptor : bufferevent_getfd(bev), raw.baseAddress, raw.count)
            }
            if sent == raw.count { return true }
            _ = bufferevent_write(bev, raw.baseAddress! + sent, raw.count - sent)
            return false
        }
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    // MARK: closing

    /// How long a closing connection may take to flush before it is aborted: a peer that stopped
    /// reading must not keep the socket and its buffers forever.
    public static let flushDeadline: Duration = .seconds(10)

    /// Closes once everything queued is written (or `flushDeadline` passed: then aborts); reading
    /// stops at once. Idempotent.
    public func closeAfterFlush() {
        resetWatch = nil
        flushStaged()
        guard let bev else { return }
        stopReading(bev)
        if outputLength == 0 {
            close()
        } else {
            closeWhenFlushed = true
            lingering = self
            onReadable = nil
            onCondition = nil
            bufferevent_setwatermark(bev, Int16(EV_WRITE), 0, 0)
            armFlushDeadline()
        }
    }

    private func armFlushDeadline() {
        let timer = Timer(loop: loop) { [weak self] _ in self?.abort() }
        flushTimer = timer
        timer.arm(after: Self.flushDeadline)
    }

    /// Sends what is queued, then closes with a RST (tests and the mock use this to cut a stream
    /// after its last bytes).
    public func abortAfterFlush() {
        resetWatch = nil
        flushStaged()
        guard let bev else { return }
        stopReading(bev)
        if outputLength == 0 {
            abort()
        } else {
            closeWhenFlushed = true
            abortWhenFlushed = true
            lingering = self
            onReadable = nil
            onCondition = nil
            bufferevent_setwatermark(bev, Int16(EV_WRITE), 0, 0)
            armFlushDeadline()
        }
    }

    /// Closes now with a FIN; queued output is dropped.
    public func close() { free() }

    /// Closes now with a RST, so the peer cannot mistake the end for a clean one.
    public func abort() {
        let fd = socket
        if fd >= 0 { sluice_set_linger_zero(fd) }
        free()
    }

    private func free() {
        resetWatch = nil
        defer {
            flushTimer?.cancel()
            flushTimer = nil
            lingering = nil
        }
        staged.removeAll()
        flushPending = false
        guard let b = bev else { return }
        loop.assertMayTouch("a bufferevent")
        // `unconsumed` stays until deinit: an owner that closed from inside `consumeInput` may
        // still be reading the bytes it was offered.
        if readEventAdded, let readEvent { event_del(readEvent) }
        readEventAdded = false
        bev = nil
        onReadable = nil
        onWritable = nil
        onCondition = nil
        bufferevent_setcb(b, nil, nil, nil, nil)
        bufferevent_free(b)
    }

    // MARK: reading around libevent (plain TCP)

    /// From now on this plain TCP socket is read by a read event of its own (see `readEvent`).
    /// Anything the bufferevent already read moves over first. Called once the socket is connected.
    private func readAroundLibevent() {
        guard let bev, readEvent == nil else { return }
        bufferevent_disable(bev, Int16(EV_READ))
        let input = bufferevent_get_input(bev)
        while evbuffer_get_length(input) > 0 {
            let count = min(evbuffer_get_length(input), 16 * 1024)
            withUnsafeTemporaryAllocation(byteCount: count, alignment: 1) { chunk in
                let got = evbuffer_remove(input, chunk.baseAddress, count)
                if got > 0 { unconsumed.append(UnsafeRawBufferPointer(rebasing: chunk[..<Int(got)])) }
            }
        }
        descriptor = bufferevent_getfd(bev)
        readEvent = event_new(loop.base, descriptor, Int16(EV_READ | EV_PERSIST), rawReadTrampoline,
                              Unmanaged.passUnretained(self).toOpaque())
        updateReadEvent()
    }

    /// Adds or removes the read event: reads flow while the owner wants them, the input is under
    /// the high watermark, and the stream has not ended.
    private func updateReadEvent() {
        guard let readEvent, bev != nil else { return }
        let wanted = readingWanted && !readingOver
            && (readHighWatermark == 0 || current.count + unconsumed.count < readHighWatermark)
        guard wanted != readEventAdded else { return }
        readEventAdded = wanted
        if wanted { event_add(readEvent, nil) } else { event_del(readEvent) }
    }

    private func stopReading(_ bev: OpaquePointer) {
        readingWanted = false
        if readEvent != nil { updateReadEvent() } else { bufferevent_disable(bev, Int16(EV_READ)) }
    }

    /// The socket is readable: one read into the loop's scratch memory, offered to `onReadable`.
    fileprivate func readRaw() {
        guard bev != nil else { return }
        let scratch = loop.readScratch
        var room = scratch.count
        if readHighWatermark > 0 { room = min(room, readHighWatermark - unconsumed.count) }
        guard room > 0 else {
            updateReadEvent()
            return
        }
        let n = sluice_read_now(descriptor, scratch.baseAddress, room)
        if n > 0 {
            let bytes = UnsafeRawBufferPointer(start: scratch.baseAddress, count: n)
            if unconsumed.isEmpty {
                current = bytes
            } else {
                unconsumed.append(bytes)
            }
            onReadable?()
            // What the owner left goes into memory of this socket's own, unless it closed it.
            if !current.isEmpty, self.bev != nil { unconsumed.append(current) }
            current = UnsafeRawBufferPointer(start: nil, count: 0)
            updateReadEvent()
        } else if n == 0 {
            readingOver = true
            updateReadEvent()
            condition(Int16(BEV_EVENT_EOF | BEV_EVENT_READING))
        } else if n != -Int(sluice_eagain()) && n != -Int(sluice_eintr()) {
            readingOver = true
            readErrno = Int32(-n)
            updateReadEvent()
            condition(Int16(BEV_EVENT_ERROR | BEV_EVENT_READING))
        }
    }

    /// `consumeInput` for a socket read around libevent: the input is one contiguous run, either
    /// the current read in scratch memory or `unconsumed`.
    private func consumeOwnInput(_ consume: (UnsafeRawBufferPointer) throws -> Int) rethrows -> Int {
        if !current.isEmpty {
            let offered = current
            let used = try min(offered.count, consume(offered))
            // The consumer may have closed this socket; then nothing of it is touched any more.
            guard bev != nil else { return used }
            current = UnsafeRawBufferPointer(rebasing: offered[used...])
            return used
        }
        guard !unconsumed.isEmpty else { return 0 }
        let used = try unconsumed.withBytes { offered in try min(offered.count, consume(offered)) }
        guard bev != nil else { return used }
        unconsumed.removeFirst(used)
        updateReadEvent()
        return used
    }

    // MARK: callbacks from C

    fileprivate func readable() { onReadable?() }

    fileprivate func writable() {
        if closeWhenFlushed {
            if outputLength == 0 {
                if abortWhenFlushed { abort() } else { free() }
            }
            return
        }
        onWritable?()
    }

    fileprivate func condition(_ what: Int16) {
        let flags = Int32(what)
        if closeWhenFlushed {
            // The peer went away while we flushed: nothing more can be delivered.
            if flags & Int32(BEV_EVENT_ERROR | BEV_EVENT_EOF) != 0 { free() }
            return
        }
        if flags & Int32(BEV_EVENT_CONNECTED) != 0 {
            let fd = socket
            if fd >= 0 { sluice_set_nodelay(fd) }
            if tls == nil {
                coalescesWrites = true
                readAroundLibevent()
            }
            onCondition?(.connected)
        } else if flags & Int32(BEV_EVENT_ERROR) != 0 {
            onCondition?(.failure(describeError()))
        } else if flags & Int32(BEV_EVENT_EOF) != 0 {
            onCondition?(.endOfStream)
        } else if flags & Int32(BEV_EVENT_TIMEOUT) != 0 {
            onCondition?(.failure("timeout"))
        }
    }

    private func describeError() -> String {
        guard let bev else { return "closed" }
        let dnsError = bufferevent_socket_get_dns_error(bev)
        if dnsError != 0 { return "DNS: " + String(cString: evutil_gai_strerror(dnsError)) }
        if tls != nil {
            var parts: [String] = []
            while true {
                let e = bufferevent_get_openssl_error(bev)
                if e == 0 { break }
                if let s = ERR_reason_error_string(e) { parts.append(String(cString: s)) }
            }
            if !parts.isEmpty { return "TLS: " + parts.joined(separator: "; ") }
        }
        let err = readErrno != 0 ? readErrno : sluice_errno()
        return err == 0 ? "connection error" : String(cString: strerror(err))
    }
}

private let rawReadTrampoline: @convention(c) (Int32, Int16, UnsafeMutableRawPointer?) -> Void = { _, _, arg in
    let target = Unmanaged<BufferEvent>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.loop.dispatch { target.readRaw() } }
}
private let readTrampoline: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, arg in
    let target = Unmanaged<BufferEvent>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.loop.dispatch { target.readable() } }
}
private let writeTrampoline: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, arg in
    let target = Unmanaged<BufferEvent>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.loop.dispatch { target.writable() } }
}
private let eventTrampoline: @convention(c) (OpaquePointer?, Int16, UnsafeMutableRawPointer?) -> Void = { _, what, arg in
    let target = Unmanaged<BufferEvent>.fromOpaque(arg!).takeUnretainedValue()
    // The callee may drop the last other reference; keep it alive for the call.
    withExtendedLifetime(target) { target.loop.dispatch { target.condition(what) } }
}
