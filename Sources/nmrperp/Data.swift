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
        abstract:
            "Download Binance klines for any span to CSV: spot, or the USD-M perp with its mark price and funding (cached, resumable).",
        discussion: """
            Writes the layout of shared/data/SOURCES.md: open_time_ms, open_time_utc, open, high, low, \
            close, volume. With --market usdm it fetches the perp's bars (`/fapi/v1/klines`), its \
            mark-price bars (`/fapi/v1/markPriceKlines`, for --mark) and its funding \
            (`/fapi/v1/fundingRate`, for --funding) for the same span in one go, into --out, \
            --mark-out and --funding-out (by default beside --out: NAME.mark.csv, \
            NAME.funding.csv). Pages already fetched are kept in $NMRPERP_HOME/market.sqlite: an \
            interrupted download resumes where it stopped, and offline (NMRPERP_OFFLINE=1) a span \
            the cache holds is answered from it.

            Examples:
              nmrperp data fetch --symbol NMRUSDT --interval 5m --from 2025-01-01 \\
                  --out nmr_5m.csv
              nmrperp data fetch --market usdm --interval 15m --from 2025-01-01 \\
                  --to 2025-07-01 --out nmr_usdm_15m.csv
            """)

    @Option(help: "spot (Binance spot) or usdm (the Binance USD-M perpetual, with its mark price and funding).") var market = "spot"
    @Option(help: "Binance symbol.") var symbol: String = "NMRUSDT"
    @Option(help: "Bar interval: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d.") var interval: String = "5m"
    @Option(help: "First bar (UTC date or time).") var from: String
    @Option(help: "End, exclusive (UTC date or time); now when absent.") var to: String?
    @Option(help: "CSV file to write (the bars).") var out: String
    @Option(help: "--market usdm: the mark-price bars' CSV (default: beside --out, NAME.mark.csv).") var markOut: String?
    @Option(help: "--market usdm: the funding CSV (default: beside --out, NAME.funding.csv).") var fundingOut: String?
    @Flag(help: "Replace output files that already exist.") var force = false
    @Flag(help: "Print JSON: what was written, its span and gaps.") var json = false

    /// What an interrupted download tells its user: the pages already fetched are kept.
    static let resumeHint = "run the same command again to resume: the pages fetched so far are kept in $NMRPERP_HOME/market.sqlite"

    /// `nmr.csv` → `nmr.mark.csv`.
    static func beside(_ path: String, _ tag: String) -> String {
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        let ext = url.pathExtension.isEmpty ? "csv" : url.pathExtension
        let name = "\(stem).\(tag).\(ext)"
        return path.contains("/") ? url.deletingLastPathComponent().appendingPathComponent(name).path : name
    }

    static func csv(_ series: CandleSeries) -> String {
        var csv = "open_time_ms,open_time_utc,open,high,low,close,volume\n"
        csv.reserveCapacity(series.count * 80)
        for index in 0..<series.count {
            let bar = series[index]
            csv += "\(bar.openTime.milliseconds),\(bar.openTime.iso8601),\(bar.open),\(bar.high),\(bar.low),\(bar.close),\(bar.volume)\n"
        }
        return csv
    }

    func run() async throws {
        let interval = try Parse.span(self.interval, "--interval")
        guard BinanceSpotClient.intervalName(interval) != nil else {
            throw CLIError("--interval \(self.interval) is not a Binance interval; use 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h or 1d")
        }
        let usdm: Bool
        switch market.lowercased() {
        case "spot": usdm = false
        case "usdm", "usd-m", "binance-usdm": usdm = true
        default: throw CLIError("--market must be spot or usdm (got \(InputLimits.excerpt(market)))")
        }
        if !usdm, let flag = [("--mark-out", markOut), ("--funding-out", fundingOut)].first(where: { $0.1 != nil })?.0 {
            throw CLIError("\(flag) belongs to --market usdm (spot has no mark price or funding)")
        }
        let from = try Parse.timestamp(self.from, "--from")
        let markPath = usdm ? markOut ?? Self.beside(out, "mark") : nil
        let fundingPath = usdm ? fundingOut ?? Self.beside(out, "funding") : nil
        let outputs = try OutputFiles([("--out", out), ("--mark-out", markPath), ("--funding-out", fundingPath)], force: force)
        let now = Environment.now
        let to = try self.to.map { try Parse.timestamp($0, "--to") } ?? now
        guard from < to else { throw CLIError("--from must be before --to") }
        let offline = Environment.offline
        let history = try Environment.history()
        func fetch<T>(_ label: String, _ body: @escaping (ProgressBar) async throws -> T) async throws -> T {
            let progress = ProgressBar(label)
            guard offline else { return try await progress.download(resume: DataFetch.resumeHint) { try await body(progress) } }
            do { return try await body(progress) } catch let missing as CachedHistory.NotCached {
                throw CLIError("\(missing.description); NMRPERP_OFFLINE is set: unset it to fetch the rest")
            }
        }
        let series = try await fetch("fetching \(symbol) \(usdm ? "perp " : "")\(interval)") { progress in
            try await history.candles(
                usdm ? .usdm : .spot, symbol: symbol, interval: interval, from: from, to: to, now: now, offline: offline,
                progress: progress.update)
        }
        var mark: CandleSeries?
        var funding: [FundingRate]?
        if usdm {
            mark = try await fetch("fetching \(symbol) mark price \(interval)") { progress in
                try await history.candles(
                    .usdmMark, symbol: symbol, interval: interval, from: from, to: to, now: now, offline: offline, progress: progress.update
                )
            }
            funding = try await fetch("fetching \(symbol) funding") { progress in
                try await history.binanceFunding(symbol: symbol, from: from, to: to, now: now, offline: offline, progress: progress.update)
            }
        }
        try outputs.write { flag in
            switch flag {
            case "--mark-out": return Self.csv(mark ?? CandleSeries())
            case "--funding-out":
                var csv = "funding_time_ms,funding_time_utc,funding_rate,interval_hours\n"
                for rate in funding ?? [] {
                    csv += "\(rate.time.milliseconds),\(rate.time.iso8601),\(rate.rate),\(formatDouble(rate.interval.hours))\n"
                }
                return csv
            default: return Self.csv(series)
            }
        }
        let gaps = series.gaps()
        if json {
            func time(_ value: Int64?) -> JSONValue { value.map { .string(Timestamp(milliseconds: $0).iso8601) } ?? .null }
            var members: [(String, JSONValue)] = [
                ("market", .string(usdm ? "usdm" : "spot")), ("symbol", .string(symbol)), ("interval", .string(interval.description)),
                ("file", .string(out)), ("bars", .int(series.count)), ("start", time(series.openTimes.first)),
                ("end", time(series.openTimes.last)), ("gap_count", .int(gaps.count)),
            ]
            if let mark, let markPath { members += [("mark_file", .string(markPath)), ("mark_bars", .int(mark.count))] }
            if let funding, let fundingPath {
                members += [("funding_file", .string(fundingPath)), ("funding_settlements", .int(funding.count))]
            }
            members.append(("offline", .bool(offline)))
            emit(json: .object(members))
            return
        }
        print("wrote \(series.count) bars to \(out)" + (gaps.isEmpty ? "" : " (\(gaps.count) gaps in Binance's data, not bridged)"))
        if let mark, let markPath { print("wrote \(mark.count) mark-price bars to \(markPath)") }
        if let funding, let fundingPath { print("wrote \(funding.count) funding settlements to \(fundingPath)") }
        if offline { print("offline: answered from the cache in $NMRPERP_HOME/market.sqlite") }
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
                ("start", .string(first.iso8601), ""), ("end", .string(last.iso8601), ""),
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
                ("start", .string(firstRate.time.iso8601), ""), ("end", .string(lastRate.time.iso8601), ""),
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
        if let first = report.problems.first {
            // One line for a script or a log: how many, and the first (the rest are listed above).
            let count = "\(report.problems.count)\(report.truncated ? "+" : "") problem\(report.problems.count == 1 ? "" : "s")"
            let more = report.problems.count > 1 ? (json ? " (all in \"problems\")" : " (all listed above)") : ""
            throw CLIError("\(count)\(more); the first: \(first.description)")
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
