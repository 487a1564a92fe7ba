import ArgumentParser
import Dispatch
import Foundation
import Histogram
import Logging
import PerpDashboard
import PerpLive
import PerpModel

#if canImport(Glibc)
    import Glibc
#endif

/// `nmrperp bench dashboard` (issue 14): the dashboard over a 30-day one-minute paper session —
/// the server's time for the first view, the first view in headless Chromium, how fast an update
/// reaches an open page, and what 50 open pages cost.
struct BenchDashboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Time the dashboard over a 30-day session: first view, updates, 50 open pages.",
        discussion: """
            Writes a --days-day one-minute paper session (43,200 bars for 30 days, through the real \
            runtime on the simulated venue) into a scratch $NMRPERP_HOME, serves it on 127.0.0.1 and \
            measures, in the same run:

            • server time of the first view: each request the page makes for the session (the page, \
            the session list, equity, positions, risk, funding, 200 journal rows), --requests times \
            each over loopback; the first view's server time is the sum of their medians; \
            • the first view in a browser: headless Chromium through scripts/dashboard-browser.py \
            (from the current folder), navigation to the charts and tables drawn, --browser-loads \
            times; skipped with a note when Chromium or Selenium is missing; \
            • update latency: a second session, running, writes a bar every second for --seconds; \
            the time from its commit to the change reaching an open event stream; \
            • 50 open pages: the process's CPU while --clients pages hold an event stream and fetch \
            what the page fetches on every change, minus the same load with no page open. The \
            figure includes the clients' own reads (an upper bound). --pace 1m is a one-minute \
            session's real pace; the default, a bar a second, is sixty times its load.

              swift build -c release && .build/release/nmrperp bench dashboard
            """)

    @Option(help: "Days of one-minute bars in the session, 1–60.") var days = 30
    @Option(help: "Timed loopback requests per endpoint, 5–1000.") var requests = 30
    @Option(help: "First views timed in Chromium, 0–50 (0 skips the browser).") var browserLoads = 5
    @Option(help: "Open pages for the CPU figure, 1–500.") var clients = 50
    @Option(help: "Seconds of each load phase, 5–900.") var seconds = 15
    @Option(help: "How often the running session writes a bar during the phases (1s … 60s; its real pace is 1m).") var pace = "1s"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        // Ctrl-C or SIGTERM: the work stops at its next await, the scratch folder is removed and
        // it says so (exit 1).
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let scratch = BenchScratch(home: folder + "/nmrperp-bench-dashboard-\(getpid())")
        let work = Task { try await measure(scratch) }
        let interrupts = Interrupts.cancel(work)
        defer { interrupts.remove() }
        let result = await work.result
        // The dashboard stops before its folder goes: a refresh running while the folder is
        // removed could otherwise open, and so re-create, a session file in it.
        await scratch.finish()
        do { try result.get() } catch is CancellationError {
            throw CLIError("bench dashboard: interrupted; its scratch session was removed")
        }
    }

    func measure(_ scratch: BenchScratch) async throws {
        guard (1...60).contains(days) else { throw CLIError("--days must be between 1 and 60 (got \(days))") }
        guard (5...1000).contains(requests) else { throw CLIError("--requests must be between 5 and 1000 (got \(requests))") }
        guard (0...50).contains(browserLoads) else { throw CLIError("--browser-loads must be between 0 and 50 (got \(browserLoads))") }
        guard (1...500).contains(clients) else { throw CLIError("--clients must be between 1 and 500 (got \(clients))") }
        guard (5...900).contains(seconds) else { throw CLIError("--seconds must be between 5 and 900 (got \(seconds))") }
        let paceSpan = try Parse.span(pace, "--pace")
        guard paceSpan >= .seconds(1), paceSpan <= .seconds(60) else { throw CLIError("--pace must be from 1s to 60s (got \(pace))") }
        let paceSeconds = Double(paceSpan.milliseconds) / 1000
        let barsPerPhase = max(1, Int((Double(seconds) / paceSeconds).rounded(.up)))
        let home = scratch.home
        for kind in ["paper", "live", "hedge"] {
            try FileManager.default.createDirectory(atPath: home + "/" + kind, withIntermediateDirectories: true)
        }
        func note(_ text: String) { if !json { FileHandle.standardError.write(Data((text + "\n").utf8)) } }

        note("writing a \(days)-day one-minute paper session (\(days * 1440) bars) through the runtime…")
        let written = Date()
        let bars = SyntheticSession.bars(count: days * 1440)
        _ = try await SyntheticSession.write(path: home + "/paper/month.sqlite", name: "month", bars: bars)
        let writeSeconds = Date().timeIntervalSince(written)

        var options = DashboardOptions()
        options.port = 0
        let dashboard = Dashboard(
            home: home, options: options, clock: { SystemPaperClock().now() },
            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let started = Date()
        let bound = BenchPort()
        scratch.serve(Task { try await dashboard.run { bound.set($0) } })
        let port = try await bound.wait()
        let warmSeconds = Date().timeIntervalSince(started)
        note("dashboard on 127.0.0.1:\(port), ready after \(formatFixed(warmSeconds, 2)) s (the session folded once)")

        // 1. Server time of the first view.
        let paths = [
            "/", "/api/sessions", "/api/sessions/paper/month/equity", "/api/sessions/paper/month/positions",
            "/api/sessions/paper/month/risk", "/api/sessions/paper/month/funding", "/api/sessions/paper/month/journal?limit=200",
        ]
        var perPath: [(String, median: Double, max: Double, bytes: Int)] = []
        for path in paths {
            var times: [Double] = []
            var bytes = 0
            for _ in 0..<requests {
                try Task.checkCancellation()
                let begin = DispatchTime.now().uptimeNanoseconds
                bytes = try BenchHTTP.get(port: port, path: path).count
                times.append(Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e6)
            }
            times.sort()
            perPath.append((path, times[times.count / 2], times.last ?? 0, bytes))
        }
        let serverFirstView = perPath.reduce(0) { $0 + $1.median }

        // 2. The first view in Chromium.
        var browser: [Double] = []
        var browserNote: String?
        if browserLoads > 0 {
            let script = FileManager.default.currentDirectoryPath + "/scripts/dashboard-browser.py"
            if FileManager.default.fileExists(atPath: script) {
                note("loading the page \(browserLoads) times in headless Chromium…")
                (browser, browserNote) = Self.browserFirstViews(script: script, port: port, loads: browserLoads)
            } else {
                browserNote =
                    "scripts/dashboard-browser.py not found from \(FileManager.default.currentDirectoryPath): run from the repository"
            }
        }

        // 3. Update latency and 4. 50 open pages, with a second session writing a bar a second.
        note("a running session writes a bar every \(pace); \(seconds) s without pages, then \(seconds) s with \(clients) open…")
        let liveBars = SyntheticSession.bars(count: 60 + 2 * barsPerPhase + 10)
        var runner = try await SyntheticRunner(path: home + "/paper/running.sqlite", name: "running", bars: liveBars)
        try await runner.advance(to: 60)
        try await Task.sleep(for: .milliseconds(600))
        let stream = try BenchStream(port: port)
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        func phase(_ count: Int) async throws -> Double {
            let cpuStart = BenchHedge.cpuSeconds()
            let wallStart = Date()
            for _ in 0..<count {
                let tick = Date()
                stream.drain()
                let committed = DispatchTime.now().uptimeNanoseconds
                try await runner.advance(to: runner.fed + 1)
                if let arrived = stream.waitForChange(containing: "paper/running", timeout: 3) {
                    latency.record(arrived > committed ? arrived - committed : 0)
                }
                let rest = paceSeconds - Date().timeIntervalSince(tick)
                if rest > 0 { try await Task.sleep(for: .milliseconds(Int(rest * 1000))) }
            }
            return (BenchHedge.cpuSeconds() - cpuStart) / max(Date().timeIntervalSince(wallStart), 1e-9) * 100
        }
        let quiet = try await phase(barsPerPhase)
        let pages = BenchClients(port: port, count: clients)
        try await Task.sleep(for: .milliseconds(500))
        let loaded = try await phase(barsPerPhase)
        let fetched = pages.stop()
        stream.close()
        runner.close()
        let added = max(0, loaded - quiet)

        func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }
        let sortedBrowser = browser.sorted()
        let browserMedian = sortedBrowser.isEmpty ? nil : sortedBrowser[sortedBrowser.count / 2]
        if json {
            print(
                JSONValue.object([
                    ("bars", .int(bars.count)), ("write_seconds", .double(writeSeconds, significant: 4)),
                    ("ready_seconds", .double(warmSeconds, significant: 4)),
                    (
                        "server_ms",
                        .object(
                            perPath.map {
                                (
                                    $0.0,
                                    .object([
                                        ("median", .double($0.median, significant: 4)), ("max", .double($0.max, significant: 4)),
                                        ("bytes", .int($0.bytes)),
                                    ])
                                )
                            })
                    ), ("server_first_view_ms", .double(serverFirstView, significant: 4)),
                    ("browser_first_view_ms", .array(browser.map { .double($0, significant: 4) })),
                    ("browser_note", browserNote.map { .string($0) } ?? .null),
                    (
                        "update_ms",
                        .object([
                            ("p50", .double(ms(latency.valueAtPercentile(50)), significant: 4)),
                            ("p99", .double(ms(latency.valueAtPercentile(99)), significant: 4)),
                            ("max", .double(ms(latency.max), significant: 4)), ("count", .int(latency.totalCount)),
                        ])
                    ),
                    ("cpu_percent_no_pages", .double(quiet, significant: 3)), ("cpu_percent_with_pages", .double(loaded, significant: 3)),
                    ("pages", .int(clients)), ("page_fetches", .int(fetched)),
                    ("pace_seconds", .double(paceSeconds, significant: 3)), ("added_cpu_percent", .double(added, significant: 3)),
                ]).serialized(pretty: true))
            return
        }
        print(
            "session: \(bars.count) one-minute bars written in \(formatFixed(writeSeconds, 1)) s; dashboard ready (folded) in \(formatFixed(warmSeconds, 2)) s"
        )
        for entry in perPath {
            print("  \(entry.0): median \(formatFixed(entry.median, 2)) ms, max \(formatFixed(entry.max, 2)) ms, \(entry.bytes) bytes")
        }
        print("first view, server time (sum of medians): \(formatFixed(serverFirstView, 1)) ms  [goal: < 50 ms]")
        if let browserMedian {
            print(
                "first view in Chromium (navigation to charts drawn): median \(formatFixed(browserMedian, 0)) ms, max \(formatFixed(sortedBrowser.last ?? 0, 0)) ms over \(browser.count) loads  [goal: < 300 ms]"
            )
        } else if let browserNote {
            print("first view in Chromium: skipped (\(browserNote))")
        }
        print(
            "update to an open page: p50 \(formatFixed(ms(latency.valueAtPercentile(50)), 0)) ms, p99 \(formatFixed(ms(latency.valueAtPercentile(99)), 0)) ms, max \(formatFixed(ms(latency.max), 0)) ms over \(latency.totalCount) bars  [goal: < 1 s]"
        )
        print(
            "\(clients) open pages, a bar every \(pace): CPU \(formatFixed(quiet, 3)) % → \(formatFixed(loaded, 3)) % of one core (\(fetched) page fetches): +\(formatFixed(added, 3)) %  [goal: < 5 %]"
        )
    }

    /// The browser script's first views (ms), or why there are none.
    static func browserFirstViews(script: String, port: Int, loads: Int) -> ([Double], String?) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", script, "--mode", "bench", "--url", "http://127.0.0.1:\(port)/", "--session", "paper/month", "--loads",
            String(loads),
            "--screenshots", FileManager.default.temporaryDirectory.path,
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { return ([], "python3 could not start: \(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let object = try? JSONSerialization.jsonObject(with: data.split(separator: 0x0A).last ?? Data()) as? [String: Any],
            let views = object["first_view_ms"] as? [Double]
        else {
            let reason = stderr.split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"
            return ([], process.terminationStatus == 3 ? reason : "the browser script failed: \(reason)")
        }
        return (views, nil)
    }
}

/// The benchmark's scratch `$NMRPERP_HOME` and the dashboard serving it: stopped, then removed.
final class BenchScratch: @unchecked Sendable {
    let home: String
    private let lock = NSLock()
    private var server: Task<Void, any Error>?

    init(home: String) { self.home = home }

    func serve(_ task: Task<Void, any Error>) { lock.withLock { server = task } }

    func finish() async {
        let task = lock.withLock { server }
        task?.cancel()
        _ = await task?.result
        try? FileManager.default.removeItem(atPath: home)
    }
}

/// The bound port, handed from the server's task.
final class BenchPort: @unchecked Sendable {
    private let lock = NSLock()
    private var port = 0
    func set(_ value: Int) { lock.withLock { port = value } }
    func wait() async throws -> Int {
        for _ in 0..<600 {
            if let value = lock.withLock({ port == 0 ? nil : port }) { return value }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CLIError("the dashboard did not start within 30 s")
    }
}

/// Blocking HTTP/1.1 on 127.0.0.1 for the benchmark (one request per connection).
enum BenchHTTP {
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CLIError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw CLIError("connect to 127.0.0.1:\(port): errno \(errno)")
        }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// The whole answer (headers and body) to a GET.
    static func get(port: Int, path: String) throws -> [UInt8] {
        let fd = try connect(port: port)
        defer { close(fd) }
        send(fd, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            received += chunk[0..<got]
        }
        return received
    }
}

/// One open `/api/events` stream, read on its own thread; records when each change arrived.
final class BenchStream: @unchecked Sendable {
    private let fd: Int32
    private let condition = NSCondition()
    private var text = ""
    private var arrivals: [(UInt64, String)] = []
    private var closed = false

    init(port: Int) throws {
        fd = try BenchHTTP.connect(port: port)
        BenchHTTP.send(fd, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        Thread.detachNewThread { [self] in read() }
    }

    private func read() {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            let now = DispatchTime.now().uptimeNanoseconds
            condition.lock()
            text += String(decoding: chunk[0..<got], as: UTF8.self)
            while let end = text.range(of: "\n\n") {
                let event = String(text[..<end.lowerBound])
                text = String(text[end.upperBound...])
                if event.contains("event: change") { arrivals.append((now, event)) }
            }
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func drain() { condition.withLock { arrivals.removeAll() } }

    /// When a change naming `id` arrived (monotonic ns), or `nil` after `timeout` seconds.
    func waitForChange(containing id: String, timeout: Double) -> UInt64? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let hit = arrivals.first(where: { $0.1.contains(id) }) { return hit.0 }
            if closed || !condition.wait(until: deadline) { return nil }
        }
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }
}

/// `count` open pages: each holds an event stream and, on every change, fetches what the page
/// fetches for the changed session.
final class BenchClients: @unchecked Sendable {
    private let lock = NSLock()
    private var fds: [Int32] = []
    private var fetches = 0
    private var stopped = false

    init(port: Int, count: Int) {
        for _ in 0..<count {
            Thread.detachNewThread { [self] in page(port: port) }
        }
    }

    private func page(port: Int) {
        guard let fd = try? BenchHTTP.connect(port: port) else { return }
        lock.withLock { fds.append(fd) }
        BenchHTTP.send(fd, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let paths = [
            "/api/sessions", "/api/sessions/paper/running/equity", "/api/sessions/paper/running/positions",
            "/api/sessions/paper/running/risk", "/api/sessions/paper/running/funding", "/api/sessions/paper/running/journal?limit=200",
        ]
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 || lock.withLock({ stopped }) { break }
            guard String(decoding: chunk[0..<got], as: UTF8.self).contains("paper/running") else { continue }
            for path in paths where !lock.withLock({ stopped }) {
                _ = try? BenchHTTP.get(port: port, path: path)
                lock.withLock { fetches += 1 }
            }
        }
    }

    /// Closes every page; returns how many fetches they made.
    func stop() -> Int {
        lock.withLock {
            stopped = true
            for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
            return fetches
        }
    }
}
