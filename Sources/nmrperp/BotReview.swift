import ArgumentParser
import Foundation
import PerpConfig
import PerpEngine
import PerpLive
import PerpMarketData
import PerpModel
import PerpReports
import PerpStore

/// `nmrperp bot review`: the weekly review of a backtest run or a paper or live session
/// (issue 16; seed 001). It reads; it never changes a configuration.
struct BotReview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract:
            "Review a backtest run or a paper or live session: each signal's accuracy, what entries owed it, exits, and weights fitted out of sample.",
        discussion: """
            Seed 001: "I review my performance logs every week and adjust my signal weights based \
            on recent accuracy." The window is the last --since (7d) of the run or session. For each \
            signal and group: how often its sign (at 0.1 or more) matched the return over the exit \
            horizon (risk.time_exit) that followed, before the window and in it; what share of the \
            blended score of the window's entries it supplied, and the P&L that share carried; the \
            window's trades by exit reason. Suggested weights are fitted only on bars whose horizon \
            ended before the window opened, then judged on the window beside the current ones: never \
            in-sample. With fewer than 30 non-overlapping horizons or closed trades it says the sample \
            is too small to mean anything.

            A backtest run (`bot journal` lists them) does not keep its data: give the same --data, \
            --funding, --signals and --config as the backtest. A session keeps its bars, funding, \
            signals and configuration, so --session needs nothing else. The review never changes a \
            configuration; --write-config writes the suggestion as a new file for `bot check`.

            Examples:
              nmrperp bot review --session paper/nmr --since 7d
              nmrperp bot review --run 1 --data nmr_15m.csv --since 30d --report review.html
            """)

    @Option(help: "A backtest run: its number in `bot journal` (3 or #3) or its full name.") var run: String?
    @Option(help: "A paper or live session: KIND/NAME or NAME.") var session: String?
    @Option(help: "The review window: the last this long of the run (7d, 30d, 12w).") var since: String = "7d"
    @Option(help: "With --run: the candle history the backtest read.") var data: String?
    @Option(help: "With --run: the funding history the backtest read.") var funding: String?
    @Option(help: "With --run: the signals folder the backtest read.") var signals: String?
    @Option(help: "With --run: the bot configuration the backtest read (default: the defaults).") var config: String?
    @Option(help: "Write the review as a self-contained HTML page.") var report: String?
    @Option(help: "Write the configuration with the suggested weights to this new file (check it with `bot check`).")
    var writeConfig: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Flag(help: "Print JSON.") var json = false

    /// What a review reads, from a run or a session.
    struct Material {
        var name: String
        var series: CandleSeries
        var interval: TimeSpan
        var funding: [FundingRate]
        var inputs: SignalInputs
        var file: ConfigFile
        var rows: [SignalReview.Row]
        var notes: [String]
    }

    func run() async throws {
        let window: TimeSpan
        switch TimeSpan.parse(since) {
        case .success(let span): window = span
        case .failure(let error): throw CLIError(Parse.spanProblem(error, "--since", since))
        }
        let outputs = try OutputFiles([("--report", report), ("--write-config", writeConfig)], force: force)
        let material: Material
        switch (run, session) {
        case (let run?, nil): material = try fromRun(run)
        case (nil, let session?): material = try fromSession(session)
        case (nil, nil): throw CLIError("say what to review: --run N (a backtest in `bot journal`) or --session NAME (paper or live)")
        default: throw CLIError("--run and --session each name what to review; give one")
        }
        guard material.series.count >= 2 else {
            throw CLIError("\(material.name): fewer than two bars to review")
        }
        let scores = Features.signalScores(
            material.series, funding: material.funding, inputs: material.inputs, config: material.file.bot.signals,
            barInterval: material.interval)
        let review = SignalReview.review(
            series: material.series, barInterval: material.interval, scores: scores, rows: material.rows, config: material.file.bot,
            since: window)
        var notes = material.notes
        if window.milliseconds >= material.series.openTimes[material.series.count - 1] - material.series.openTimes[0] {
            notes.append("--since \(since) covers the whole span: nothing before the window to fit weights on")
        }
        let heading = [
            "Written by `nmrperp bot review` from \(material.name), \(Environment.now.iso8601).",
            "Only the weights differ from the configuration reviewed. Check it: nmrperp bot check --config FILE",
        ]
        try outputs.write { flag in
            if flag == "--report" { return Self.html(review, name: material.name, notes: notes) }
            var file = material.file
            guard let suggested = review.suggestion.suggested else {
                throw CLIError("--write-config: no weights to suggest (\(review.suggestion.basis)); nothing written")
            }
            file.bot.weights = suggested
            return BotConfigFile.yaml(file, heading: heading)
        }
        if json {
            emit(json: Self.json(review, name: material.name, notes: notes, report: report, written: writeConfig))
            return
        }
        print(Self.text(review, name: material.name))
        for note in notes { print("note: \(note)") }
        if let report { print("report: \(report)") }
        if let writeConfig {
            print("config: \(writeConfig) (the suggested weights; check it with `nmrperp bot check --config \(writeConfig)`)")
        }
    }

    // MARK: Reading

    func fromRun(_ text: String) throws -> Material {
        guard session == nil else { throw CLIError("--run and --session each name what to review; give one") }
        guard let data else {
            throw CLIError("--run needs --data FILE: a backtest run keeps its journal, not its bars; give the file the backtest read")
        }
        guard FileManager.default.fileExists(atPath: JournalRuns.path) else {
            throw CLIError("no journal yet at \(JournalRuns.path): run `nmrperp backtest --strategy nmr-bot --data FILE` first")
        }
        let store = try JournalStore(path: JournalRuns.path)
        let name = try BotJournal.resolve(text, in: try store.runSummaries())
        let entries = try store.entries(run: name)
        let series = try Load.candles(data)
        guard let interval = series.barInterval else { throw CLIError("--data \(data): fewer than two bars, or no regular bar size") }
        let rates = try funding.map { try Load.funding($0, defaultInterval: .hours(8)) } ?? []
        let file: ConfigFile
        if let config {
            do { file = try ConfigFile.load(path: config) } catch { throw CLIError(String(describing: error)) }
        } else {
            file = ConfigFile()
        }
        var notes: [String] = []
        let base = URL(fileURLWithPath: data).lastPathComponent
        if !name.hasSuffix(base) && !name.contains(base + " #") {
            notes.append("the run was made from another file than --data \(base) (its name: \(name)); the accuracy reads --data")
        }
        return Material(
            name: "run \"\(name)\"", series: series, interval: interval, funding: rates,
            inputs: try BacktestCommand.signalInputs(signals), file: file, rows: entries.map(SignalReview.Row.init), notes: notes)
    }

    func fromSession(_ text: String) throws -> Material {
        if data != nil || funding != nil || signals != nil || config != nil {
            throw CLIError("--data, --funding, --signals and --config go with --run; a session keeps its own")
        }
        let (kind, name, path) = try JournalNoteCommand.resolve(text)
        guard kind != "hedge" else {
            throw CLIError("--session \(kind)/\(name): a hedge has no signals to review; give a paper or live session")
        }
        let store: LiveStore
        do { store = try LiveStore(existing: path) } catch { throw CLIError("\(kind)/\(name): \(error)") }
        guard let info = try store.info() else { throw CLIError("\(kind)/\(name): the session holds nothing yet") }
        let file: ConfigFile
        do { file = try BotConfigFile.parseFile(yaml: info.configText, file: "\(kind)/\(name)").0 } catch {
            throw CLIError("\(kind)/\(name): its stored configuration: \(error)")
        }
        var candles: [Int64: Candle] = [:]
        var rates: [FundingRate] = []
        var points: [ExternalSignal: [(time: Int64, value: Double)]] = [:]
        var events: [CalendarEvent] = []
        var unreadable = 0
        try store.forEachInput { row in
            guard let input = try? LiveInputCodec.decode((row.seq, row.kind, row.payload)) else {
                unreadable += 1
                return
            }
            switch input {
            case .bar(let candle, _): candles[candle.openTime.milliseconds] = candle
            case .fundingRate(let rate): rates.append(rate)
            case .signal(let signal, let value, let at): points[signal, default: []].append((at.milliseconds, value))
            case .calendar(let event, _): events.append(event)
            default: break
            }
        }
        let series = CandleSeries(candles.keys.sorted().compactMap { candles[$0] })
        let inputs = SignalInputs(
            staked: points[.staked].map(SignalSeries.init), activity: points[.activity].map(SignalSeries.init),
            sentiment: points[.sentiment].map(SignalSeries.init), exchangeNetflow: points[.exchangeNetflow].map(SignalSeries.init),
            calendar: events)
        var rows: [SignalReview.Row] = []
        for line in try store.journal() {
            if let row = Self.row(line.line) { rows.append(row) }
        }
        var notes: [String] = []
        if unreadable > 0 { notes.append("\(unreadable) stored inputs could not be read and were left out") }
        return Material(
            name: "\(kind)/\(name)", series: series, interval: info.interval, funding: rates.sorted { $0.time < $1.time },
            inputs: inputs, file: file, rows: rows, notes: notes)
    }

    /// A stored journal line (JSON) as a review row; `nil` for a line that is not one.
    static func row(_ line: String) -> SignalReview.Row? {
        guard let json = try? JSONParser.parse(line), let timeText = json["time"]?.stringValue,
            let time = Timestamp(parsing: timeText), let event = json["event"]?.stringValue
        else { return nil }
        var signals: [String: Double] = [:]
        if case .object(let members)? = json["signals"] {
            for (name, value) in members {
                if let number = value.numericText.flatMap(Double.init), number.isFinite { signals[name] = number }
            }
        }
        let pnl = json["pnl"]?.numericText.flatMap { Notional($0) }
        return SignalReview.Row(
            time: time, event: event, side: json["side"]?.stringValue.flatMap(Side.init(rawValue:)), signals: signals, pnl: pnl,
            reason: json["reason"]?.stringValue ?? "", text: json["text"]?.stringValue ?? "")
    }

    // MARK: Output

    static func rate(_ hits: Int, _ count: Int) -> String { count > 0 ? percent(Double(hits) / Double(count), places: 1) : "n/a" }

    static func accuracyRows(_ rows: [SignalReview.Accuracy]) -> [[String]] {
        rows.map {
            [
                $0.name, $0.group, rate($0.beforeHits, $0.beforeCount), String($0.beforeCount), rate($0.windowHits, $0.windowCount),
                String($0.windowCount),
            ]
        }
    }

    static let accuracyColumns = ["signal", "group", "hit rate before", "bars", "hit rate in window", "bars"]

    static func weightsText(_ weights: BotConfig.Weights) -> String {
        "price \(formatDouble(weights.price)), network \(formatDouble(weights.network)), sentiment \(formatDouble(weights.sentiment))"
    }

    static func sections(_ review: SignalReview.Report) -> [TablesReport.Section] {
        let suggestion = review.suggestion
        var weightRows = [
            [
                "current", weightsText(suggestion.current), rate(suggestion.currentHits, suggestion.currentCount),
                String(suggestion.currentCount),
            ]
        ]
        if let suggested = suggestion.suggested {
            weightRows.append([
                "suggested", weightsText(suggested), rate(suggestion.suggestedHits, suggestion.suggestedCount),
                String(suggestion.suggestedCount),
            ])
        }
        return [
            TablesReport.Section(
                heading: "Signals", columns: accuracyColumns, rows: accuracyRows(review.signals),
                caption: "How often the sign of a score of 0.1 or more matched the return over the next \(review.horizon)."),
            TablesReport.Section(
                heading: "Groups", columns: accuracyColumns, rows: accuracyRows(review.groups),
                caption: "A group's score is the mean of its signals."),
            TablesReport.Section(
                heading: "What the window's entries owed each signal",
                columns: ["signal", "entries", "agreed", "mean share of the blend", "P&L carried"],
                rows: review.contributions.filter { $0.entries > 0 }.map {
                    [$0.name, String($0.entries), String($0.agreed), percent($0.meanShare, places: 1), formatFixed($0.pnl, 2)]
                },
                caption: review.contributions.contains { $0.entries > 0 } ? "" : "No entry in the window."),
            TablesReport.Section(
                heading: "Trades by exit reason", columns: ["exit", "trades", "wins", "realized P&L"],
                rows: review.exits.map { [$0.reason, String($0.trades), String($0.wins), $0.pnl.money] },
                caption: review.exits.isEmpty ? "No trade closed in the window." : ""),
            TablesReport.Section(
                heading: "Your notes in the window", columns: ["time", "note"], rows: review.notes.map { [$0.time.iso8601, $0.text] },
                caption: review.notes.isEmpty ? "None (`nmrperp journal note` adds one)." : ""),
            TablesReport.Section(
                heading: "Weights", columns: ["weights", "values", "hit rate in window", "bars at the entry threshold"], rows: weightRows,
                caption: suggestion.basis),
        ]
    }

    static func text(_ review: SignalReview.Report, name: String) -> String {
        var lines = [
            "review of \(name): window \(review.windowStart.iso8601) → \(review.windowEnd.iso8601), horizon \(review.horizon)",
            "trades closed in the window: \(review.windowTrades) (realized \(review.windowPnL.money)); before it: \(review.earlierTrades)",
        ]
        for section in sections(review) {
            lines.append("")
            lines.append(section.heading)
            if !section.caption.isEmpty { lines.append("  " + section.caption) }
            if !section.rows.isEmpty { lines.append(TextTable.grid(section.columns, section.rows, leftAligned: 1)) }
        }
        for warning in review.warnings { lines.append("warning: \(warning)") }
        return lines.joined(separator: "\n")
    }

    static func html(_ review: SignalReview.Report, name: String, notes: [String]) -> String {
        TablesReport.html(
            title: "Review of \(name)",
            period:
                "window \(review.windowStart.iso8601) – \(review.windowEnd.iso8601) · horizon \(review.horizon) · \(review.windowTrades) trades closed",
            notes: review.warnings + notes, sections: sections(review))
    }

    static func json(_ review: SignalReview.Report, name: String, notes: [String], report: String?, written: String?) -> JSONValue {
        func accuracy(_ row: SignalReview.Accuracy) -> JSONValue {
            .object([
                ("name", .string(row.name)), ("group", .string(row.group)), ("before_bars", .int(Int64(row.beforeCount))),
                ("before_hits", .int(Int64(row.beforeHits))), ("window_bars", .int(Int64(row.windowCount))),
                ("window_hits", .int(Int64(row.windowHits))),
            ])
        }
        func weights(_ value: BotConfig.Weights?) -> JSONValue {
            guard let value else { return .null }
            return .object([("price", .double(value.price)), ("network", .double(value.network)), ("sentiment", .double(value.sentiment))])
        }
        let suggestion = review.suggestion
        return .object([
            ("name", .string(name)), ("start", .string(review.windowStart.iso8601)), ("end", .string(review.windowEnd.iso8601)),
            ("horizon", .string(review.horizon.description)), ("independent_horizons", .int(Int64(review.independentHorizons))),
            ("trades", .int(Int64(review.windowTrades))), ("earlier_trades", .int(Int64(review.earlierTrades))),
            ("realized_pnl", .exact(review.windowPnL)),
            ("signals", .array(review.signals.map(accuracy))), ("groups", .array(review.groups.map(accuracy))),
            (
                "contributions",
                .array(
                    review.contributions.map {
                        .object([
                            ("name", .string($0.name)), ("entries", .int(Int64($0.entries))), ("agreed", .int(Int64($0.agreed))),
                            ("mean_share", .double($0.meanShare)), ("pnl", .double($0.pnl)),
                        ])
                    })
            ),
            (
                "exits",
                .array(
                    review.exits.map {
                        .object([
                            ("reason", .string($0.reason)), ("trades", .int(Int64($0.trades))), ("wins", .int(Int64($0.wins))),
                            ("realized_pnl", .exact($0.pnl)),
                        ])
                    })
            ),
            ("weights", weights(suggestion.current)), ("suggested_weights", weights(suggestion.suggested)),
            ("suggestion_basis", .string(suggestion.basis)), ("window_bars_current", .int(Int64(suggestion.currentCount))),
            ("window_hits_current", .int(Int64(suggestion.currentHits))),
            ("window_bars_suggested", .int(Int64(suggestion.suggestedCount))),
            ("window_hits_suggested", .int(Int64(suggestion.suggestedHits))),
            (
                "journal_notes",
                .array(review.notes.map { .object([("time", .string($0.time.iso8601)), ("text", .string($0.text))]) })
            ),
            ("warnings", .array(review.warnings.map { .string($0) })), ("notes", .array(notes.map { .string($0) })),
            ("report", report.map { .string($0) } ?? .null), ("config", written.map { .string($0) } ?? .null),
        ])
    }
}
