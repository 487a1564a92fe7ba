import ArgumentParser
import Foundation
import PerpMarketData
import PerpModel
import PerpVenues

struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Fetch and check price history.", subcommands: [DataFetch.self, DataCheck.self])
}

struct DataFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download Binance spot klines for any span to CSV (paginated, cached, resumable).",
        discussion: """
            Writes the layout of shared/data/SOURCES.md: open_time_ms, open_time_utc, open, high, low, \
            close, volume. Pages already fetched are kept in $NMRPERP_HOME/market.sqlite; an \
            interrupted download resumes where it stopped.

            Example:
              nmrperp data fetch --symbol NMRUSDT --interval 5m --from 2025-01-01 \\
                  --out nmr_5m.csv
            """)

    @Option(help: "Binance spot symbol.") var symbol: String = "NMRUSDT"
    @Option(help: "Bar interval: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d.") var interval: String = "5m"
    @Option(help: "First bar (UTC date or time).") var from: String
    @Option(help: "End, exclusive (UTC date or time); now when absent.") var to: String?
    @Option(help: "CSV file to write.") var out: String
    @Flag(help: "Replace output files that already exist.") var force = false

    /// What an interrupted download tells its user: the pages already fetched are kept.
    static let resumeHint = "run the same command again to resume: the pages fetched so far are kept in $NMRPERP_HOME/market.sqlite"

    func run() async throws {
        let interval = try Parse.span(self.interval, "--interval")
        guard BinanceSpotClient.intervalName(interval) != nil else {
            throw CLIError("--interval \(self.interval) is not a Binance interval; use 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h or 1d")
        }
        let from = try Parse.timestamp(self.from, "--from")
        let outputs = try OutputFiles([("--out", out)], force: force)
        let now = Environment.now
        let to = try self.to.map { try Parse.timestamp($0, "--to") } ?? now
        guard from < to else { throw CLIError("--from must be before --to") }
        try Environment.requireNetwork("data fetch")
        let history = try Environment.history()
        let progress = ProgressBar("fetching \(symbol) \(interval)")
        let series = try await progress.download(resume: DataFetch.resumeHint) {
            try await history.spotCandles(symbol: symbol, interval: interval, from: from, to: to, now: now, progress: progress.update)
        }
        var csv = "open_time_ms,open_time_utc,open,high,low,close,volume\n"
        csv.reserveCapacity(series.count * 80)
        for index in 0..<series.count {
            let bar = series[index]
            csv += "\(bar.openTime.milliseconds),\(bar.openTime.iso8601),\(bar.open),\(bar.high),\(bar.low),\(bar.close),\(bar.volume)\n"
        }
        try outputs.write { _ in csv }
        let gaps = series.gaps()
        print("wrote \(series.count) bars to \(out)" + (gaps.isEmpty ? "" : " (\(gaps.count) gaps in Binance's data, not bridged)"))
    }
}

struct DataCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate a price or funding history file: every problem, then its span and gaps.",
        discussion: """
            Reads the file with the same rules as every command that loads it and lists every row \
            that breaks one (the first 50), each with its line and what to fix; then, for what loads, \
            the span, the bar or settlement interval and the gaps. A funding history (a \
            funding_rate column, or Binance / Lighter funding JSON) is checked as one. Exits 1 when \
            there is a problem.

            Examples:
              nmrperp data check --data nmr_5m.csv
              nmrperp data check --data binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv
            """)

    @Option(help: "Price or funding history (CSV, Binance or Lighter JSON).") var data: String
    @Option(help: "Funding: interval of rows whose interval cannot be inferred (a lone row), e.g. 8h.") var defaultInterval = "8h"
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let fallback = try Parse.span(defaultInterval, "--default-interval")
        let range = try timeRange.range()
        let bytes: [UInt8]
        do { bytes = try MarketDataFiles.readBytes(data, limit: max(InputLimits.maxJSONBytes, InputLimits.maxSeriesBytes)) } catch {
            throw InputMessages.error(error, flag: "--data", wants: .candles)
        }
        let report = HistoryCheck.run(bytes, source: data, defaultInterval: fallback)
        var summary: [(String, JSONValue, String)] = []
        if let loaded = report.candles {
            let series = try range.candles(loaded, source: data)
            let gaps = series.gaps()
            let first = Timestamp(milliseconds: series.openTimes[0])
            let last = Timestamp(milliseconds: series.openTimes[series.count - 1])
            summary = [
                ("bars", .int(series.count), "\(series.count), every \(series.barInterval?.description ?? "?")"),
                ("first", .string(first.iso8601), ""), ("last", .string(last.iso8601), ""),
                ("span", .null, "\(first.iso8601) to \(last.iso8601)"),
                ("bar_interval", series.barInterval.map { .string($0.description) } ?? .null, ""),
                ("gap_count", .int(gaps.count), ""),
                (
                    "gaps", .array(gaps.map(gapJSON)),
                    gaps.isEmpty ? "none" : "\(gaps.count), \(gaps.reduce(0) { $0 + $1.missingBars }) bars missing"
                ),
            ]
            if !json {
                printSummary(summary, problems: report)
                for gap in gaps.prefix(50) { print("  gap: \(gap.missingBars) bars missing after \(gap.after.iso8601)") }
            }
        } else if let loaded = report.funding {
            let rates = range.funding(loaded)
            guard let firstRate = rates.first, let lastRate = rates.last else {
                throw CLIError("no funding settlement of \(data) falls inside \(range.flags)")
            }
            // A settlement is missing when the next one comes more than 1.5 times the usual
            // spacing later (the most common one, to the minute: Binance's times jitter by a few ms).
            let steps = zip(rates, rates.dropFirst()).map { ($1.time.milliseconds - $0.time.milliseconds + 30_000) / 60_000 }
            var counts: [Int64: Int] = [:]
            for step in steps { counts[step, default: 0] += 1 }
            let usual: Int64? = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
            var gaps: [(after: Timestamp, missing: Int64)] = []
            if let usual, usual > 0 {
                for (previous, step) in zip(rates, steps) where step * 2 > usual * 3 {
                    gaps.append((previous.time, (step + usual / 2) / usual - 1))
                }
            }
            let intervals = Set(rates.map(\.interval)).sorted().map(\.description)
            let low = rates.map(\.rate).min() ?? .zero
            let high = rates.map(\.rate).max() ?? .zero
            summary = [
                ("settlements", .int(rates.count), "\(rates.count), every \(intervals.joined(separator: " then "))"),
                ("first", .string(firstRate.time.iso8601), ""), ("last", .string(lastRate.time.iso8601), ""),
                ("span", .null, "\(firstRate.time.iso8601) to \(lastRate.time.iso8601)"),
                ("intervals", .array(intervals.map { .string($0) }), ""),
                ("rate_min", .exact(low), ""), ("rate_max", .exact(high), ""),
                ("rates", .null, "from \(low) to \(high) per interval (positive: longs pay)"),
                ("gap_count", .int(gaps.count), ""),
                (
                    "gaps",
                    .array(gaps.map { .object([("after", .string($0.after.iso8601)), ("missing_settlements", .int($0.missing))]) }),
                    gaps.isEmpty ? "none" : "\(gaps.count), \(gaps.reduce(Int64(0)) { $0 + $1.missing }) settlements missing"
                ),
            ]
            if !json {
                printSummary(summary, problems: report)
                for gap in gaps.prefix(50) { print("  gap: \(gap.missing) settlements missing after \(gap.after.iso8601)") }
            }
        } else if !json {
            printSummary([], problems: report)
        }
        if json {
            var members: [(String, JSONValue)] = [("kind", .string(report.kind.rawValue))]
            members += summary.filter { $0.1 != .null }.map { ($0.0, $0.1) }
            members.append(("problems", .array(report.problems.map { .string($0.description) })))
            members.append(("problems_truncated", .bool(report.truncated)))
            emit(json: .object(members))
        }
        if !report.problems.isEmpty {
            let count = "\(report.problems.count)\(report.truncated ? "+" : "") problem\(report.problems.count == 1 ? "" : "s")"
            throw CLIError("\(data): \(count)" + (json ? " (in \"problems\")" : " (listed above)"))
        }
    }

    func printSummary(_ summary: [(String, JSONValue, String)], problems report: HistoryCheck.Report) {
        if !report.problems.isEmpty {
            print(
                "\(report.problems.count)\(report.truncated ? "+" : "") problem\(report.problems.count == 1 ? "" : "s") (a row with one is left out of what follows):"
            )
            for problem in report.problems { print("  " + problem.description) }
            if report.truncated { print("  … and more: fix these and run it again") }
        }
        let rows = summary.filter { !$0.2.isEmpty }.map { ($0.0, $0.2) }
        if !rows.isEmpty { print(TextTable.pairs([("kind", report.kind == .funding ? "funding history" : "price bars")] + rows)) }
    }
}
