import Foundation
import Testing

@testable import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One URLSession round trip with a short timeout.
private func fetch(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = request.timeoutInterval
    configuration.timeoutIntervalForResource = request.timeoutInterval
    let session = URLSession(configuration: configuration)
    defer { session.finishTasksAndInvalidate() }
    let (data, response) = try await session.data(for: request)
    guard let http = response as? HTTPURLResponse else {
        throw RawClient.Failure(message: "not HTTP")
    }
    return (data, http)
}

private func request(_ url: URL, method: String = "GET", timeout: Double = 3) -> URLRequest {
    var request = URLRequest(url: url)
    request.httpMethod = method
    request.timeoutInterval = timeout
    return request
}

@Suite("LoopbackHTTPServer over URLSession")
struct LoopbackHTTPServerURLSessionTests {
    @Test func getWithQueryIsDecoded() async throws {
        let server = try LoopbackHTTPServer { request in
            .json(#"{"symbol":"\#(request.query["symbol"] ?? "?")"}"#)
        }
        defer { server.stop() }
        #expect(server.baseURL == "http://127.0.0.1:\(server.port)")
        #expect(server.port > 0)

        let url = server.url("/fapi/v1/premiumIndex?symbol=NMR%2FUSDT&note=a%20b&flag&plus=1+2")
        let (data, response) = try await fetch(request(url))
        #expect(response.statusCode == 200)
        #expect(response.value(forHTTPHeaderField: "Content-Type") == "application/json")
        #expect(String(decoding: data, as: UTF8.self) == #"{"symbol":"NMR/USDT"}"#)

        let recorded = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(recorded.method == "GET")
        #expect(recorded.path == "/fapi/v1/premiumIndex")
        #expect(
            recorded.rawTarget == "/fapi/v1/premiumIndex?symbol=NMR%2FUSDT&note=a%20b&flag&plus=1+2")
        #expect(recorded.query == ["symbol": "NMR/USDT", "note": "a b", "flag": "", "plus": "1+2"])
        #expect(recorded.headers["host"] == "127.0.0.1:\(server.port)")
        #expect(recorded.body.isEmpty)
    }

    @Test func postWithJSONBody() async throws {
        let server = try LoopbackHTTPServer { request in
            .json(#"{"received":\#(request.body.count)}"#, status: 201)
        }
        defer { server.stop() }
        // Larger than curl's Expect: 100-continue threshold, to exercise that path too.
        let payload =
            #"{"type":"clearinghouseState","user":"0x\#(String(repeating: "ab", count: 1500))"}"#
        var post = request(server.url("/info"), method: "POST")
        post.setValue("application/json", forHTTPHeaderField: "Content-Type")
        post.httpBody = Data(payload.utf8)

        let (data, response) = try await fetch(post)
        #expect(response.statusCode == 201)
        #expect(String(decoding: data, as: UTF8.self) == #"{"received":\#(payload.utf8.count)}"#)

        let recorded = try #require(server.requests.first)
        #expect(recorded.method == "POST")
        #expect(recorded.path == "/info")
        #expect(recorded.headers["content-type"] == "application/json")
        #expect(recorded.bodyText == payload)
    }

    @Test func status429WithRetryAfterIsVisible() async throws {
        let server = try LoopbackHTTPServer { _ in
            .json(#"{"code":-1003,"msg":"Too many requests"}"#, status: 429).withHeader(
                "Retry-After", "7")
        }
        defer { server.stop() }
        let (data, response) = try await fetch(request(server.url("/api/v3/ticker/price")))
        #expect(response.statusCode == 429)
        #expect(response.value(forHTTPHeaderField: "Retry-After") == "7")
        #expect(String(decoding: data, as: UTF8.self).contains("-1003"))
    }

    @Test func delayedResponseTimesOutClient() async throws {
        let server = try LoopbackHTTPServer { _ in HTTPResponseSpec.json("{}").delayed(by: 2) }
        do {
            _ = try await fetch(request(server.url("/slow"), timeout: 0.3))
            Issue.record("expected a timeout")
        } catch let error as URLError {
            #expect(error.code == .timedOut)
        }
        let stopStarted = Date()
        server.stop()  // interrupts the pending delay
        #expect(Date().timeIntervalSince(stopStarted) < 2.0)
    }

    @Test func droppedConnectionIsAnError() async throws {
        let server = try LoopbackHTTPServer { _ in .drop }
        defer { server.stop() }
        await #expect(throws: URLError.self) {
            _ = try await fetch(request(server.url("/dropped")))
        }
        #expect(server.requests.first?.path == "/dropped")
    }

    @Test func twentyConcurrentRequestsAreAllAnswered() async throws {
        let server = try LoopbackHTTPServer { request in
            .text("echo \(request.query["id"] ?? "?")")
        }
        defer { server.stop() }
        let bodies = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for id in 0..<20 {
                group.addTask {
                    let (data, response) = try await fetch(request(server.url("/echo?id=\(id)")))
                    #expect(response.statusCode == 200)
                    return (id, String(decoding: data, as: UTF8.self))
                }
            }
            var collected: [Int: String] = [:]
            for try await (id, body) in group { collected[id] = body }
            return collected
        }
        #expect(bodies.count == 20)
        for id in 0..<20 { #expect(bodies[id] == "echo \(id)") }
        #expect(server.requests.count == 20)
        #expect(Set(server.requests.compactMap { $0.query["id"] }).count == 20)
    }

    @Test func routesServeFixedPayloadsAnd404() async throws {
        let server = try LoopbackHTTPServer(routes: ["/a": .json("[1]")])
        defer { server.stop() }
        let (data, response) = try await fetch(request(server.url("/a?x=1")))
        #expect(response.statusCode == 200)
        #expect(String(decoding: data, as: UTF8.self) == "[1]")
        let (_, missing) = try await fetch(request(server.url("/b")))
        #expect(missing.statusCode == 404)
    }
}

@Suite("LoopbackHTTPServer wire behaviour")
struct LoopbackHTTPServerWireTests {
    @Test func stopReleasesThePortQuickly() throws {
        let server = try LoopbackHTTPServer { _ in .json("{}") }
        let port = server.port
        #expect(
            try RawClient.exchange(port: port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix(
                "HTTP/1.1 200 OK\r\n"))

        let started = Date()
        server.stop()
        #expect(Date().timeIntervalSince(started) < 1.0)
        server.stop()  // idempotent

        let refused = RawClient.connect(port: port)
        #expect(refused == nil)
        if let refused { close(refused) }
        #expect(RawClient.canBind(port: port))
    }

    @Test func deinitStopsTheServer() throws {
        var server: LoopbackHTTPServer? = try LoopbackHTTPServer { _ in .json("{}") }
        let port = try #require(server?.port)
        server = nil
        #expect(RawClient.connect(port: port) == nil)
    }

    @Test func malformedRequestsGet400() throws {
        let server = try LoopbackHTTPServer { _ in .json("{}") }
        defer { server.stop() }
        for bad in [
            "NONSENSE\r\n\r\n",
            "GET /a b HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
            "GET nothing HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let reply = try RawClient.exchange(port: server.port, bad)
            #expect(
                reply.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(bad.debugDescription) -> \(reply)")
            #expect(reply.contains("Connection: close\r\n"))
        }
        // NIO's parser answers an HTTP/2.0 request line and an unknown transfer coding with a
        // plain 400 (the hand-written server said 505 and 501).
        let version = try RawClient.exchange(port: server.port, "GET / HTTP/2.0\r\n\r\n")
        #expect(version.hasPrefix("HTTP/1.1 400 ") || version.hasPrefix("HTTP/1.1 505 "))
        let coding = try RawClient.exchange(
            port: server.port, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
        #expect(coding.hasPrefix("HTTP/1.1 400 ") || coding.hasPrefix("HTTP/1.1 501 "))
        #expect(server.requests.isEmpty)
    }

    @Test func limitsAreEnforced() throws {
        let limits = LoopbackHTTPServer.Limits(
            maxHeaderBytes: 1024, maxBodyBytes: 100, idleTimeoutSeconds: 0.3)
        let server = try LoopbackHTTPServer(limits: limits) { _ in .json("{}") }
        defer { server.stop() }
        // NIO's parser refuses an oversized head with 400 (the hand-written server said 431).
        let bigHeader = "GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n"
        let headReply = try RawClient.exchange(port: server.port, bigHeader)
        #expect(headReply.hasPrefix("HTTP/1.1 400 ") || headReply.hasPrefix("HTTP/1.1 431 "))
        let bigBody = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"
        #expect(try RawClient.exchange(port: server.port, bigBody).hasPrefix("HTTP/1.1 413 "))
        // Chunks are counted as they arrive, so the oversized chunk is sent in full.
        let bigChunk =
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n\(String(repeating: "b", count: 101))\r\n0\r\n\r\n"
        #expect(try RawClient.exchange(port: server.port, bigChunk).hasPrefix("HTTP/1.1 413 "))

        // A client that stalls mid-request is cut off after the idle timeout (closed without an
        // answer; the hand-written server wrote a 408 first).
        let started = Date()
        let stalled = try RawClient.exchange(
            port: server.port, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        #expect(stalled.isEmpty || stalled.hasPrefix("HTTP/1.1 408 "))
        #expect(Date().timeIntervalSince(started) < 3.0)
        // A client that connects and says nothing is closed silently.
        #expect(try RawClient.exchange(port: server.port, "").isEmpty)
        #expect(server.requests.isEmpty)
    }

    @Test func chunkedRequestBodyIsDecoded() throws {
        let server = try LoopbackHTTPServer { request in .text(request.bodyText) }
        defer { server.stop() }
        let reply = try RawClient.exchange(
            port: server.port,
            "POST /c?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(reply.contains("Content-Length: 11\r\n"))
        #expect(reply.hasSuffix("\r\n\r\nhello world"))
        #expect(server.requests.first?.body == Array("hello world".utf8))
    }

    @Test func expectContinueAndHeadAndBareLF() throws {
        let server = try LoopbackHTTPServer { request in .text("body:\(request.bodyText)") }
        defer { server.stop() }
        guard let fd = RawClient.connect(port: server.port) else {
            Issue.record("connect failed")
            return
        }
        defer { close(fd) }
        // Hummingbird sends no interim 100 Continue; a client that waits for one (curl) sends
        // the body after its own short timeout, so only the final answer is checked.
        #expect(
            RawClient.send(
                fd, Array("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8)))
        #expect(RawClient.send(fd, Array("abc".utf8)))
        let final = String(decoding: RawClient.receive(fd, timeout: 2), as: UTF8.self)
        #expect(final.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(final.hasSuffix("body:abc"))

        let head = try RawClient.exchange(port: server.port, "HEAD /h HTTP/1.1\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.contains("Content-Length: 5\r\n"))
        #expect(head.hasSuffix("\r\n\r\n"))

        // NIO's parser refuses bare-LF line ends (the hand-written server accepted them).
        let bare = try RawClient.exchange(port: server.port, "GET /lf?a=%41 HTTP/1.0\r\nX-A:  v \r\n\r\n")
        #expect(bare.hasPrefix("HTTP/1.1 200 OK\r\n"))
        let last = try #require(server.requests.last)
        #expect(last.query == ["a": "A"])
        #expect(last.headers["x-a"] == "v")
    }

    @Test func connectionsAreServedConcurrently() throws {
        let server = try LoopbackHTTPServer { request in
            HTTPResponseSpec.text(request.path).delayed(by: 0.25)
        }
        defer { server.stop() }
        let started = Date()
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        for index in 0..<20 {
            guard let fd = RawClient.connect(port: server.port) else {
                Issue.record("connect \(index) failed")
                return
            }
            sockets.append(fd)
            #expect(RawClient.send(fd, Array("GET /\(index) HTTP/1.1\r\n\r\n".utf8)))
        }
        for (index, fd) in sockets.enumerated() {
            let reply = String(decoding: RawClient.receive(fd), as: UTF8.self)
            #expect(reply.hasSuffix("\r\n\r\n/\(index)"))
        }
        // Serially this would take 20 × 0.25 s = 5 s.
        #expect(Date().timeIntervalSince(started) < 4.0)
        #expect(server.waitForRequests(count: 20, timeout: 1))
    }

    @Test func responseHeadersAreSanitised() {
        let spec = HTTPResponseSpec(
            status: 204,
            headers: [
                "Content-Length": "99", "X-Evil": "a\r\nInjected: 1", "Connection": "keep-alive",
                "Bad Name": "v",
            ],
            body: Array("ignored".utf8))
        let text = String(decoding: HTTPParsing.serialize(spec, isHead: false), as: UTF8.self)
        #expect(
            text
                == "HTTP/1.1 204 No Content\r\nBadName: v\r\nX-Evil: aInjected: 1\r\nConnection: close\r\n\r\n"
        )
    }
}

@Suite("HTTP parsing helpers")
struct HTTPParsingTests {
    @Test func targets() {
        #expect(
            HTTPParsing.splitTarget("/a/b?c=d#frag").map { [$0.0, String($0.1)] } == ["/a/b", "c=d"])
        #expect(
            HTTPParsing.splitTarget("http://h:1/p?q=1").map { [$0.0, String($0.1)] } == ["/p", "q=1"])
        #expect(HTTPParsing.splitTarget("http://h:1").map { [$0.0, String($0.1)] } == ["/", ""])
        #expect(HTTPParsing.splitTarget("relative") == nil)
    }

    @Test func percentDecoding() {
        #expect(HTTPParsing.percentDecode("a%20b%zz%4") == "a b%zz%4")
        #expect(HTTPParsing.percentDecode("%E2%82%AC") == "€")
        #expect(HTTPParsing.parseQuery("a=1&a=2&&b") == ["a": "2", "b": ""])
    }

    @Test func lengths() {
        #expect(HTTPParsing.contentLength("12") == 12)
        #expect(HTTPParsing.contentLength("5, 5") == 5)
        #expect(HTTPParsing.contentLength("-1") == nil)
        #expect(HTTPParsing.contentLength("99999999999999999999") == nil)
        #expect(HTTPParsing.chunkSize("1A;x=y") == 26)
        #expect(HTTPParsing.chunkSize("-1") == nil)
        #expect(HTTPParsing.chunkSize("") == nil)
    }
}
