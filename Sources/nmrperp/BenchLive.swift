import ArgumentParser
import Foundation
import Histogram
import Logging
import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpModel
import PerpStore
import PerpVenues

#if canImport(Glibc)
    import Glibc
#endif

/// `nmrperp bench live`: the live path's own latency and a 30-day session's memory (issue 12).
struct BenchLive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Time a market-data event to the signed order request on a loopback socket, and a 30-day live session's memory.",
        discussion: """
            Latency: each iteration takes a closed bar held in memory through the trading kernel, \
            the execution engine (an entry becomes an order with its client id), Binance's HMAC \
            signing and the kept-alive AsyncHTTPClient connection, and stops the clock when a \
            loopback server on 127.0.0.1 (in this process) has read the whole request. Recorded \
            in an HDR histogram (hdrhistogram-swift); p50, p99, p99.9 and max are printed, with \
            and without the durable SQLite write (WAL, synchronous=FULL) that precedes every \
            real order. The venue's own latency is outside this figure by design.

            Memory: a 30-day session of one-minute bars (43,200 bars, a configuration that trades \
            often) run through the live runtime against the simulated venue, then replayed as a \
            restart does; peak resident memory is printed.

            Run on a release build: swift build -c release && .build/release/nmrperp bench live --count 10000 --days 30
            """)

    @Option(help: "Timed iterations (after 500 warm-up ones), 100–20000.") var count = 2_000
    @Option(help: "Days of one-minute bars for the memory run, 0–30 (0 skips it; the issue's figure is 30).") var days = 0
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard (100...20_000).contains(count) else { throw CLIError("--count must be between 100 and 20000 (got \(count))") }
        guard (0...30).contains(days) else { throw CLIError("--days must be between 0 and 30 (got \(days))") }
        let server = try LoopbackSink()
        defer { server.stop() }
        let latency = try await Self.latency(server: server, count: count, durable: false)
        let durable = try await Self.latency(server: server, count: max(100, count / 10), durable: true)
        var memory: (bars: Int, orders: Int, afterRun: Double, afterReplay: Double, seconds: Double)?
        if days > 0 { memory = try await Self.memory(days: days) }
        func micros(_ value: UInt64) -> Double { Double(value) / 1000 }
        func figures(_ histogram: Histogram<UInt64>) -> [(String, JSONValue)] {
            [
                ("count", .int(histogram.totalCount)), ("p50_us", .double(micros(histogram.valueAtPercentile(50)), significant: 4)),
                ("p99_us", .double(micros(histogram.valueAtPercentile(99)), significant: 4)),
                ("p99_9_us", .double(micros(histogram.valueAtPercentile(99.9)), significant: 4)),
                ("max_us", .double(micros(histogram.max), significant: 4)),
            ]
        }
        if json {
            var members: [(String, JSONValue)] = [
                ("event_to_socket", .object(figures(latency))), ("event_to_socket_with_durable_write", .object(figures(durable))),
                ("goal_p99_us", .int(250)),
            ]
            if let memory {
                members.append(
                    (
                        "memory",
                        .object([
                            ("days", .int(days)), ("bars", .int(memory.bars)), ("orders", .int(memory.orders)),
                            ("peak_rss_mb_after_run", .double(memory.afterRun, significant: 4)),
                            ("peak_rss_mb_after_replay", .double(memory.afterReplay, significant: 4)),
                            ("seconds", .double(memory.seconds, significant: 4)), ("goal_mb", .int(100)),
                        ])
                    ))
            }
            print(JSONValue.object(members).serialized(pretty: true))
            return
        }
        func line(_ label: String, _ histogram: Histogram<UInt64>) -> String {
            "\(label): p50 \(formatFixed(micros(histogram.valueAtPercentile(50)), 1)) µs, p99 \(formatFixed(micros(histogram.valueAtPercentile(99)), 1)) µs, p99.9 \(formatFixed(micros(histogram.valueAtPercentile(99.9)), 1)) µs, max \(formatFixed(micros(histogram.max), 1)) µs (\(histogram.totalCount) orders)"
        }
        print(line("event → signed request on the socket", latency) + "  [goal p99 < 250 µs]")
        print(line("same, with the durable SQLite write first", durable))
        if let memory {
            print(
                "memory: \(days)-day session, \(memory.bars) bars, \(memory.orders) orders: peak RSS \(formatFixed(memory.afterRun, 1)) MB after the run, \(formatFixed(memory.afterReplay, 1)) MB after a replay (\(formatFixed(memory.seconds, 1)) s)  [goal < 100 MB]"
            )
        }
    }

    static let rules = MarketRules(
        symbol: "NMRUSDT", tickSize: Price("0.001")!, lotSize: Quantity("0.1")!, maxMarketQuantity: Quantity("100000")!,
        minNotional: Notional("5")!)

    /// One timed path per iteration; returns the histogram of nanoseconds.
    static func latency(server: LoopbackSink, count: Int, durable: Bool) async throws -> Histogram<UInt64> {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let credentials = BinanceCredentials(apiKey: "bench-key", secret: "bench-secret-not-real")
        guard let base = URL(string: "http://127.0.0.1:\(server.port)") else { throw CLIError("no loopback address") }
        let transport = AsyncHTTPClientTransport()
        defer { Task { try? await transport.shutdown() } }
        let venue = BinanceUSDMTrader(
            baseURL: base, credentials: credentials, symbol: "NMRUSDT", transport: transport,
            clock: { Int64(Date().timeIntervalSince1970 * 1000) }, logger: logger)
        _ = await venue.synchronizeClock()
        let time = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) / 60_000 * 60_000)
        var kernel = TradingKernel(config: BotConfig(), barInterval: .minutes(1), lotSize: rules.lotSize)
        var engine = ExecutionEngine(
            settings: ExecutionSettings(sessionTag: ClientOrderID.tag(session: "bench", createdAt: time), rules: rules, sizeFraction: .one))
        _ = engine.handle(
            .snapshot(
                VenueSnapshot(
                    openOrders: [], position: VenuePosition(quantity: .zero),
                    balance: VenueBalance(wallet: Notional(10_000), available: Notional(10_000)), fills: [], time: time), at: time))
        var store: LiveStore?
        var storePath: String?
        if durable {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-bench-\(getpid()).sqlite").path
            storePath = path
            store = try LiveStore(path: path)
        }
        defer {
            if let storePath {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: storePath + suffix) }
            }
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let candle = Candle(
            openTime: time, open: Price("8.1")!, high: Price("8.2")!, low: Price("8.0")!, close: Price("8.15")!, volume: Quantity(900))
        for iteration in 0..<(count + 500) {
            let start = DispatchTime.now().uptimeNanoseconds
            // The market-data event through the kernel (its decision is ignored: an entry is
            // forced below so every iteration sends one order).
            _ = kernel.handle(.bar(candle, equity: Notional(10_000), position: .zero))
            var step = engine
            let actions = step.handle(
                .commands(
                    [.open(side: .long, quantity: Quantity(10), stop: Price("7.9")!, target: Price("8.5")!)], at: time, price: candle.close)
            )
            guard case .send(let intent)? = actions.first(where: { if case .send = $0 { return true } else { return false } }) else {
                throw CLIError("bench: the engine sent no order")
            }
            if let store {
                let encoded = LiveInputCodec.encode(.bar(candle, live: true))
                try store.append([(time, encoded.kind, encoded.payload)], journal: [])
            }
            server.expect()
            let outcome = await venue.submit(intent)
            guard let received = server.receivedAt() else { throw CLIError("bench: the loopback server saw no request (\(outcome))") }
            if iteration >= 500 { _ = histogram.record(received >= start ? received - start : 0) }
        }
        return histogram
    }

    /// Peak resident memory in MB (Linux `ru_maxrss` is in kilobytes).
    static func peakResidentMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// A `days`-day session through the live runtime against the simulated venue
    /// (``SyntheticSession``), then a replay by a new process's start.
    static func memory(days: Int) async throws -> (bars: Int, orders: Int, afterRun: Double, afterReplay: Double, seconds: Double) {
        let clockStart = DispatchTime.now().uptimeNanoseconds
        let bars = SyntheticSession.bars(count: days * 1440)
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let path = folder + "/nmrperp-bench-memory-\(getpid()).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        var runner = try await SyntheticRunner(path: path, name: "bench", bars: bars, sizeFraction: Rate("0.1")!)
        try await runner.advance(to: bars.count)
        let orders = runner.orders
        let afterRun = peakResidentMB()
        runner.close()
        // A second runtime on the same file replays every stored input at its start.
        let replay = try await SyntheticRunner(path: path, name: "bench", bars: bars, sizeFraction: Rate("0.1")!)
        replay.close()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - clockStart) / 1e9
        return (bars.count, orders, afterRun, peakResidentMB(), seconds)
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 for the latency bench: keeps connections alive,
/// answers `/fapi/v1/time` and order requests with canned bodies, and records when it has read
/// each whole request (monotonic nanoseconds).
final class LoopbackSink: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var received: UInt64?
    private var stopped = false

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw CLIError("bench: cannot open a socket") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw CLIError("bench: cannot listen on 127.0.0.1")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    func expect() { lock.withLock { received = nil } }
    func receivedAt() -> UInt64? { lock.withLock { received } }

    private func acceptLoop() {
        while !lock.withLock({ stopped }) {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            var yes: Int32 = 1
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            // One whole request: the head, then Content-Length bytes of body.
            var headEnd: Int?
            var needed = 0
            while true {
                if headEnd == nil, let end = Self.find(buffer, Array("\r\n\r\n".utf8)) {
                    headEnd = end + 4
                    let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
                    if let range = head.range(of: "content-length:") {
                        let digits = head[range.upperBound...].prefix { $0 == " " || $0.isNumber }.trimmingCharacters(in: .whitespaces)
                        needed = Int(digits) ?? 0
                    }
                }
                if let headEnd, buffer.count >= headEnd + needed { break }
                let count = read(connection, &chunk, chunk.count)
                guard count > 0 else { return }
                buffer.append(contentsOf: chunk[0..<count])
            }
            let now = DispatchTime.now().uptimeNanoseconds
            lock.withLock { received = now }
            guard let headEnd else { return }
            let requestLine = String(decoding: buffer.prefix { $0 != 0x0D }, as: UTF8.self)
            buffer.removeFirst(headEnd + needed)
            let body: String
            if requestLine.contains("/fapi/v1/time") {
                body = #"{"serverTime":\#(Int64(Date().timeIntervalSince1970 * 1000))}"#
            } else {
                let id = requestLine.components(separatedBy: "newClientOrderId=").dropFirst().first?.prefix { $0 != "&" && $0 != " " } ?? ""
                body =
                    #"{"orderId":1,"symbol":"NMRUSDT","status":"FILLED","clientOrderId":"\#(id)","price":"0","avgPrice":"8.15","origQty":"10","executedQty":"10","cumQuote":"81.5","timeInForce":"GTC","type":"MARKET","reduceOnly":false,"side":"BUY","positionSide":"BOTH","updateTime":\#(Int64(Date().timeIntervalSince1970 * 1000))}"#
            }
            let response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let bytes = Array(response.utf8)
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBufferPointer { write(connection, $0.baseAddress, $0.count) }
                guard count > 0 else { return }
                sent += count
            }
        }
    }

    private static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }
}
