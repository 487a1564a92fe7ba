// A minimal blocking TCP client for sending hand-written (possibly malformed) requests.

import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public enum RawClient {
    public struct Failure: Error {
        public let message: String
        public init(message: String) { self.message = message }
    }

    /// Connects to 127.0.0.1:`port`; returns the socket or `nil` (with `errno` set) on failure.
    public static func connect(port: Int) -> Int32? {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Glibc)
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #else
                    Darwin.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #endif
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            errno = code
            return nil
        }
        return fd
    }

    public static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        return address
    }

    /// Whether a fresh socket with SO_REUSEADDR can bind 127.0.0.1:`port`.
    public static func canBind(port: Int) -> Bool {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    public static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                #if canImport(Glibc)
                    Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                #else
                    Darwin.send(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
                #endif
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Reads until `stop(received)` is true, EOF, an error, or `timeout` seconds pass.
    public static func receive(
        _ fd: Int32, timeout: Double = 3, until stop: ([UInt8]) -> Bool = { _ in false }
    ) -> [UInt8] {
        var received: [UInt8] = []
        let deadline = Date(timeIntervalSinceNow: timeout)
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while !stop(received) {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, min(remaining, 0.1) * 1000)))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            received += chunk[0..<got]
        }
        return received
    }

    /// Sends `request` on a fresh connection and returns everything received until the server closes.
    public static func exchange(port: Int, _ request: String, timeout: Double = 3) throws -> String {
        try exchange(port: port, Array(request.utf8), timeout: timeout)
    }

    public static func exchange(port: Int, _ request: [UInt8], timeout: Double = 3) throws -> String {
        guard let fd = connect(port: port) else {
            throw Failure(message: "connect failed: errno \(errno)")
        }
        defer { close(fd) }
        guard send(fd, request) else { throw Failure(message: "send failed: errno \(errno)") }
        return String(decoding: receive(fd, timeout: timeout), as: UTF8.self)
    }
}

extension RawClient {
    /// One HTTP/1.1 request with `Connection: close`; returns the status, the headers (lowercased
    /// names) and the body. The wait is generous: the server closes the connection when it has
    /// answered, so only a loaded CI machine ever comes near it (5 s was once not enough for a
    /// dashboard's first scan while crash campaigns ran beside it).
    public static func request(
        port: Int, method: String = "GET", path: String, host: String = "127.0.0.1", headers: [(String, String)] = [], body: String = "",
        timeout: Double = 30
    ) throws -> (status: Int, headers: [String: String], body: String) {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + body
        let reply = try exchange(port: port, text, timeout: timeout)
        guard let split = reply.range(of: "\r\n\r\n") else { throw Failure(message: "no HTTP answer: \(reply.prefix(200))") }
        let head = reply[..<split.lowerBound].split(separator: "\r\n").map(String.init)
        guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2,
            let status = Int(statusLine.split(separator: " ")[1])
        else { throw Failure(message: "bad status line: \(head.first ?? "")") }
        var fields: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var payload = String(reply[split.upperBound...])
        if fields["transfer-encoding"]?.lowercased() == "chunked" { payload = dechunk(payload) }
        return (status, fields, payload)
    }

    /// The body of a chunked transfer.
    static func dechunk(_ text: String) -> String {
        var bytes = Array(text.utf8)[...]
        var out: [UInt8] = []
        while let lineEnd = bytes.firstIndex(of: 0x0D), lineEnd + 1 < bytes.endIndex {
            let sizeText = String(decoding: bytes[bytes.startIndex..<lineEnd], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            guard start + size <= bytes.endIndex else { break }
            out += bytes[start..<(start + size)]
            bytes = bytes[min(bytes.endIndex, start + size + 2)...]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Runs blocking work (a child process waited on, a sleep) on a Dispatch thread, so that a long
/// test does not hold one of the few threads of Swift's cooperative pool: on two cores two
/// blocking tests would stall every async test of the run (pacing and stream tests time out).
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
