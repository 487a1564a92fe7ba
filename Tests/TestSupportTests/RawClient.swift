// A minimal blocking TCP client for sending hand-written (possibly malformed) requests.

import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

enum RawClient {
    struct Failure: Error { let message: String }

    /// Connects to 127.0.0.1:`port`; returns the socket or `nil` (with `errno` set) on failure.
    static func connect(port: Int) -> Int32? {
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

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        return address
    }

    /// Whether a fresh socket with SO_REUSEADDR can bind 127.0.0.1:`port`.
    static func canBind(port: Int) -> Bool {
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

    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
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
    static func receive(
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
    static func exchange(port: Int, _ request: String, timeout: Double = 3) throws -> String {
        try exchange(port: port, Array(request.utf8), timeout: timeout)
    }

    static func exchange(port: Int, _ request: [UInt8], timeout: Double = 3) throws -> String {
        guard let fd = connect(port: port) else {
            throw Failure(message: "connect failed: errno \(errno)")
        }
        defer { close(fd) }
        guard send(fd, request) else { throw Failure(message: "send failed: errno \(errno)") }
        return String(decoding: receive(fd, timeout: timeout), as: UTF8.self)
    }
}
