// A tiny HTTP/1.1 server on 127.0.0.1 for replaying recorded venue payloads in tests, built on
// Hummingbird (HummingbirdCore's HTTP/1 channel, NIO underneath).
//
// Its start and stop are synchronous from the caller's view. The server runs on a task whose
// executor is a thread of its own (`ServerThreadExecutor`), so a caller that blocks a cooperative
// thread while waiting for the port (a Swift Testing test on a 2-core machine) cannot starve it.
// One request per connection: every answer carries `Connection: close` and the server closes.

import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix

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
public final class LoopbackHTTPServer: Sendable {
    /// Bounds that keep a misbehaving client from hanging or bloating a test.
    public struct Limits: Sendable {
        /// Maximum size of one header field and of the header block (NIO's parser enforces it;
        /// a larger head is answered 400, not 431 as the hand-written server did).
        public var maxHeaderBytes: Int
        /// Maximum request body size (after de-chunking); larger bodies get 413.
        public var maxBodyBytes: Int
        /// A connection with no traffic for this long is closed.
        public var idleTimeoutSeconds: Double
        /// Kept for source compatibility; NIO accepts every connection.
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

    /// A WebSocket session on an upgraded connection: it gets the request path, and writes text
    /// frames with `send`; returning closes the socket.
    typealias WebSocketSession =
        @Sendable (
            _ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter
        ) async throws -> Void

    private let core: ServerCore

    /// Binds 127.0.0.1:0 and waits (at most 10 s) until the server is listening.
    public convenience init(
        limits: Limits = Limits(), handler: @escaping @Sendable (HTTPRequestRecord) -> HTTPResponseSpec
    ) throws {
        try self.init(limits: limits, handler: handler, webSocket: nil)
    }

    /// As above, and upgrades to a WebSocket the requests for which `webSocket` returns a session
    /// (the venue twins' user data stream).
    init(
        limits: Limits, handler: @escaping @Sendable (HTTPRequestRecord) -> HTTPResponseSpec,
        webSocket: (@Sendable (String) -> WebSocketSession?)?
    ) throws {
        core = ServerCore(limits: limits, handler: handler)
        try core.start(webSocket: webSocket)
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

    /// `baseURL` + `pathAndQuery` as a URL (`pathAndQuery` should start with `/`); a text that is
    /// not a URL gives `baseURL` itself.
    public func url(_ pathAndQuery: String) -> URL {
        if let url = URL(string: baseURL + pathAndQuery) { return url }
        return URL(fileURLWithPath: "/")  // unreachable for the loopback base URL and a path
    }

    /// Snapshot of every request received so far, in arrival order.
    public var requests: [HTTPRequestRecord] { core.snapshot() }

    /// Waits (bounded) until at least `count` requests have arrived; returns whether they did.
    @discardableResult
    public func waitForRequests(count: Int, timeout: Double = 2) -> Bool {
        core.waitForRequests(count: count, timeout: timeout)
    }

    /// Stops accepting, closes every connection (interrupting pending delays) and waits at most
    /// ~2 s for the server task to end. Idempotent; also called from `deinit`.
    public func stop() { core.stop() }
}

// MARK: - Core

private final class ServerCore: @unchecked Sendable {
    let limits: LoopbackHTTPServer.Limits
    let handler: @Sendable (HTTPRequestRecord) -> HTTPResponseSpec

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var boundPort = 0
    private var startError: (any Error)?
    private var finished = false
    private var stopped = false
    private var task: Task<Void, Never>?
    private var executor: ServerThreadExecutor?
    private var records: [HTTPRequestRecord] = []

    init(limits: LoopbackHTTPServer.Limits, handler: @escaping @Sendable (HTTPRequestRecord) -> HTTPResponseSpec) {
        self.limits = limits
        self.handler = handler
    }

    var port: Int {
        condition.lock()
        defer { condition.unlock() }
        return boundPort
    }

    func start(webSocket: (@Sendable (String) -> LoopbackHTTPServer.WebSocketSession?)?) throws {
        let idle = TimeAmount.nanoseconds(Int64(max(limits.idleTimeoutSeconds, 0.01) * 1e9))
        let http1 = HTTP1Channel.Configuration(
            idleTimeout: idle,
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes))
        let builder: HTTPServerBuilder
        if let webSocket {
            builder = .http1WebSocketUpgrade(
                configuration: .init(http1: http1, ws: .init(autoPing: .disabled, closeTimeout: .seconds(1)))
            ) { head, _, _ in
                guard let session = webSocket(head.path ?? "/") else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in try await session(inbound, outbound) }
            }
        } else {
            builder = .http1(configuration: http1)
        }
        var logger = Logger(label: "LoopbackHTTPServer", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let server = try builder.buildServer(
            configuration: ServerConfiguration(address: .hostname("127.0.0.1", port: 0)),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            responder: { [self] request, writer, channel in
                try await respond(request, writer, channel)
            },
            onServerRunning: { [self] channel in
                condition.withLock {
                    boundPort = channel.localAddress?.port ?? 0
                    condition.broadcast()
                }
            })

        let executor = ServerThreadExecutor(name: "LoopbackHTTPServer")
        let task = Task(executorPreference: executor) { [self] in
            var failure: (any Error)?
            do { try await server.run() } catch { failure = error }
            condition.withLock {
                if boundPort == 0 {
                    startError = failure ?? LoopbackHTTPServerError(operation: "start", errnoCode: EIO)
                }
                finished = true
                condition.broadcast()
            }
        }
        condition.lock()
        self.task = task
        self.executor = executor
        let deadline = Date(timeIntervalSinceNow: 10)
        while boundPort == 0 && startError == nil {
            if !condition.wait(until: deadline) { break }
        }
        let ready = boundPort != 0
        condition.unlock()
        guard ready else {
            stop()
            throw LoopbackHTTPServerError(operation: "bind(127.0.0.1:0)", errnoCode: ETIMEDOUT)
        }
    }

    func stop() {
        condition.lock()
        let task = stopped ? nil : self.task
        stopped = true
        condition.unlock()
        guard let task else { return }
        task.cancel()
        condition.lock()
        let deadline = Date(timeIntervalSinceNow: 2)
        while !finished {
            if !condition.wait(until: deadline) { break }
        }
        let executor = finished ? self.executor : nil
        condition.unlock()
        executor?.finishWhenIdle()  // a task that did not end keeps its thread
    }

    func snapshot() -> [HTTPRequestRecord] {
        condition.lock()
        defer { condition.unlock() }
        return records
    }

    func waitForRequests(count: Int, timeout: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: min(max(timeout, 0), 3600))
        while records.count < count {
            if !condition.wait(until: deadline) { return records.count >= count }
        }
        return true
    }

    private func append(_ request: HTTPRequestRecord) {
        condition.withLock {
            records.append(request)
            condition.broadcast()
        }
    }

    // MARK: One request

    private func respond(_ request: Request, _ writer: consuming ResponseWriter, _ channel: any Channel) async throws {
        var request = request
        let tooLarge = HTTPResponseSpec.text("request body too large\n", status: 413)
        if let declared = request.headers[.contentLength].flatMap(HTTPParsing.contentLength),
            declared > limits.maxBodyBytes
        {
            try await write(tooLarge, isHead: false, writer, channel)
            return
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limits.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            try await write(tooLarge, isHead: false, writer, channel)
            return
        }
        let record = Self.record(request.head, body: Array(buffer: body))
        append(record)
        let spec = handler(record)
        if spec.delaySeconds > 0 {
            // Cancelled by `stop()`: the connection closes without an answer.
            try await Task.sleep(nanoseconds: UInt64(min(spec.delaySeconds, 3600) * 1e9))
        }
        if spec.dropConnection {
            // Nothing written: the client sees the connection close (or reset) without a response.
            try? await channel.close()
            return
        }
        try await write(spec, isHead: request.method == .head, writer, channel)
    }

    private func write(
        _ spec: HTTPResponseSpec, isHead: Bool, _ writer: consuming ResponseWriter, _ channel: any Channel
    ) async throws {
        // 1xx would be read as an interim answer: the smallest final status is 200.
        let status = min(max(spec.status, 200), 999)
        let bodyForbidden = status == 204 || status == 304
        var fields = HTTPFields()
        let reserved: Set<String> = ["content-length", "connection", "transfer-encoding"]
        for (name, value) in spec.headers.sorted(by: { $0.key < $1.key }) {
            let cleanName = String(
                String.UnicodeScalarView(name.unicodeScalars.filter { HTTPParsing.isTokenScalar($0) }))
            let cleanValue = String(
                String.UnicodeScalarView(value.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\0" }))
            guard !reserved.contains(cleanName.lowercased()), let fieldName = HTTPField.Name(cleanName) else { continue }
            fields.append(HTTPField(name: fieldName, value: cleanValue))
        }
        if !bodyForbidden { fields[.contentLength] = String(spec.body.count) }
        fields[.connection] = "close"
        let head = HTTPResponse(status: .init(code: status), headerFields: fields)
        let body = bodyForbidden || isHead ? ByteBuffer() : ByteBuffer(bytes: spec.body)
        try await writer.write(response: head, body: .init(byteBuffer: body))
        // One request per connection, as `Connection: close` announced; the client closes its side.
        try? await channel.close(mode: .output)
    }

    /// The record of a request as Hummingbird parsed it. HTTPTypes moves `Host` into the
    /// authority; it is put back as a header.
    static func record(_ head: HTTPRequest, body: [UInt8]) -> HTTPRequestRecord {
        let target = head.path ?? "/"
        let (path, queryText) = HTTPParsing.splitTarget(target) ?? (target, "")
        var headers: [String: String] = [:]
        if let authority = head.authority { headers["host"] = authority }
        for field in head.headerFields {
            let key = field.name.canonicalName.lowercased()
            if let existing = headers[key] {
                headers[key] = existing + ", " + field.value
            } else {
                headers[key] = field.value
            }
        }
        return HTTPRequestRecord(
            method: head.method.rawValue, path: path, query: HTTPParsing.parseQuery(queryText), rawTarget: target,
            headers: headers, body: body)
    }
}

// MARK: - A task executor with a thread of its own

/// Runs the server task's jobs on one dedicated thread, so the server makes progress even when
/// every thread of the cooperative pool is blocked (e.g. in a synchronous `init` waiting for it).
/// The thread ends once `finishWhenIdle()` was called and no job is queued.
final class ServerThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finishing = false

    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    func finishWhenIdle() {
        condition.lock()
        finishing = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finishing { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
