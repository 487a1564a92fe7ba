import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let usage = """
    USAGE: nmrperp-fuzz [--binary PATH] [--seed N] [--count N | --forever] [--jobs J] [options]

    Runs an already-built nmrperp on generated command lines: every subcommand found by reading
    `nmrperp --help` recursively, with valid-looking, boundary and malformed values, and generated
    and mutated candle CSV/JSON, funding CSV/JSON, bot YAML and signal files. Each case runs with
    NMRPERP_OFFLINE=1, a private NMRPERP_HOME, stdin from /dev/null and a time limit. A case passes
    when it exits 0, 1 or 64, prints at most a few short lines on stderr (more for exit 64, the
    usage error) and no "Fatal error", "Program crashed" or "Backtrace" anywhere. Case N of a seed
    is the same on every machine and with any --jobs.

    OPTIONS:
      --binary PATH     The nmrperp to run (default: .build/debug/nmrperp).
      --seed N          Seed of the generated cases (default: 1).
      --count N         Cases to run (default: 200); 0 runs until Ctrl-C, like --forever.
      --forever         Run until Ctrl-C, then print the summary.
      --jobs J          Cases run at once (default: 2).
      --timeout S       Wall-clock limit of one case in seconds (default: 20).
      --out DIR         Where failing cases are kept, with a repro.sh (default: .fuzz-failures).
      --real-data DIR   Also mutate slices (first 300 lines) of the candle CSVs in DIR, read at
                        run time and never copied anywhere but a failing case's folder
                        (default: ../shared/data; skipped with a message when absent).
      --only CMD        Fuzz only commands whose path starts with CMD ("hedge", "backtest").
      --case N          Run case N of the seed alone and print its command line.
      --backtraces N    Re-run up to N failures per crash site with Swift backtraces on, to
                        name the crashing frame of ours (default: 2; 0 turns it off).
      --stderr-lines N  Lines allowed on stderr (default: 6; exit 64 allows 10).
      -h, --help        Show this help.
    """

struct Settings {
    var binary = ".build/debug/nmrperp"
    var seed: UInt64 = 1
    var count = 200
    var jobs = 2
    var timeout = 20.0
    var out = ".fuzz-failures"
    var realData = "../shared/data"
    var only: String? = nil
    var single: Int? = nil
    var backtraces = 2
    var limits = Limits()

    static func parse(_ arguments: [String]) throws -> Settings {
        var settings = Settings()
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw HarnessError("\(flag) needs a value") }
            return next
        }
        func number<T: LosslessStringConvertible>(_ flag: String, _: T.Type) throws -> T {
            let text = try value(flag)
            guard let parsed = T(text) else { throw HarnessError("\(flag): '\(text)' is not a number") }
            return parsed
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "-h", "--help":
                print(usage)
                exit(0)
            case "--binary": settings.binary = try value(flag)
            case "--seed": settings.seed = try number(flag, UInt64.self)
            case "--count": settings.count = try number(flag, Int.self)
            case "--forever": settings.count = 0
            case "--jobs": settings.jobs = max(1, try number(flag, Int.self))
            case "--timeout": settings.timeout = try number(flag, Double.self)
            case "--out": settings.out = try value(flag)
            case "--real-data": settings.realData = try value(flag)
            case "--only": settings.only = try value(flag)
            case "--case": settings.single = try number(flag, Int.self)
            case "--backtraces": settings.backtraces = try number(flag, Int.self)
            case "--stderr-lines": settings.limits.stderrLines = try number(flag, Int.self)
            default: throw HarnessError("unknown option '\(flag)'; see --help")
            }
        }
        return settings
    }
}

/// One distinct crash site and an example of it.
struct Site {
    var failure: FailureClass
    var count = 0
    var example: String
    var command: String
    var frames: Set<String> = []
    var backtraced = 0
}

/// Counters and the case queue, shared by the workers.
final class Shared: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private var stopped = false
    private(set) var ran = 0
    private(set) var passed = 0
    private(set) var byClass: [FailureClass: Int] = [:]
    private(set) var sites: [String: Site] = [:]
    private(set) var slowest: (seconds: Double, index: Int) = (0, -1)
    /// How each command's cases ended (`exit 0`, `exit 64`, `signal 5`, …): a harness that only
    /// reaches usage errors tests little.
    private(set) var outcomes: [String: [String: Int]] = [:]
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func take() -> Int? {
        locked {
            guard !stopped, limit == 0 || nextIndex < limit else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }

    private var untitled = 0
    /// Whether a failure with no `Fatal error` line may still be re-run for its site (at most 40).
    func takeUntitledBacktrace() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        untitled += 1
        return untitled <= 40
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
    }

    /// Records a result; for a failure, returns whether this site still wants a backtrace re-run.
    func record(
        index: Int, name: String, outcome: Outcome, seconds: Double, failure: FailureClass?, site: String, example: String,
        command: String, backtraces: Int
    ) -> Bool {
        locked {
            ran += 1
            outcomes[name, default: [:]]["\(outcome)", default: 0] += 1
            if seconds > slowest.seconds { slowest = (seconds, index) }
            guard let failure else {
                passed += 1
                return false
            }
            byClass[failure, default: 0] += 1
            var entry = sites[site] ?? Site(failure: failure, example: example, command: command)
            entry.count += 1
            let wants = entry.backtraced < backtraces && [.signal, .badExit, .crashText].contains(failure)
            if wants { entry.backtraced += 1 }
            sites[site] = entry
            return wants
        }
    }

    func addFrame(site: String, frame: String) {
        lock.lock()
        sites[site]?.frames.insert(frame)
        lock.unlock()
    }

    var failed: Int { locked { ran - passed } }

    func progressLine(elapsed: Double) -> String {
        locked {
            let classes = FailureClass.allCases.compactMap { failure in byClass[failure].map { "\(failure.rawValue) \($0)" } }
            let rate = elapsed > 0 ? Double(ran) / elapsed : 0
            return "nmrperp-fuzz: \(ran)\(limit > 0 ? "/\(limit)" : "") cases, \(passed) passed, \(ran - passed) failed"
                + (classes.isEmpty ? "" : " (\(classes.joined(separator: ", ")))") + String(format: ", %.1f cases/s", rate)
        }
    }
}

func shellQuote(_ argument: String) -> String {
    if !argument.isEmpty, argument.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,".contains($0)) }) {
        return argument
    }
    return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

func write(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func log(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// The bot's default YAML (from `nmrperp bot init`) and slices of real candle CSVs.
func loadSeeds(settings: Settings, binary: String, environment: [String: String], work: String) -> DataFiles.Seeds {
    var yaml = "min_agreeing_signals: 2\nentry_threshold: 0.25\n"
    let folder = work + "/seeds"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var env = environment
    env["NMRPERP_HOME"] = folder + "/home"
    let made = Runner.run(
        binary: binary, arguments: ["bot", "init", "--out", "bot.yaml"], directory: folder, environment: env, timeout: 30)
    if made.outcome == .exited(0), let text = try? String(contentsOfFile: folder + "/bot.yaml", encoding: .utf8) {
        yaml = text
    } else {
        log("nmrperp-fuzz: `nmrperp bot init` failed (\(made.outcome)); mutating a two-line config instead")
    }
    var slices: [String] = []
    let names = (try? FileManager.default.contentsOfDirectory(atPath: settings.realData))?.sorted() ?? []
    if names.isEmpty {
        log("nmrperp-fuzz: no real data at \(settings.realData); generated files only")
    }
    for name in names where name.hasSuffix(".csv") {
        guard let handle = FileHandle(forReadingAtPath: settings.realData + "/" + name) else { continue }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 64 << 10) else { continue }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").prefix(301)
        guard let header = lines.first, header.contains("open,") || header.contains("open_time") else { continue }
        slices.append(lines.dropLast().joined(separator: "\n") + "\n")
    }
    if !names.isEmpty { log("nmrperp-fuzz: mutating slices of \(slices.count) real CSVs from \(settings.realData)") }
    return DataFiles.Seeds(botYAML: yaml, realCandleSlices: slices)
}

func materialize(_ generated: Case, in directory: String) throws {
    let manager = FileManager.default
    try manager.createDirectory(atPath: directory + "/home", withIntermediateDirectories: true)
    for folder in generated.directories {
        try manager.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
    }
    for file in generated.files {
        let path = directory + "/" + file.path
        try manager.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try write(file.bytes, to: path)
    }
}

func reproScript(_ generated: Case, binary: String, settings: Settings, outcome: String, site: String) -> String {
    """
    #!/bin/sh
    # nmrperp-fuzz --seed \(settings.seed) --case \(generated.index): \(outcome)
    # \(site.replacingOccurrences(of: "\n", with: " "))
    # Runs the failing command again in this folder (its files are here), offline, with a fresh
    # NMRPERP_HOME. Regenerate it with: swift run nmrperp-fuzz --seed \(settings.seed) --case \(generated.index)
    cd "$(dirname "$0")" || exit 2
    home=$(mktemp -d) || exit 2
    NMRPERP_OFFLINE=1 NMRPERP_HOME="$home" \(shellQuote(binary)) \(generated.arguments.map(shellQuote).joined(separator: " "))
    status=$?
    rm -rf "$home"
    exit $status

    """
}

func main() -> Int32 {
    let settings: Settings
    do { settings = try Settings.parse(Array(CommandLine.arguments.dropFirst())) } catch {
        log("nmrperp-fuzz: \(error)")
        return 64
    }
    let manager = FileManager.default
    let binary = URL(fileURLWithPath: settings.binary).standardizedFileURL.path
    guard manager.isExecutableFile(atPath: binary) else {
        log("nmrperp-fuzz: no executable at \(binary); build it first (swift build --product nmrperp) or pass --binary")
        return 1
    }
    let work = manager.temporaryDirectory.appendingPathComponent("nmrperp-fuzz-\(getpid())").path
    defer { try? manager.removeItem(atPath: work) }
    try? manager.createDirectory(atPath: work, withIntermediateDirectories: true)

    var environment: [String: String] = [
        "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "NMRPERP_OFFLINE": "1",
        // Should anything ignore NMRPERP_OFFLINE, it reaches a closed local port, never the network.
        "NMRPERP_BINANCE_SPOT_URL": "http://127.0.0.1:9",
        "NMRPERP_BINANCE_USDM_URL": "http://127.0.0.1:9",
        "NMRPERP_LIGHTER_URL": "http://127.0.0.1:9",
        "NMRPERP_NUMERAI_URL": "http://127.0.0.1:9",
        // A crash is caught by its signal; the symbolicated backtrace only on a re-run (--backtraces).
        "SWIFT_BACKTRACE": "enable=no",
    ]
    let commands: [CommandSpec]
    do {
        commands = try Discovery.commands(binary: binary, environment: environment).filter { command in
            guard let only = settings.only else { return true }
            return command.name.hasPrefix(only)
        }
    } catch {
        log("nmrperp-fuzz: reading the help failed: \(error)")
        return 1
    }
    guard !commands.isEmpty else {
        log("nmrperp-fuzz: no command matches --only \(settings.only ?? "")")
        return 64
    }
    log(
        "nmrperp-fuzz: \(commands.filter { !$0.isGroup }.count) commands: \(commands.filter { !$0.isGroup }.map(\.name).joined(separator: ", "))"
    )
    let seeds = loadSeeds(settings: settings, binary: binary, environment: environment, work: work)
    let builder = CaseBuilder(commands: commands, seeds: seeds, seed: settings.seed)

    if let single = settings.single {
        let generated = builder.build(index: single)
        let directory = settings.out + "/case-\(settings.seed)-\(single)"
        try? manager.removeItem(atPath: directory)
        do { try materialize(generated, in: directory) } catch {
            log("nmrperp-fuzz: \(error)")
            return 1
        }
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
        environment["NMRPERP_HOME"] = absolute + "/home"
        let result = Runner.run(
            binary: binary, arguments: generated.arguments, directory: absolute, environment: environment,
            timeout: settings.timeout * CaseBuilder.timeoutFactor(generated.command.name),
            stopAfter: CaseBuilder.stopAfter(generated.command.name))
        let failure = Checks.failure(result, limits: settings.limits)
        let site = failure.map { Checks.site(result, failure: $0, limits: settings.limits) } ?? "passed"
        try? reproScript(generated, binary: binary, settings: settings, outcome: "\(result.outcome)", site: site)
            .write(toFile: directory + "/repro.sh", atomically: true, encoding: .utf8)
        print("cd \(directory) && nmrperp \(generated.arguments.map(shellQuote).joined(separator: " "))")
        print("\(result.outcome), \(String(format: "%.2f", result.seconds)) s: \(failure?.rawValue ?? "passed") \(site)")
        print(result.stderr.prefix(2000))
        return failure == nil ? 0 : 1
    }

    let shared = Shared(limit: settings.count)
    let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    signal(SIGINT, SIG_IGN)
    interrupt.setEventHandler {
        log("nmrperp-fuzz: interrupted; finishing the running cases")
        shared.stop()
    }
    interrupt.resume()

    let started = Date()
    let progressEvery = 10.0
    let progressTimer = DispatchSource.makeTimerSource(queue: .global())
    progressTimer.schedule(deadline: .now() + progressEvery, repeating: progressEvery)
    progressTimer.setEventHandler { log(shared.progressLine(elapsed: Date().timeIntervalSince(started))) }
    progressTimer.resume()

    try? manager.createDirectory(atPath: settings.out, withIntermediateDirectories: true)
    let outRoot = URL(fileURLWithPath: settings.out).standardizedFileURL.path
    let limits = settings.limits
    let baseEnvironment = environment
    /// Runs a case again with Swift's backtracer on; its output goes to backtrace_stderr.txt.
    @Sendable func backtrace(_ generated: Case, env: [String: String], in directory: String) -> RunResult? {
        var traced = env
        traced["SWIFT_BACKTRACE"] = "enable=yes,interactive=no,color=no,sanitize=no"
        traced["NMRPERP_HOME"] = directory + "/home-backtrace"
        try? manager.createDirectory(atPath: directory + "/home-backtrace", withIntermediateDirectories: true)
        defer { try? manager.removeItem(atPath: directory + "/home-backtrace") }
        return Runner.run(
            binary: binary, arguments: generated.arguments, directory: directory, environment: traced, timeout: 120,
            outputPrefix: "backtrace_")
    }
    DispatchQueue.concurrentPerform(iterations: settings.jobs) { _ in
        while let index = shared.take() {
            let generated = builder.build(index: index)
            let directory = work + "/case-\(index)"
            var env = baseEnvironment
            env["NMRPERP_HOME"] = directory + "/home"
            env["HOME"] = directory + "/home"
            let result: RunResult
            do {
                try materialize(generated, in: directory)
                result = Runner.run(
                    binary: binary, arguments: generated.arguments, directory: directory, environment: env,
                    timeout: settings.timeout * CaseBuilder.timeoutFactor(generated.command.name),
                    stopAfter: CaseBuilder.stopAfter(generated.command.name))
            } catch {
                result = RunResult(outcome: .spawnFailed(-1), stdout: "", stderr: "\(error)", seconds: 0)
            }
            let failure = Checks.failure(result, limits: limits)
            var site = failure.map { Checks.site(result, failure: $0, limits: limits) } ?? ""
            if failure == .timeout { site = "no exit within \(Int(settings.timeout)) s: nmrperp \(generated.command.name)" }
            var traced: RunResult? = nil
            if let failure, [.signal, .badExit].contains(failure), !site.contains("Fatal error"), shared.takeUntitledBacktrace() {
                // A trap without a message (an overflow, a stack overflow): the site is where it trapped.
                traced = backtrace(generated, env: env, in: directory)
                if let frames = traced.flatMap({ Checks.ownFrames($0.stderr, depth: 1) }) { site = "\(result.outcome) at \(frames)" }
            }
            let kept = outRoot + "/\(settings.seed)-\(index)"
            let command = "nmrperp " + generated.arguments.map(shellQuote).joined(separator: " ")
            let wantsBacktrace = shared.record(
                index: index, name: generated.command.name, outcome: result.outcome, seconds: result.seconds, failure: failure, site: site,
                example: kept, command: command,
                backtraces: settings.backtraces)
            if let failure {
                try? manager.removeItem(atPath: kept)
                try? manager.removeItem(atPath: directory + "/home")
                try? manager.copyItem(atPath: directory, toPath: kept)
                try? reproScript(
                    generated, binary: binary, settings: settings, outcome: "\(failure.rawValue): \(result.outcome)", site: site
                )
                .write(toFile: kept + "/repro.sh", atomically: true, encoding: .utf8)
                chmod(kept + "/repro.sh", 0o755)
                if wantsBacktrace, let again = traced ?? backtrace(generated, env: env, in: kept),
                    let frame = Checks.ownFrames(again.stderr)
                {
                    shared.addFrame(site: site, frame: frame)
                }
            }
            try? manager.removeItem(atPath: directory)
        }
    }
    progressTimer.cancel()
    let elapsed = Date().timeIntervalSince(started)
    log(shared.progressLine(elapsed: elapsed))

    // The summary: distinct sites, most frequent first, each with one reproducer.
    let sites = shared.locked { shared.sites }.sorted { $0.value.count > $1.value.count }
    var report =
        "# nmrperp-fuzz --seed \(settings.seed): \(shared.ran) cases in \(String(format: "%.0f", elapsed)) s, \(shared.passed) passed\n\n"
    for failure in FailureClass.allCases {
        if let count = shared.locked({ shared.byClass[failure] }) { report += "- \(failure.rawValue): \(count)\n" }
    }
    report += "\n"
    report += "| command | outcomes |\n|---|---|\n"
    for (name, counts) in shared.locked({ shared.outcomes }).sorted(by: { $0.key < $1.key }) {
        report += "| \(name) | \(counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")) |\n"
    }
    report += "\n"
    for (site, entry) in sites {
        report += "## \(entry.count)× \(entry.failure.rawValue): \(site)\n\n"
        for frame in entry.frames.sorted() { report += "- frames: \(frame)\n" }
        report += "- example: \(entry.example)/repro.sh\n- `\(entry.command.prefix(600))`\n\n"
    }
    try? report.write(toFile: outRoot + "/summary-\(settings.seed).md", atomically: true, encoding: .utf8)
    if !sites.isEmpty {
        log("nmrperp-fuzz: \(sites.count) distinct failures (details and reproducers in \(outRoot)/summary-\(settings.seed).md):")
        for (site, entry) in sites.prefix(30) {
            log("  \(entry.count)× \(entry.failure.rawValue): \(site.prefix(200))")
            log("      \(entry.example)/repro.sh")
        }
    }
    let slowest = shared.locked { shared.slowest }
    log(String(format: "nmrperp-fuzz: slowest case %d took %.1f s", slowest.index, slowest.seconds))
    return shared.failed == 0 ? 0 : 1
}

exit(main())
