import ArgumentParser
import Foundation
import PerpLive
import PerpMarketData
import PerpModel
import PerpSignals
import PerpVenues

struct SignalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signals",
        abstract: "Collect NMR's own data (Numerai network, forum sentiment, on-chain flows) into the files --signals reads.",
        discussion: """
            The nmr-bot blends price action (40 %), the Numerai network (35 %) and social sentiment \
            (25 %) (spec §4). These commands write the network and sentiment series as time,value \
            CSV files in one folder, the folder `backtest`, `paper` and `live` take with --signals:

              staked.csv            NMR staked in the tournament (Numerai)
              activity.csv          models staking (Numerai)
              sentiment.csv         forum titles scored −1…1, daily (forum)
              large_transfers.csv   transfers of --large NMR or more, hourly
              transfer_volume.csv   NMR moved on chain, hourly
              exchange_netflow.csv  NMR onto --exchange addresses, net, hourly
              calendar.csv          dated events: Numerai's rounds (calendar), your own
                                    (`signals event`), for the bot's blackout windows

            Every row is stamped when its value became known (a day's sentiment at the day's end), \
            so a backtest never reads the future. Files are appended to under a lock, never with a \
            time twice: stopping and starting again resumes where it stopped.
            """,
        subcommands: [SignalsCollect.self, SignalsBackfill.self, SignalsEvent.self])
}

/// `nmrperp signals event`: a dated event of the user's own in the folder's calendar.
struct SignalsEvent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event",
        abstract: "Add a dated event of your own (news, an unlock, a listing) to the signals folder's calendar.",
        discussion: """
            The bot stays out of the market around the event kinds its configuration lists \
            (calendar.blackout_kinds, default [news]; calendar.blackout_before and _after, 1h each), \
            journalling each refused entry as it does in quiet hours. Backtests read the calendar \
            whole; paper and live sessions pick up new events at their next poll. An event at the \
            same time and of the same kind as one already there is not added twice.

            Examples:
              nmrperp signals event --time 2025-10-10T20:00:00Z "tariff headlines"
              nmrperp signals event --time 2025-11-03 --kind unlock --out ./signals
            """)

    @Option(help: "When: a UTC time such as 2025-10-10T20:00:00Z, or a day.") var time: String
    @Option(help: "What kind: a lowercase word (news, unlock, listing, round_close, …).") var kind: String = "news"
    @Option(help: "The signals folder, made when missing (default: $NMRPERP_HOME/signals).") var out: String?
    @Argument(help: "A note for people (the headline); the bot never reads it.") var note: String = ""
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let stamp = try Parse.timestamp(time, "--time")
        guard CalendarEvent.isValidKind(kind) else {
            throw CLIError(
                "--kind must be a lowercase word of letters, digits and _, starting with a letter, at most \(CalendarEvent.maximumKindLength) characters (got \"\(Parse.clipped(kind))\")"
            )
        }
        let folder = out ?? Environment.home + "/signals"
        var isFolder: ObjCBool = false
        // The folder is made when missing (its parent must exist when named by --out).
        if !FileManager.default.fileExists(atPath: folder) {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: out == nil)
        }
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw CLIError("--out \(folder) is not a folder")
        }
        let path = (folder as NSString).appendingPathComponent(CalendarFile.name)
        let event = CalendarEvent(time: stamp, kind: kind, note: CalendarFile.cleanNote(note))
        let added: Int
        do { added = try CalendarFile.merge([event], into: path) } catch { throw CLIError(String(describing: error)) }
        let message =
            added == 1
            ? "added \(kind) at \(stamp.iso8601) to \(path)"
            : "\(path) already has a \(kind) event at \(stamp.iso8601); nothing added"
        if json {
            emit(
                json: .object([
                    ("file", .string(path)), ("time", .string(stamp.iso8601)), ("kind", .string(kind)), ("note", .string(event.note)),
                    ("added", .bool(added == 1)), ("message", .string(message)),
                ]))
        } else {
            print(message)
        }
    }
}

/// The sources and where they write, shared by `collect` and `backfill`.
struct SignalSourceOptions: ParsableArguments {
    @Option(help: "Folder of the series files (default $NMRPERP_HOME/signals; created when its parent exists).") var out: String?
    @Option(name: .customLong("source"), help: "numerai, calendar, forum or ethereum (repeat for several; default: all that can run).")
    var sources: [String] = []
    @Option(help: "Ethereum JSON-RPC URL for the on-chain flows (any provider; e.g. your node or an API key URL).") var ethRpc: String?
    @Option(
        name: .customLong("exchange"),
        help: "An exchange address whose NMR inflow counts as selling pressure (0x…; repeat for several).")
    var exchanges: [String] = []
    @Option(help: "A file of exchange addresses, one per line (address or address,label; # comments).") var exchangeFile: String?
    @Option(help: "Size in NMR from which a transfer counts as large.") var large: String = "5000"
    @Option(help: "Blocks to wait before a block is read (reorganisations).") var confirmations: Int = 12
    @Option(help: "Blocks per eth_getLogs request at most (halved when the provider refuses a range).") var ethChunk: Int = 2000

    var folder: String { out ?? Environment.home + "/signals" }

    /// The chosen collectors, checked (refusing what cannot run, with the reason), and notes
    /// for the user about what was left out.
    func collectors(backfill: Bool) throws -> (collectors: [any SignalCollector], notes: [String]) {
        var notes: [String] = []
        let known = ["numerai", "calendar", "forum", "ethereum"]
        var chosen: [String] = []
        for source in sources {
            let name = source.lowercased()
            guard known.contains(name) else {
                let typed = String(name.prefix(64))
                let hint =
                    known.min { TextDistance.levenshtein($0, typed) < TextDistance.levenshtein($1, typed) }.map { " (did you mean \($0)?)" }
                    ?? ""
                throw CLIError("--source must be numerai, calendar, forum or ethereum (got \"\(Parse.clipped(source))\")\(hint)")
            }
            if !chosen.contains(name) { chosen.append(name) }
        }
        if chosen.isEmpty {
            chosen = ["numerai", "calendar", "forum"] + (ethRpc == nil ? [] : ["ethereum"])
            if ethRpc == nil {
                notes.append(
                    "note: the on-chain flows need --eth-rpc URL (an Ethereum JSON-RPC endpoint); collecting numerai, calendar and forum")
            }
        }
        let endpoints = VenueEndpoints.fromEnvironment(Environment.values)
        var result: [any SignalCollector] = []
        for name in chosen {
            switch name {
            case "numerai":
                result.append(NumeraiNetworkCollector(client: NumeraiClient(baseURL: endpoints.numerai, minimumSpacing: .seconds(1))))
            case "calendar":
                result.append(NumeraiCalendarCollector(client: NumeraiClient(baseURL: endpoints.numerai, minimumSpacing: .seconds(1))))
            case "forum":
                let forum = Environment.values["NMRPERP_FORUM_URL"].flatMap { $0.isEmpty ? nil : URL(string: $0) } ?? ForumClient.numerai
                result.append(ForumSentimentCollector(client: ForumClient(baseURL: forum)))
            default:
                result.append(try ethereum())
            }
        }
        if backfill, result.contains(where: { !$0.hasHistory }) {
            notes.append("note: Numerai's public API serves only the current totals; numerai writes today's row, not history")
        }
        return (result, notes)
    }

    func ethereum() throws -> EthereumFlowCollector {
        guard let text = ethRpc else {
            throw CLIError("--source ethereum needs --eth-rpc URL: the JSON-RPC endpoint of an Ethereum node or provider")
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil
        else {
            throw CLIError("--eth-rpc must be an http(s) URL (got \"\(Parse.clipped(text))\")")
        }
        guard let largeAt = Quantity(large), largeAt.isPositive else {
            throw CLIError("--large must be a positive number of NMR (got \"\(Parse.clipped(large))\")")
        }
        guard (0...1000).contains(confirmations) else {
            throw CLIError("--confirmations must be between 0 and 1000 (got \(confirmations))")
        }
        guard (1...100_000).contains(ethChunk) else { throw CLIError("--eth-chunk must be between 1 and 100000 blocks (got \(ethChunk))") }
        var labelled = Set<String>()
        for address in exchanges { labelled.insert(try Self.address(address, "--exchange")) }
        if let exchangeFile {
            let bytes: [UInt8]
            do { bytes = try MarketDataFiles.readBytes(exchangeFile, limit: 1 << 20) } catch {
                throw CLIError("--exchange-file \(exchangeFile): \(error.reason)")
            }
            for (index, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .enumerated()
            {
                let text = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                let field = text.split(separator: ",", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
                if field.isEmpty { continue }
                labelled.insert(try Self.address(field, "--exchange-file \(exchangeFile):\(index + 1)"))
            }
        }
        return EthereumFlowCollector(
            client: EthereumClient(url: url), labelled: labelled, largeAt: largeAt, confirmations: Int64(confirmations),
            chunk: Int64(ethChunk))
    }

    static func address(_ text: String, _ flag: String) throws -> String {
        guard let address = EthereumClient.address(text) else {
            throw CLIError("\(flag): \"\(Parse.clipped(text))\" is not an Ethereum address (0x and 40 hex digits)")
        }
        return address
    }

    /// The folder, created when missing (its parent must exist), then checked with every file.
    func collection(_ collectors: [any SignalCollector]) throws -> SignalCollection {
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            let parent = SeriesFile.folder(of: folder)
            guard FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder), isFolder.boolValue else {
                throw CLIError("--out \(folder): the folder \(parent) does not exist")
            }
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) } catch {
                throw CLIError("--out \(folder): cannot create the folder: \(error.localizedDescription)")
            }
        }
        let collection = SignalCollection(folder: folder, collectors: collectors)
        do { try collection.precheck() } catch { throw CLIError("--out \(error)") }
        return collection
    }
}

/// One source's outcome, as a line or JSON.
private func report(_ outcome: CollectOutcome, at time: Timestamp) -> String {
    if let failure = outcome.failure { return "\(time.iso8601) \(outcome.source): failed: \(failure)" }
    let files = outcome.written.sorted { $0.key < $1.key }.map { "\($0.value) row\($0.value == 1 ? "" : "s") to \($0.key).csv" }
    return "\(time.iso8601) \(outcome.source): wrote \(files.joined(separator: ", ")) (\(outcome.summary))"
}

/// The JSON of the signals commands (one shape for collect, its loop and backfill).
private func signalsJSON(_ outcomes: [CollectOutcome], folder: String) -> JSONValue {
    .object([
        ("folder", .string(folder)),
        (
            "collected",
            .array(
                outcomes.map { outcome in
                    .object([
                        ("source", .string(outcome.source)), ("ok", .bool(outcome.failure == nil)),
                        ("written", .object(outcome.written.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
                        ("summary", .string(outcome.summary)), ("problem", outcome.failure.map { .string($0) } ?? .null),
                    ])
                })
        ),
    ])
}

struct SignalsCollect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Append the newest values of each source to its series files, once or in a loop.",
        discussion: """
            Examples:
              nmrperp signals collect --once
              nmrperp signals collect --eth-rpc https://eth.example/v2/KEY \\
                  --exchange 0x28c6c06298d514db089934071355e5743bf21d60

            Give the folder to `backtest`, `paper` or `live` with --signals. Without --once it keeps running (Ctrl-C stops it between two requests): numerai and \
            forum hourly, ethereum every 15 minutes. A source that fails is tried again within 5 \
            minutes; the others go on. The first run of a source writes the last week (forum) \
            or day (ethereum); `signals backfill --from DATE` reaches further back.
            """)

    @OptionGroup var options: SignalSourceOptions
    @Flag(help: "Run each source once and exit (for cron).") var once = false
    @Flag(help: "Print JSON (one object per run; with --once a single object).") var json = false

    func run() async throws {
        let (collectors, notes) = try options.collectors(backfill: false)
        try Environment.requireNetwork("signals collect")
        let collection = try options.collection(collectors)
        for note in notes { printError(note) }
        if once {
            var outcomes: [CollectOutcome] = []
            for collector in collectors {
                let outcome = await collection.run(collector, now: Environment.now)
                outcomes.append(outcome)
                if !json { print(report(outcome, at: Environment.now)) }
            }
            if json { emit(json: signalsJSON(outcomes, folder: collection.folder)) }
            if outcomes.contains(where: { $0.failure != nil }) {
                throw CLIError(
                    "\(outcomes.filter { $0.failure != nil }.map(\.source).joined(separator: ", ")) failed (above); the other sources were written"
                )
            }
            return
        }
        let json = self.json
        let task = Task {
            var due: [String: Int64] = [:]
            while !Task.isCancelled {
                let now = Environment.now
                for collector in collectors where (due[collector.source] ?? 0) <= now.milliseconds {
                    let outcome = await collection.run(collector, now: now)
                    // A failed source is tried again sooner than its pace (at most 5 minutes on).
                    let pause = outcome.failure == nil ? collector.every.milliseconds : min(collector.every.milliseconds, 300_000)
                    due[collector.source] = Environment.now.milliseconds + pause
                    // Written straight away, unbuffered: a loop's lines reach a pipe or log as they happen.
                    let line =
                        json
                        ? signalsJSON([outcome], folder: collection.folder).serialized(pretty: false)
                        : report(outcome, at: now)
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                    if Task.isCancelled { break }
                }
                let next = due.values.min() ?? (Environment.now.milliseconds + 60_000)
                let wait = max(1000, next - Environment.now.milliseconds)
                try? await Task.sleep(for: .milliseconds(wait))
            }
        }
        let interrupts = Interrupts.cancel(task)
        await task.value
        interrupts.remove()
        printError("stopped; the files hold every row collected (running it again resumes)")
    }
}

struct SignalsBackfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Fill the series files with history from a date on, where a source keeps history (forum, ethereum).",
        discussion: """
            Examples:
              nmrperp signals backfill --from 2024-10-01 --source forum
              nmrperp signals backfill --from 2025-09-01 --source ethereum \\
                  --eth-rpc https://eth.example/v2/KEY \\
                  --exchange 0x28c6c06298d514db089934071355e5743bf21d60

            Rows are merged into the files: times they lack are added, times they have are kept \
            as they are. Interrupted, it leaves the files as they were before the source's \
            merge; running it again redoes that source. Numerai's API serves only the current \
            totals, so numerai adds today's row.
            """)

    @OptionGroup var options: SignalSourceOptions
    @Option(help: "Start of the history (UTC date or time, e.g. 2024-10-01).") var from: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let start = try Parse.timestamp(from, "--from")
        let now = Environment.now
        guard start < now else { throw CLIError("--from must be in the past (got \(from))") }
        let (collectors, notes) = try options.collectors(backfill: true)
        try Environment.requireNetwork("signals backfill")
        let collection = try options.collection(collectors)
        for note in notes { printError(note) }
        var outcomes: [CollectOutcome] = []
        for collector in collectors {
            let progress = Progress(label: "\(collector.source) backfill")
            let outcome = await collection.run(collector, now: now, from: collector.hasHistory ? start : nil) { line in progress.show(line)
            }
            progress.finish()
            outcomes.append(outcome)
            if !json { print(report(outcome, at: now)) }
        }
        if json { emit(json: signalsJSON(outcomes, folder: collection.folder)) }
        if outcomes.contains(where: { $0.failure != nil }) {
            throw CLIError(
                "\(outcomes.filter { $0.failure != nil }.map(\.source).joined(separator: ", ")) failed (above); running the same command again retries it, the rows written stay"
            )
        }
    }

    /// A progress line redrawn in place on a terminal, every few seconds otherwise (standard
    /// error, so --json stays clean).
    final class Progress: @unchecked Sendable {
        let label: String
        let interactive = isatty(2) != 0
        private let lock = NSLock()
        private var shown = false
        private var lastLine = Date.distantPast

        init(label: String) { self.label = label }

        func show(_ text: String) {
            lock.lock()
            defer { lock.unlock() }
            if interactive {
                FileHandle.standardError.write(Data("\r\(text.prefix(150))\u{1B}[K".utf8))
                shown = true
            } else if Date().timeIntervalSince(lastLine) >= 5 {
                FileHandle.standardError.write(Data("\(text.prefix(150))\n".utf8))
                lastLine = Date()
            }
        }

        func finish() {
            lock.lock()
            defer { lock.unlock() }
            if shown { FileHandle.standardError.write(Data("\n".utf8)) }
            shown = false
        }
    }
}
