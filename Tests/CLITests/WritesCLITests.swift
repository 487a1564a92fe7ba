import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Issue 11, "Writes" and "Bounded reads": outputs all or none, symbolic links and devices
/// written through, inputs that are not data refused in a moment with one short line.
@Suite struct WritesCLITests {
    /// A fresh folder under the system temporary folder.
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-writes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// 600 five-minute bars of a sine wave: sma-cross 5/20 trades on them.
    static func bars(in folder: String) throws -> String {
        var lines = ["open_time_ms,open,high,low,close,volume"]
        for index in 0..<600 {
            let price = 8 + sin(Double(index) / 20)
            let text = { (value: Double) in String(format: "%.4f", value) }
            lines.append(
                "\(1_700_000_000_000 + Int64(index) * 300_000),\(text(price)),\(text(price + 0.1)),\(text(price - 0.1)),\(text(price + 0.02)),10"
            )
        }
        let path = folder + "/bars.csv"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func backtest(_ data: String, _ extra: [String]) throws -> CLIResult {
        try CLI.run(["backtest", "--data", data, "--strategy", "sma-cross", "--fast", "5", "--slow", "20"] + extra)
    }

    static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    // MARK: - Outputs

    @Test func outputsAreAllOrNone() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        // A second output that cannot be written: the first is never created, nothing is computed.
        let result = try Self.backtest(data, ["--trades", folder + "/trades.csv", "--report", folder + "/missing/report.html"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--report") && result.stderr.contains("does not exist"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/trades.csv"))
        // An existing first output is left exactly as it was.
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: folder + "/trades.csv"))
        let again = try Self.backtest(data, ["--trades", folder + "/trades.csv", "--report", folder, "--force"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("folder"), "\(again.stderr)")
        #expect(try String(contentsOfFile: folder + "/trades.csv", encoding: .utf8) == "old\n")
        // An existing output is not replaced without --force, and nothing is computed.
        let refused = try Self.backtest(data, ["--trades", folder + "/trades.csv", "--report", folder + "/report.html"])
        BoundsCLITests.expectOneLine(refused, "--trades \(folder)/trades.csv already exists; pass --force to replace it")
        #expect(try String(contentsOfFile: folder + "/trades.csv", encoding: .utf8) == "old\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/report.html"))
        // Both written when both can be; no temporary file left beside them.
        let ok = try Self.backtest(data, ["--trades", folder + "/trades.csv", "--report", folder + "/report.html", "--force"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try String(contentsOfFile: folder + "/trades.csv", encoding: .utf8).hasPrefix("side,"))
        #expect(try String(contentsOfFile: folder + "/report.html", encoding: .utf8).contains("<html"))
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "\(left)")
    }

    /// A write that fails part-way (here the file size limit, `ulimit -f`, with SIGXFSZ ignored so
    /// the write returns EFBIG) leaves every destination as it was and no temporary file behind.
    @Test func aWriteThatFailsPartWayChangesNothing() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: folder + "/trades.csv"))
        let script = "trap '' XFSZ; ulimit -f 16; exec \"$0\" \"$@\""
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", script, CLI.binary.path, "backtest", "--data", data, "--strategy", "sma-cross", "--fast", "5", "--slow", "20",
            "--trades", folder + "/trades.csv", "--report", folder + "/report.html", "--force",
        ]
        var env = ProcessInfo.processInfo.environment
        env["NMRPERP_OFFLINE"] = "1"
        env["NMRPERP_HOME"] = folder + "/home"
        process.environment = env
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(message.contains("--report") && message.contains("no output file was written"), "\(message)")
        #expect(try String(contentsOfFile: folder + "/trades.csv", encoding: .utf8) == "old\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/report.html"))
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func aLongFileNameIsWritten() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        let name = String(repeating: "t", count: 240) + ".csv"
        let result = try Self.backtest(data, ["--trades", folder + "/" + name])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/" + name))
    }

    @Test func aSweepRefusesOneRunsOutputs() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        let result = try Self.backtest(data, ["--sweep", "fast=5;slow=20", "--trades", folder + "/trades.csv"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--trades writes one run's file"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/trades.csv"))
    }

    @Test func twoFlagsNamingOneFileAreRefused() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        let result = try Self.backtest(data, ["--trades", folder + "/out", "--report", folder + "/./out"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--trades and --report"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: folder + "/out"))
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: "out")
        let linked = try Self.backtest(data, ["--trades", folder + "/link", "--report", folder + "/out", "--force"])
        #expect(linked.stderr.contains("--trades and --report"), "\(linked.stderr)")
        #expect(try String(contentsOfFile: folder + "/out", encoding: .utf8) == "old\n")
    }

    @Test func aSymbolicLinkIsWrittenThroughAndStaysALink() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: folder + "/target.csv"))
        chmod(folder + "/target.csv", 0o640)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link.csv", withDestinationPath: "target.csv")
        let result = try Self.backtest(data, ["--trades", folder + "/link.csv", "--force"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.fileType(folder + "/link.csv") == S_IFLNK)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/link.csv") == "target.csv")
        #expect(try String(contentsOfFile: folder + "/target.csv", encoding: .utf8).hasPrefix("side,"))
        var info = stat()
        #expect(stat(folder + "/target.csv", &info) == 0 && info.st_mode & 0o777 == 0o640, "the file keeps its mode")
        // A link to a file that does not exist yet: the file it names is created.
        try FileManager.default.createSymbolicLink(atPath: folder + "/dangling.csv", withDestinationPath: "new.csv")
        let dangling = try Self.backtest(data, ["--trades", folder + "/dangling.csv"])
        #expect(dangling.status == 0, "\(dangling.stderr)")
        #expect(Self.fileType(folder + "/dangling.csv") == S_IFLNK)
        #expect(try String(contentsOfFile: folder + "/new.csv", encoding: .utf8).hasPrefix("side,"))
    }

    /// Skipped when /dev/null is not a device to begin with (another program on the machine replaced it).
    @Test(.enabled(if: WritesCLITests.fileType("/dev/null") == S_IFCHR))
    func devNullIsWrittenThroughAndStaysADevice() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        let result = try Self.backtest(data, ["--trades", "/dev/null", "--report", "/dev/null"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.fileType("/dev/null") == S_IFCHR)
        let bot = try CLI.run(["bot", "init", "--out", "/dev/null"])
        #expect(bot.status == 0, "\(bot.stderr)")
        #expect(Self.fileType("/dev/null") == S_IFCHR)
    }

    @Test func aPipeWithoutReaderIsRefusedNotWaitedOn() throws {
        let folder = try Self.folder()
        let data = try Self.bars(in: folder)
        #expect(mkfifo(folder + "/pipe", 0o600) == 0)
        let result = try Self.backtest(data, ["--trades", folder + "/pipe"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("nothing is reading"), "\(result.stderr)")
        #expect(Self.fileType(folder + "/pipe") == S_IFIFO)
    }

    // MARK: - Bounded reads

    @Test func aPipeAsDataIsRefusedAtOnce() throws {
        let folder = try Self.folder()
        #expect(mkfifo(folder + "/pipe", 0o600) == 0)
        let started = Date()
        let result = try CLI.run(["hedge", "worst-case", "--data", folder + "/pipe"], timeout: 20)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.status != 0)
        #expect(result.stderr.contains("named pipe"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        let funding = try CLI.run(["funding", "stats", "--data", folder + "/pipe"], timeout: 20)
        #expect(funding.status != 0 && funding.stderr.contains("named pipe"), "\(funding.stderr)")
        let folderAsData = try CLI.run(["hedge", "worst-case", "--data", folder])
        #expect(folderAsData.stderr.contains("a folder"), "\(folderAsData.stderr)")
    }

    @Test func nulBytesWithNoLineEndAreOneShortLine() throws {
        let folder = try Self.folder()
        let path = folder + "/zeros.csv"
        try Data(count: 12 << 20).write(to: URL(fileURLWithPath: path))
        let bars = try Self.bars(in: folder)
        for arguments in [
            ["hedge", "worst-case", "--data", path], ["funding", "stats", "--data", path],
            ["backtest", "--strategy", "sma-cross", "--data", bars, "--funding", path],
        ] {
            let result = try CLI.run(arguments)
            #expect(result.status != 0)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments)")
            #expect(result.stderr.utf8.count < 200, "\(result.stderr.prefix(300))")
            #expect(result.stderr.contains("binary") && result.stderr.contains("zeros.csv"), "\(result.stderr)")
        }
    }

    @Test func aLongLineIsRefusedWithItsLineNumber() throws {
        let folder = try Self.folder()
        let path = folder + "/long.csv"
        let text = "open_time_ms,open,high,low,close\n1700000000000,1,1,1,1\n" + String(repeating: "9", count: 3 << 20) + "\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let result = try CLI.run(["hedge", "worst-case", "--data", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("long.csv:3:") && result.stderr.contains("longer than 64 KiB"), "\(result.stderr.prefix(300))")
        #expect(result.stderr.utf8.count < 200)
    }

    @Test func aLongBadValueIsQuotedShortAndEscaped() throws {
        let folder = try Self.folder()
        let path = folder + "/bad.csv"
        let junk = String(repeating: "\u{1B}x", count: 20_000)
        try Data("open_time_ms,open,high,low,close\n1700000000000,\(junk),1,1,1\n".utf8).write(to: URL(fileURLWithPath: path))
        let result = try CLI.run(["hedge", "worst-case", "--data", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bad.csv:2:") && result.stderr.contains("\\u{1B}x"), "\(result.stderr.prefix(300))")
        #expect(!result.stderr.contains("\u{1B}"))
        #expect(result.stderr.utf8.count < 400, "\(result.stderr.prefix(500))")
    }

    @Test func aBinaryBotConfigIsRefused() throws {
        let folder = try Self.folder()
        let path = folder + "/bot.yaml"
        try Data([0x72, 0x69, 0x73, 0x6B, 0x3A, 0, 0, 0, 0x0A]).write(to: URL(fileURLWithPath: path))
        let result = try CLI.run(["bot", "check", "--config", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bot.yaml:1") && result.stderr.contains("binary"), "\(result.stderr)")
        try Data(count: 2 << 20).write(to: URL(fileURLWithPath: path))
        let big = try CLI.run(["bot", "check", "--config", path])
        #expect(big.stderr.contains("more than the 1 MiB"), "\(big.stderr)")
    }

    @Test func theOtherKindOfHistoryGetsAHintThatFitsItsFlag() throws {
        let folder = try Self.folder()
        let bars = try Self.bars(in: folder)
        let funding = folder + "/funding.csv"
        try Data("funding_time_ms,funding_rate\n1700000000000,0.0001\n".utf8).write(to: URL(fileURLWithPath: funding))
        let cases: [([String], String)] = [
            (["backtest", "--strategy", "sma-cross", "--data", bars, "--mark", funding], "--mark takes price bars"),
            (["backtest", "--strategy", "sma-cross", "--data", bars, "--funding", bars], "--funding takes a funding history"),
            (["hedge", "worst-case", "--data", funding], "--data takes price bars"),
            (["funding", "stats", "--data", bars], "--data takes a funding history"),
            (["backtest", "--strategy", "sma-cross", "--data", bars, "--funding", folder + "/none.csv"], "cannot read --funding"),
        ]
        for (arguments, expected) in cases {
            let result = try CLI.run(arguments)
            #expect(result.status != 0)
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func warmupIsBounded() throws {
        let result = try CLI.run(["paper", "--warmup", "1000d", "--max-polls", "1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--warmup must be at most 90d"), "\(result.stderr)")
        // Past any length the tool carries, the general limit speaks first.
        let absurd = try CLI.run(["paper", "--warmup", "100000d", "--max-polls", "1"])
        #expect(absurd.status == 1)
        #expect(absurd.stderr.contains("--warmup must be at most 100 years"), "\(absurd.stderr)")
    }
}

/// `stake --record`: a locked, checked, idempotent append.
@Suite struct StakeRecordCLITests {
    static func environment() throws -> ([String: String], LoopbackHTTPServer) {
        let numerai = try LoopbackHTTPServer(handler: LiveCLITests.numerai)
        return (["NMRPERP_OFFLINE": "0", "NMRPERP_NUMERAI_URL": numerai.baseURL], numerai)
    }

    static func record(_ path: String, _ env: [String: String]) throws -> CLIResult {
        try CLI.run(["stake", "--model", "alpha_model", "--model", "beta_model", "--record", path], environment: env)
    }

    static func lines(_ path: String) throws -> [Substring] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
    }

    @Test func aMissingFinalNewlineIsRepaired() throws {
        let (env, server) = try Self.environment()
        defer { server.stop() }
        let path = try WritesCLITests.folder() + "/staked.csv"
        try Data("time_ms,value\n1700000000000,5".utf8).write(to: URL(fileURLWithPath: path))
        let result = try Self.record(path, env)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try Self.lines(path)
        #expect(lines.count == 4 && lines[0] == "time_ms,value" && lines[1] == "1700000000000,5" && lines[3].isEmpty, "\(lines)")
        #expect(lines[2].hasSuffix(",20"), "\(lines)")
    }

    @Test(arguments: [
        ("a,b,c\n1,2,3\n", ":1:"), ("time_ms,value\n1700000000000,5\nnot a row\n", ":3:"),
        ("time_ms,value\n1700000000000,5\n\u{0}\u{0}\u{0}\n", "binary"),
    ])
    func aForeignOrBinaryFileIsRefusedAndUntouched(content: String, expected: String) throws {
        let (env, server) = try Self.environment()
        defer { server.stop() }
        let path = try WritesCLITests.folder() + "/staked.csv"
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        let result = try Self.record(path, env)
        #expect(result.status != 0)
        #expect(result.stderr.contains("staked.csv") && result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == content)
    }

    @Test func aBadRecordFileIsRefusedBeforeTheStakeIsFetched() throws {
        let (env, server) = try Self.environment()
        defer { server.stop() }
        let folder = try WritesCLITests.folder()
        #expect(mkfifo(folder + "/pipe", 0o600) == 0)
        for (path, expected) in [(folder + "/missing/staked.csv", "does not exist"), (folder + "/pipe", "named pipe"), (folder, "folder")] {
            let result = try Self.record(path, env)
            #expect(result.status != 0)
            #expect(result.stderr.contains("--record") && result.stderr.contains(expected), "\(result.stderr)")
        }
        #expect(server.requests.isEmpty, "nothing fetched")
        #expect(WritesCLITests.fileType(folder + "/pipe") == S_IFIFO)
    }

    @Test func aTimeTheFileHasIsNotWrittenAgain() throws {
        let (env, server) = try Self.environment()
        defer { server.stop() }
        let path = try WritesCLITests.folder() + "/staked.csv"
        // A row in 2100: every time now is at or before it.
        let content = "time_ms,value\n4102444800000,5\n"
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        let result = try Self.record(path, env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("not recorded again"), "\(result.stderr)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == content)
    }

    @Test func concurrentWritersNeverCorruptOrDuplicate() throws {
        let (env, server) = try Self.environment()
        defer { server.stop() }
        let path = try WritesCLITests.folder() + "/staked.csv"
        let writers = 6
        let statuses = Collected<[Int32]>([])
        DispatchQueue.concurrentPerform(iterations: writers) { _ in
            let status = (try? Self.record(path, env))?.status ?? -1
            statuses.withLock { $0.append(status) }
        }
        #expect(statuses.withLock { $0 }.allSatisfy { $0 == 0 })
        let lines = try Self.lines(path)
        #expect(lines.first == "time_ms,value" && lines.last == "", "\(lines)")
        let rows = lines.dropFirst().dropLast()
        #expect((1...writers).contains(rows.count), "\(lines)")
        let times = rows.map { Int64($0.split(separator: ",")[0]) ?? -1 }
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "strictly increasing, no time twice: \(lines)")
        #expect(rows.allSatisfy { $0.hasSuffix(",20") && $0.split(separator: ",").count == 2 }, "\(lines)")
    }
}

/// A lock-protected value for tests that collect results from several threads.
final class Collected<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// Two nmr-bot backtests at once into one home: two runs, each exported once.
@Suite struct JournalRunNameCLITests {
    @Test func concurrentBacktestsGetDistinctRuns() throws {
        let data = try BotBacktestCLITests.bars()
        let home = try WritesCLITests.folder()
        let env = ["NMRPERP_HOME": home]
        let counts = Collected<[Int]>([])
        let problems = Collected<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let jsonl = home + "/run\(index).jsonl"
            do {
                let result = try CLI.run(
                    ["backtest", "--strategy", "nmr-bot", "--data", data, "--journal", jsonl], environment: env, timeout: 240)
                guard result.status == 0, let text = try? String(contentsOfFile: jsonl, encoding: .utf8) else {
                    problems.withLock { $0.append("run \(index): status \(result.status): \(result.stderr)") }
                    return
                }
                counts.withLock { $0.append(text.split(separator: "\n").count) }
            } catch {
                problems.withLock { $0.append("run \(index): \(error)") }
            }
        }
        let rows = counts.withLock { $0 }
        #expect(rows.count == 2 && rows.allSatisfy { $0 > 0 }, "\(rows) \(problems.withLock { $0 })")
        let listed = try CLI.run(["bot", "journal", "--json"], environment: env)
        let list = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["runs"] as? [[String: Any]] ?? []
        let runs = list.compactMap { $0["name"] as? String }
        #expect(runs.count == 2 && Set(runs).count == 2, "\(runs)")
        for run in runs {
            let exported = try CLI.run(["bot", "journal", "--run", run], environment: env)
            #expect(exported.stdout.split(separator: "\n").count == rows.first, "each run holds one backtest's rows, once")
        }
    }
}
