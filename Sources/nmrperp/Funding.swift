import ArgumentParser
import Foundation
import PerpHedge
import PerpMarketData
import PerpModel
import PerpVenues

struct FundingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "funding",
        abstract: "Funding cost of the hedge: statistics of a funding history, and fetching one.",
        subcommands: [FundingStatsCommand.self, FundingFetch.self, FundingUnitsCommand.self])
}

struct FundingStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Daily funding in basis points: mean, standard deviation, APR and APY.",
        discussion: """
            The mean is time-weighted: the sum of all rates over the hours their intervals cover, \
            × 24, so partly covered first and last days weigh by the hours they have. The standard \
            deviation (sample) is over the complete UTC days, each day's rates summed (scaled to \
            24 h). APR = mean × 365, APY = (1 + mean)^365 − 1 (spec §1). Signs as the venue quotes \
            them: positive means longs pay shorts, so a positive figure is income for a short hedge \
            and a negative one its cost.

            Example:
              nmrperp funding stats \\
                  --data binance_usdm_NMRUSDT_funding_8h_2023-07_2023-08.csv --days 30
            """)

    @Option(help: "Funding history (CSV, Binance fundingRate JSON or Lighter fundings JSON).") var data: String
    @Option(help: "Use only the last N days of the file (all when absent).") var days: Int?
    @Option(help: "Interval of rows whose interval cannot be inferred (a lone row), e.g. 8h.") var defaultInterval: String = "8h"
    @OptionGroup var timeRange: HistoryRangeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let fallback = try Parse.span(defaultInterval, "--default-interval")
        if let days, days <= 0 { throw CLIError("--days must be a positive number of days (got \(days))") }
        let range = try timeRange.range()
        if days != nil && !range.isAll { throw CLIError("give either --days or --from/--to, not both") }
        let rates = try Load.funding(data, defaultInterval: fallback, flag: "--data", range: range)
        if rates.isEmpty && !range.isAll { throw CLIError("no funding settlement of \(data) falls inside \(range.flags)") }
        let stats: FundingStats
        do { stats = try FundingStats(rates: rates, lastDays: days) } catch { throw CLIError(String(describing: error)) }
        let intervals = Set(rates.filter { $0.time >= stats.first }.map(\.interval)).sorted()
        if json {
            emit(
                json: .object([
                    ("days", .int(stats.days.count)), ("complete_days", .int(stats.completeDays)),
                    ("covered_hours", .double(stats.coveredHours)), ("mean_bps_per_day", .double(stats.meanBpsPerDay)),
                    ("mean_method", .string("time-weighted: sum of rates / covered hours × 24")),
                    ("std_bps_per_day", stats.stdBpsPerDay.map { .double($0) } ?? .null), ("apr", .double(stats.apr)),
                    ("apy", .double(stats.apy)),
                    ("settlements", .int(stats.settlements)), ("partial_days", .int(stats.partialDays)),
                    ("start", .string(stats.first.iso8601)), ("end", .string(stats.last.iso8601)),
                    ("intervals", .array(intervals.map { .string($0.description) })),
                    (
                        "daily",
                        .array(
                            stats.days.map {
                                .object([
                                    ("date", .string(Timestamp(milliseconds: $0.day * 86_400_000).isoDate)),
                                    ("rate_bps", .double($0.rate.basisPoints)), ("settlements", .int($0.settlements)),
                                    ("covered_hours", .double($0.coveredHours)), ("complete", .bool($0.isComplete)),
                                ])
                            })
                    ),
                ]))
            return
        }
        let side = stats.meanBpsPerDay >= 0 ? "a short receives this on average" : "a short pays this on average"
        print(
            TextTable.pairs([
                (
                    "days",
                    "\(stats.days.count) (\(stats.first.isoDate) to \(stats.last.isoDate); \(stats.settlements) settlements every \(intervals.map(\.description).joined(separator: "/")))"
                ),
                (
                    "mean",
                    "\(formatFixed(stats.meanBpsPerDay, 2)) bps/day  (\(side); time-weighted over \(formatFixed(stats.coveredHours, 0)) hours)"
                ),
                (
                    "std",
                    stats.stdBpsPerDay.map { "\(formatFixed($0, 2)) bps/day (sample, \(stats.completeDays) complete days)" }
                        ?? "n/a (fewer than two complete days)"
                ),
                ("APR", "\(percent(stats.apr)) = mean × 365"),
                ("APY", "\(percent(stats.apy)) = (1 + mean)^365 − 1"),
            ]))
        if stats.partialDays > 0 {
            print(
                "note: \(stats.partialDays) day(s) are only partly covered by the data (usually the first and last): they count by the hours they cover in the mean and are left out of the std"
            )
        }
    }
}

struct FundingFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a funding history (Lighter hourly, or Binance USD-M) to CSV, cached locally.",
        discussion: """
            Lighter keeps about 30 days of hourly funding. Writes funding_time_ms, funding_time_utc, \
            funding_rate (a signed fraction, positive: longs pay), interval_hours.

            Example:
              nmrperp funding fetch --venue lighter --days 30 \\
                  --out lighter_nmr_funding.csv
            """)

    @Option(help: "lighter or binance.") var venue: String = "lighter"
    @Option(help: "Lighter market id (NMR is 74).") var market: Int = 74
    @Option(help: "Binance USD-M symbol.") var symbol: String = "NMRUSDT"
    @Option(help: "How many days back from now.") var days: Int = 30
    @Option(help: "CSV file to write.") var out: String
    @Flag(help: "Replace output files that already exist.") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard (1...36_525).contains(days) else { throw CLIError("--days must be between 1 and 36525 (100 years) (got \(days))") }
        let lowered = venue.lowercased()
        guard ["lighter", "binance", "binance-usdm"].contains(lowered) else {
            throw CLIError("--venue must be lighter or binance (got \(InputLimits.excerpt(venue)))")
        }
        let outputs = try OutputFiles([("--out", out)], force: force)
        try Environment.requireNetwork("funding fetch")
        let now = Environment.now
        let history = try Environment.history()
        let progress = ProgressBar("fetching funding")
        let rates: [FundingRate] = try await progress.download(resume: DataFetch.resumeHint) {
            if lowered == "lighter" {
                return try await history.lighterFunding(
                    marketID: market, from: now - .days(Int64(days)), to: now, now: now, progress: progress.update)
            }
            return try await history.binanceFunding(
                symbol: symbol, from: now - .days(Int64(days)), to: now, now: now, progress: progress.update)
        }
        var csv = "funding_time_ms,funding_time_utc,funding_rate,interval_hours\n"
        for rate in rates {
            csv += "\(rate.time.milliseconds),\(rate.time.iso8601),\(rate.rate),\(formatDouble(rate.interval.hours))\n"
        }
        try outputs.write { _ in csv }
        announce(
            "wrote \(rates.count) funding rates to \(out)", json: json,
            [
                ("venue", .string(lowered == "lighter" ? "lighter" : "binance-usdm")), ("file", .string(out)),
                ("settlements", .int(rates.count)), ("start", rates.first.map { .string($0.time.iso8601) } ?? .null),
                ("end", rates.last.map { .string($0.time.iso8601) } ?? .null),
            ])
    }
}

struct FundingUnitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "units",
        abstract: "Cross-check Lighter's funding units live: the newest hourly row against the funding-rates snapshot.",
        discussion: """
            Lighter's `fundings` history is read as percent per hour and its `funding-rates` snapshot \
            as a fraction per 8 hours; a units mistake shows as a round factor (100, 8, 24) between \
            them. Exits with status 3 when they disagree by such a factor.
            """)
    @Option(help: "Lighter market id (NMR is 74).") var market: Int = 74
    @Flag(help: "Print JSON (exit status 3 still says a units error).") var json = false

    func run() async throws {
        try Environment.requireNetwork("funding units")
        let client = LighterClient(baseURL: VenueEndpoints.fromEnvironment().lighter)
        let (verdict, line) = try await client.checkFundingUnits(marketID: market, now: Environment.now)
        let members: [(String, JSONValue)]
        switch verdict {
        case .consistent(let ratio): members = [("verdict", .string("consistent")), ("ratio", .double(ratio, significant: 6))]
        case .factor(let factor, let ratio):
            members = [("verdict", .string("units_error")), ("factor", .double(factor)), ("ratio", .double(ratio, significant: 6))]
        case .inconclusive: members = [("verdict", .string("inconclusive"))]
        }
        announce(line, json: json, [("market", .int(market))] + members)
        if case .factor = verdict { throw ExitCode(3) }
    }
}
