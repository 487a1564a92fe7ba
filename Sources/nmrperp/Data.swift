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
        commandName: "check", abstract: "Validate a price history file and list its gaps.",
        discussion: "Example: nmrperp data check --data nmr_5m.csv")

    @Option(help: "Price history (CSV, Binance or Lighter JSON).") var data: String
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let series = try Load.candles(data, range: try timeRange.range())
        let gaps = series.gaps()
        let first = Timestamp(milliseconds: series.openTimes[0])
        let last = Timestamp(milliseconds: series.openTimes[series.count - 1])
        if json {
            emit(
                json: .object([
                    ("bars", .int(series.count)), ("first", .string(first.iso8601)), ("last", .string(last.iso8601)),
                    ("bar_interval", series.barInterval.map { .string($0.description) } ?? .null), ("gap_count", .int(gaps.count)),
                    ("gaps", .array(gaps.map(gapJSON))),
                ]))
            return
        }
        print(
            TextTable.pairs([
                ("bars", "\(series.count), every \(series.barInterval?.description ?? "?")"),
                ("span", "\(first.iso8601) to \(last.iso8601)"),
                ("gaps", gaps.isEmpty ? "none" : "\(gaps.count), \(gaps.reduce(0) { $0 + $1.missingBars }) bars missing"),
            ]))
        for gap in gaps.prefix(50) { print("  gap: \(gap.missingBars) bars missing after \(gap.after.iso8601)") }
    }
}
