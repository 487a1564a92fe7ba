import Foundation
import TestSupport
import Testing

/// `nmrperp dashboard` as a user runs it: it says where it listens, refuses bad flags and a busy
/// port with one line, refuses to listen beyond this computer without --allow-remote, and stops
/// cleanly on SIGTERM.
@Suite("nmrperp dashboard", .serialized)
struct DashboardCLITests {
    /// A running `nmrperp dashboard ARGS…`: its first line (the address), then SIGTERM.
    final class Running: @unchecked Sendable {
        let process = Process()
        let out = Pipe()
        let err = Pipe()

        init(_ arguments: [String], home: String) throws {
            process.executableURL = CLI.binary
            process.arguments = ["dashboard"] + arguments
            var env = ProcessInfo.processInfo.environment
            env["NMRPERP_HOME"] = home
            env["NMRPERP_OFFLINE"] = "1"
            process.environment = env
            process.standardOutput = out
            process.standardError = err
            try process.run()
        }

        /// The port from "dashboard: http://127.0.0.1:PORT/ …", within 20 s.
        func port() throws -> Int {
            var text = ""
            let deadline = Date(timeIntervalSinceNow: 20)
            while Date() < deadline && !text.contains("\n") {
                var pfd = pollfd(fd: out.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 100) > 0 {
                    let chunk = out.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
            }
            guard let range = text.range(of: #"127\.0\.0\.1:(\d+)/"#, options: .regularExpression) else {
                throw CLIRunError("no address printed: \(text) \(String(decoding: err.fileHandleForReading.availableData, as: UTF8.self))")
            }
            let digits = text[range].dropFirst("127.0.0.1:".count).dropLast()
            return Int(digits) ?? 0
        }

        /// SIGTERM, then the exit status and what it printed.
        func stop() -> (status: Int32, stdout: String, stderr: String, seconds: Double) {
            let started = Date()
            process.terminate()
            let deadline = Date(timeIntervalSinceNow: 15)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return (
                process.terminationStatus, String(decoding: out.fileHandleForReading.availableData, as: UTF8.self),
                String(decoding: err.fileHandleForReading.availableData, as: UTF8.self), Date().timeIntervalSince(started)
            )
        }
    }

    static func home() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-dashboard-cli-\(UUID().uuidString)").path
    }

    @Test func servesSaysWhereAndStopsCleanlyOnSIGTERM() async throws {
        let home = Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let running = try Running(["--port", "0"], home: home)
        let port = try await offPool { try running.port() }
        let sessions = try await offPool { try RawClient.request(port: port, path: "/api/sessions") }
        #expect(sessions.status == 200)
        #expect(sessions.body == "[]")
        // A second dashboard on the same port: one clear line.
        let busy = try await offPool {
            try CLI.run(["dashboard", "--port", String(port)], environment: ["NMRPERP_HOME": home], timeout: 30)
        }
        #expect(busy.status == 1)
        #expect(busy.stderr.contains("port \(port) on 127.0.0.1 is already in use"), "\(busy.stderr)")
        #expect(busy.stderr.split(separator: "\n").count == 1)
        // An open page's event stream does not hold the shutdown up.
        let page = try #require(RawClient.connect(port: port))
        defer { close(page) }
        _ = RawClient.send(page, Array("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let hello = try await offPool {
            String(
                decoding: RawClient.receive(page, timeout: 5) { String(decoding: $0, as: UTF8.self).contains("event: hello") },
                as: UTF8.self)
        }
        #expect(hello.contains("event: hello"))
        let end = try await offPool { running.stop() }
        #expect(end.status == 0, "\(end.stderr)")
        #expect(end.stdout.contains("dashboard: stopped"))
        #expect(!end.stderr.contains("error"), "\(end.stderr)")
        #expect(end.seconds < 5, "stopped after \(end.seconds) s")
    }

    @Test func refusesBadFlagsAndARemoteAddressWithoutAllowRemote() async throws {
        let cases: [([String], String)] = [
            (["dashboard", "--port", "99999"], "--port must be a whole number from 0 to 65535"),
            (["dashboard", "--port", "-1"], "--port"),
            (["dashboard", "--port", "eighty"], "--port"),
            (["dashboard", "--host", "0.0.0.0"], "add --allow-remote"),
            (["dashboard", "--host", "bad host!"], "--host must be an address"),
            (["dashboard", "--host", "10.255.255.1", "--allow-remote", "--port", "0"], "not an address of this computer"),
        ]
        for (arguments, needle) in cases {
            let result = try await offPool { try CLI.run(arguments, timeout: 30) }
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(needle), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
        }
    }
}
