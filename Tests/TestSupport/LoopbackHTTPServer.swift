// A tiny HTTP/1.1 server on 127.0.0.1 for replaying recorded venue payloads in tests.
//
// POSIX sockets only (no NIO): one accept thread polling the listening socket every 50 ms, one
// thread per connection, one request per connection (`Connection: close`). Every wait is bounded.

import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Errors thrown by `LoopbackHTTPServer.init`.
public struct LoopbackHTTPServerError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errnoCode: Int32

    public var description: String {
        "LoopbackHTTPServer: \(operation) failed: \(String(cString: strerror(errnoCode))) (errno \(errnoCode))"
    }
}

/// HTTP/1.1 server bound to 127.0.0.1 on an ephemeral port; answers each request with the
/// handler's `HTTPResponseSpec` and closes the connection.
public final class LoopbackHTTPServer: @unchecked Sendable {
    /// Bounds that keep a misbehaving client from hanging or bloating a test.
    public struct Limits: Sendable {
        /// Maximum size of the request line plus header block.
        public var maxHeaderBytes: Int
        /// Maximum request body size (after de-chunking).
        public var maxBodyBytes: Int
        /// Longest wait for more request bytes (and for a blocked send).
        public var idleTimeoutSeconds: Double
        /// Connections beyond this many in flight are closed at once.
        public var maxConnections: Int

        public init(
            maxHeaderBytes: Int = 64 * 1024, maxBodyBytes: Int = 8 * 1024 * 1024,
            idleTimeoutSeconds: Double = 5, maxConnections: Int = 256
        ) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxBodyBytes = maxBodyBytes
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.maxConnections = maxConnections
        }
    }

    private let core: ServerCore

    /// Binds 127.0.0.1:0, starts listening and starts the accept thread.
    public init(
        limits: Limits = Limits(), handler: @escaping @Sendable (HTTPRequestRecord) -> HTTPResponseSpec
    ) throws {
        core = try ServerCore(limits: limits, handler: handler)
        core.start()
    }

    /// Serves fixed responses by path (without query); anything else gets a 404.
    public convenience init(routes: [String: HTTPResponseSpec], limits: Limits = Limits()) throws {
        try self.init(limits: limits) { request in
            routes[request.path] ?? .json(#"{"error":"no route for \#(request.path)"}"#, status: 404)
        }
    }

    deinit { core.stop() }

    /// The bound TCP port.
    public var port: Int { core.port }

    /// `http://127.0.0.1:PORT`
    public var baseURL: String { "http://127.0.0.1:\(core.port)" }

    /// `baseURL` + `pathAndQuery` as a URL (`pathAndQuery` should start with `/`).
    public func url(_ pathAndQuery: String) -> URL {
        guard let url = URL(string: baseURL + pathAndQuery) else {
            preconditionFailure("invalid path for LoopbackHTTPServer.url: \(pathAndQuery)")
        }
        return url
    }

    /// Snapshot of every request received so far, in arrival order.
    public var requests: [HTTPRequestRecord] { core.snapshot() }

    /// Waits (bounded) until at least `count` requests have arrived; returns whether they did.
    @discardableResult
    public func waitForRequests(count: Int, timeout: Double = 2) -> Bool {
        core.waitForRequests(count: count, timeout: timeout)
    }

    /// Stops accepting, closes the listening socket and waits (at most ~2 s) for in-flight
    /// connections to finish. Idempotent; also called from `deinit`.
    public func stop() { core.stop() }
}

// MARK: - Platform shims

#if canImport(Glibc)
    private let streamSocketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    private let sendFlags = Int32(MSG_NOSIGNAL)
    private let shutdownWrite = Int32(SHUT_WR)
#else
    private let streamSocketType = SOCK_STREAM
    private let sendFlags: Int32 = 0
    private let shutdownWrite = SHUT_WR
#endif

private func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

private func setSocketOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
    var value = value
    _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
}

private func setSocketTimeout(_ fd: Int32, _ name: Int32, seconds: Double) {
    let clamped = max(seconds, 0.001)
    var tv = timeval()
    tv.tv_sec = Int(clamped)
    tv.tv_usec = .init((clamped - Double(Int(clamped))) * 1_000_000)
    _ = setsockopt(fd, SOL_SOCKET, name, &tv, socklen_t(MemoryLayout<timeval>.size))
}

// MARK: - Core (shared by the accept thread and connection threads)

private final class ServerCore: @unchecked Sendable {
    let limits: LoopbackHTTPServer.Limits
    let handler: @Sendable (HTTPRequestRecord) -> HTTPResponseSpec
    let listenFD: Int32
    let port: Int

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var stopping = false
    private var acceptLoopFinished = false
    private var activeConnections = 0
    private var records: [HTTPRequestRecord] = []

    init(
        limits: LoopbackHTTPServer.Limits,
        handler: @escaping @Sendable (HTTPRequestRecord) -> HTTPResponseSpec
    ) throws {
        self.limits = limits
        self.handler = handler

        let fd = socket(AF_INET, streamSocketType, 0)
        guard fd >= 0 else { throw LoopbackHTTPServerError(operation: "socket", errnoCode: errno) }
        func fail(_ operation: String) -> LoopbackHTTPServerError {
            let code = errno
            close(fd)
            return LoopbackHTTPServerError(operation: operation, errnoCode: code)
        }
        setSocketOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        #if canImport(Darwin)
            setSocketOption(fd, SOL_SOCKET, SO_NOSIGPIPE, 1)
        #endif

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw fail("bind(127.0.0.1:0)") }
        guard listen(fd, 128) == 0 else { throw fail("listen") }

        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw fail("getsockname") }

        let flags = fcntl(fd, F_GETFL, 0)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw fail("fcntl(O_NONBLOCK)")
        }

        listenFD = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
    }

    func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "LoopbackHTTPServer.accept:\(port)"
        thread.start()
    }

    var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    func snapshot() -> [HTTPRequestRecord] {
        condition.lock()
        defer { condition.unlock() }
        return records
    }

    func record(_ request: HTTPRequestRecord) {
        condition.lock()
        records.append(request)
        condition.broadcast()
        condition.unlock()
    }

    func waitForRequests(count: Int, timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: max(timeout, 0))
        condition.lock()
        defer { condition.unlock() }
        while records.count < count {
            if !condition.wait(until: deadline) { return records.count >= count }
        }
        return true
    }

    func stop() {
        let deadline = Date(timeIntervalSinceNow: 2)
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        while !acceptLoopFinished || activeConnections > 0 {
            if !condition.wait(until: deadline) { break }
        }
    }

    // MARK: Accept loop

    private func acceptLoop() {
        defer {
            close(listenFD)
            condition.lock()
            acceptLoopFinished = true
            condition.broadcast()
            condition.unlock()
        }
        while !isStopping {
            var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 50)
            if ready <= 0 { continue }  // timeout, EINTR, or a transient error: re-check `stopping`
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                let code = errno
                if code != EAGAIN && code != EWOULDBLOCK && code != EINTR && code != ECONNABORTED {
                    usleep(10_000)  // e.g. EMFILE: back off instead of spinning
                }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            condition.lock()
            let admitted = !stopping && activeConnections < limits.maxConnections
            if admitted { activeConnections += 1 }
            condition.unlock()
            guard admitted else {
                close(client)
                continue
            }
            let thread = Thread { [self] in
                serve(client)
                condition.lock()
                activeConnections -= 1
                condition.broadcast()
                condition.unlock()
            }
            thread.name = "LoopbackHTTPServer.conn:\(port)"
            thread.start()
        }
    }

    // MARK: One connection

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        #if canImport(Darwin)
            setSocketOption(fd, SOL_SOCKET, SO_NOSIGPIPE, 1)
            let flags = fcntl(fd, F_GETFL, 0)
            if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        #endif
        setSocketTimeout(fd, SO_SNDTIMEO, seconds: limits.idleTimeoutSeconds)
        setSocketOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)

        let reader = ConnectionReader(fd: fd, core: self)
        switch readRequest(reader) {
        case .success(let request):
            record(request)
            let spec = handler(request)
            if spec.delaySeconds > 0 && !sleepUnlessStopping(spec.delaySeconds) { return }
            if spec.dropConnection { return }
            _ = sendAll(fd, HTTPParsing.serialize(spec, isHead: request.method == "HEAD"))
            gracefulClose(fd)
        case .failure(let failure):
            guard let status = failure.status else { return }  // peer gone or server stopping
            let spec = HTTPResponseSpec.text(failure.message + "\n", status: status)
            _ = sendAll(fd, HTTPParsing.serialize(spec, isHead: false))
            gracefulClose(fd)
        }
    }

    /// Failure with a status to answer, or `nil` status to close silently.
    struct ReadFailure: Error {
        var status: Int?
        var message: String
    }

    private func readRequest(_ reader: ConnectionReader) -> Result<HTTPRequestRecord, ReadFailure> {
        // Request line (skipping up to a few leading empty lines) and header lines.
        var headerBudget = limits.maxHeaderBytes
        var requestLine: String?
        var headerLines: [String] = []
        var skippedEmptyLines = 0
        while true {
            let line: [UInt8]
            switch reader.readLine(maxLength: headerBudget) {
            case .success(let bytes): line = bytes
            case .failure(let failure):
                if failure == .tooLong {
                    return .failure(ReadFailure(status: 431, message: "request header block too large"))
                }
                if failure == .timeout && reader.hasReceivedData {
                    return .failure(ReadFailure(status: 408, message: "timed out reading request head"))
                }
                return .failure(ReadFailure(status: nil, message: "\(failure)"))
            }
            headerBudget -= line.count + 2
            if requestLine == nil {
                if line.isEmpty {
                    skippedEmptyLines += 1
                    if skippedEmptyLines > 4 {
                        return .failure(ReadFailure(status: 400, message: "missing request line"))
                    }
                    continue
                }
                requestLine = String(decoding: line, as: UTF8.self)
                continue
            }
            if line.isEmpty { break }
            headerLines.append(String(decoding: line, as: UTF8.self))
        }

        let head: HTTPRequestHead
        switch HTTPParsing.parseHead(requestLine: requestLine ?? "", headerLines: headerLines) {
        case .success(let parsed): head = parsed
        case .failure(let failure):
            return .failure(ReadFailure(status: failure.status, message: failure.message))
        }

        let body: [UInt8]
        switch readBody(head, reader) {
        case .success(let bytes): body = bytes
        case .failure(let failure): return .failure(failure)
        }
        return .success(
            HTTPRequestRecord(
                method: head.method, path: head.path, query: head.query, rawTarget: head.rawTarget,
                headers: head.headers, body: body))
    }

    private func readBody(_ head: HTTPRequestHead, _ reader: ConnectionReader) -> Result<
        [UInt8], ReadFailure
    > {
        func ioFailure(_ failure: ConnectionReader.Failure) -> ReadFailure {
            switch failure {
            case .timeout: return ReadFailure(status: 408, message: "timed out reading request body")
            case .tooLong: return ReadFailure(status: 400, message: "chunk line too long")
            default: return ReadFailure(status: nil, message: "\(failure)")
            }
        }
        let expectsContinue = head.headers["expect"]?.lowercased().contains("100-continue") ?? false
        var sentContinue = false
        func sendContinueIfNeeded() {
            guard expectsContinue, !sentContinue, head.version == "HTTP/1.1" else { return }
            sentContinue = true
            _ = sendAll(reader.fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }

        if let transferEncoding = head.headers["transfer-encoding"] {
            let codings = transferEncoding.lowercased().split(separator: ",").map {
                HTTPParsing.trimOWS($0)
            }
            guard codings.last == "chunked" else {
                return .failure(ReadFailure(status: 501, message: "unsupported transfer-encoding"))
            }
            guard codings.allSatisfy({ $0 == "chunked" || $0 == "identity" }) else {
                return .failure(ReadFailure(status: 501, message: "unsupported transfer-encoding"))
            }
            sendContinueIfNeeded()
            var body: [UInt8] = []
            while true {
                let sizeLine: [UInt8]
                switch reader.readLine(maxLength: 4096) {
                case .success(let line): sizeLine = line
                case .failure(let failure): return .failure(ioFailure(failure))
                }
                guard let size = HTTPParsing.chunkSize(String(decoding: sizeLine, as: UTF8.self)) else {
                    return .failure(ReadFailure(status: 400, message: "malformed chunk size"))
                }
                if size == 0 { break }
                guard body.count + size <= limits.maxBodyBytes else {
                    return .failure(ReadFailure(status: 413, message: "request body too large"))
                }
                switch reader.readExactly(size) {
                case .success(let chunk): body += chunk
                case .failure(let failure): return .failure(ioFailure(failure))
                }
                switch reader.readLine(maxLength: 0) {
                case .success: break
                case .failure(.tooLong):
                    return .failure(ReadFailure(status: 400, message: "missing CRLF after chunk"))
                case .failure(let failure): return .failure(ioFailure(failure))
                }
            }
            // Trailer section, ended by an empty line.
            var trailerBudget = limits.maxHeaderBytes
            while true {
                switch reader.readLine(maxLength: trailerBudget) {
                case .success(let line):
                    if line.isEmpty { return .success(body) }
                    trailerBudget -= line.count + 2
                case .failure(let failure): return .failure(ioFailure(failure))
                }
            }
        }

        guard let lengthText = head.headers["content-length"] else { return .success([]) }
        guard let length = HTTPParsing.contentLength(lengthText) else {
            return .failure(ReadFailure(status: 400, message: "malformed content-length"))
        }
        guard length <= limits.maxBodyBytes else {
            return .failure(ReadFailure(status: 413, message: "request body too large"))
        }
        if length == 0 { return .success([]) }
        sendContinueIfNeeded()
        switch reader.readExactly(length) {
        case .success(let bytes): return .success(bytes)
        case .failure(let failure): return .failure(ioFailure(failure))
        }
    }

    /// Sleeps in small slices; returns false if the server started stopping meanwhile.
    private func sleepUnlessStopping(_ seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + min(seconds, 3600)
        while true {
            if isStopping { return false }
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return true }
            usleep(UInt32(min(remaining, 0.01) * 1_000_000))
        }
    }

    /// Writes everything; gives up on error or after the send timeout.
    @discardableResult
    func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        var interruptions = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                send(fd, buffer.baseAddress! + offset, buffer.count - offset, sendFlags)
            }
            if sent > 0 {
                offset += sent
            } else if sent < 0 && errno == EINTR && interruptions < 100 {
                interruptions += 1
            } else {
                return false
            }
        }
        return true
    }

    /// Half-closes and briefly drains so the peer reads the response instead of a reset.
    private func gracefulClose(_ fd: Int32) {
        _ = shutdown(fd, shutdownWrite)
        let deadline = monotonicSeconds() + 0.25
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        var drained = 0
        while drained < 1 << 20 {
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 || isStopping { return }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, min(remaining, 0.05) * 1000)))
            if ready < 0 && errno != EINTR { return }
            if ready <= 0 { continue }
            let got = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { return }
            drained += got
        }
    }
}

// MARK: - Buffered, bounded reading from one connection

private final class ConnectionReader {
    enum Failure: Error, Equatable {
        case eof, timeout, stopped, ioError, tooLong
    }

    let fd: Int32
    private let core: ServerCore
    private var buffer: [UInt8] = []
    private var position = 0
    private(set) var hasReceivedData = false

    init(fd: Int32, core: ServerCore) {
        self.fd = fd
        self.core = core
    }

    /// Receives more bytes, waiting at most the idle timeout (checking for stop every 50 ms).
    private func fill() -> Failure? {
        if position > 0 && position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
        }
        let deadline = monotonicSeconds() + core.limits.idleTimeoutSeconds
        while true {
            if core.isStopping { return .stopped }
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return .timeout }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, min(remaining, 0.05) * 1000)))
            if ready < 0 {
                if errno == EINTR { continue }
                return .ioError
            }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got > 0 {
                buffer.append(contentsOf: chunk[0..<got])
                hasReceivedData = true
                return nil
            }
            if got == 0 { return .eof }
            let code = errno
            if code == EINTR || code == EAGAIN || code == EWOULDBLOCK { continue }
            return .ioError
        }
    }

    /// Reads one line ending in LF (an optional preceding CR is removed). `maxLength` bounds the
    /// line content; a longer line fails with `.tooLong`.
    func readLine(maxLength: Int) -> Result<[UInt8], Failure> {
        var searchFrom = position
        while true {
            if let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > position && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if end - position > max(maxLength, 0) { return .failure(.tooLong) }
                let line = Array(buffer[position..<end])
                position = newline + 1
                return .success(line)
            }
            // +1 allows a trailing CR still waiting for its LF.
            if buffer.count - position > max(maxLength, 0) + 1 { return .failure(.tooLong) }
            searchFrom = buffer.count
            let consumed = position
            if let failure = fill() { return .failure(failure) }
            searchFrom -= consumed - position  // `fill` may have compacted the buffer
        }
    }

    /// Reads exactly `count` bytes.
    func readExactly(_ count: Int) -> Result<[UInt8], Failure> {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            if position == buffer.count, let failure = fill() { return .failure(failure) }
            let take = min(count - result.count, buffer.count - position)
            result += buffer[position..<(position + take)]
            position += take
        }
        return .success(result)
    }
}
