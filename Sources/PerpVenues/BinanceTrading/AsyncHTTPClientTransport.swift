import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An ``HTTPTransport`` over one shared AsyncHTTPClient `HTTPClient`: connections are kept
/// alive between requests (a signed order should not pay a TLS handshake), `http` and `https`
/// both work, and every request has a deadline. Call ``shutdown()`` once when done.
///
/// Any failure to get a whole answer (refused, reset, timed out, body cut short) is thrown as a
/// retryable ``VenueError`` without `httpStatus`: the caller cannot know whether the venue acted
/// on the request, so it classifies the outcome as ambiguous (reliability-anchors.md §1.1,
/// Nautilus's command outcome policy).
public final class AsyncHTTPClientTransport: HTTPTransport {
    let client: HTTPClient
    let timeout: TimeAmount
    /// The largest body read; a longer answer is a failure, not an allocation.
    let maxBodyBytes: Int

    /// - Parameters:
    ///   - timeout: the whole request's deadline (connect, send, answer).
    ///   - idleTimeout: how long an unused pooled connection is kept open.
    public init(timeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60), maxBodyBytes: Int = 16 << 20) {
        func amount(_ duration: Duration) -> TimeAmount {
            let (seconds, attoseconds) = duration.components
            return .nanoseconds(max(0, min(seconds, 86_400)) * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        self.timeout = amount(timeout)
        self.maxBodyBytes = maxBodyBytes
        var configuration = HTTPClient.Configuration(
            timeout: HTTPClient.Configuration.Timeout(connect: amount(min(timeout, .seconds(10))), read: amount(timeout)),
            connectionPool: HTTPClient.Configuration.ConnectionPool(idleTimeout: amount(idleTimeout)))
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// One transport for the life of the process (the live commands use it): never released,
    /// so it never needs shutting down.
    public static let shared = AsyncHTTPClientTransport()

    /// Closes the pooled connections. Requests after this fail.
    public func shutdown() async throws { try await client.shutdown() }

    /// AsyncHTTPClient traps when a client is released without being shut down: a transport
    /// released without ``shutdown()`` shuts its client down here (asynchronously; the call
    /// keeps the client alive until it is done, and a second shutdown is answered, not trapped).
    deinit {
        client.shutdown { _ in }
    }

    public func send(method: String, url: URL, headers: [String: String], body: [UInt8]?) async throws -> HTTPResponse {
        let endpoint = "\(method) \(url.host ?? "")\(url.path)"
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(request, timeout: timeout)
            var buffer = try await response.body.collect(upTo: maxBodyBytes)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            var collected: [String: String] = [:]
            for header in response.headers { collected[header.name.lowercased()] = header.value }
            return HTTPResponse(status: Int(response.status.code), headers: collected, body: bytes)
        } catch {
            throw VenueError(
                kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint,
                message: "network error: \(VenueError.excerpt(Array(String(describing: error).utf8), limit: 120))")
        }
    }
}
