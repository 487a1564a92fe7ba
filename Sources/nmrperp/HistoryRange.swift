import ArgumentParser
import PerpModel

/// `--from` / `--to`: the part of a history a command reads (issue 15, "Time ranges"; what
/// freqtrade calls `--timerange`). Both are UTC dates or times; `--from` is included, `--to` is
/// not, so `--from 2025-01-01 --to 2025-04-01` is the first quarter.
struct HistoryRangeOptions: ParsableArguments {
    @Option(help: "Read history from this UTC date or time on (2025-01-01 or 2025-01-01T12:00:00Z).")
    var from: String?
    @Option(help: "Read history before this UTC date or time, which is left out (--to 2025-04-01 ends with March).")
    var to: String?

    /// The checked range (``HistoryRange/all`` when neither flag is given).
    func range() throws -> HistoryRange {
        let from = try self.from.map { try Parse.timestamp($0, "--from") }
        let to = try self.to.map { try Parse.timestamp($0, "--to") }
        if let from, let to, from >= to {
            throw CLIError("--from must be before --to (got --from \(self.from ?? "") --to \(self.to ?? ""))")
        }
        return HistoryRange(from: from, to: to)
    }
}

/// A half-open span of time `[from, to)`; either end may be open.
struct HistoryRange: Sendable {
    var from: Timestamp?
    var to: Timestamp?

    static let all = HistoryRange(from: nil, to: nil)

    var isAll: Bool { from == nil && to == nil }

    /// "--from 2025-01-01 --to 2025-04-01", for messages.
    var flags: String {
        [from.map { "--from \($0.iso8601)" }, to.map { "--to \($0.iso8601)" }].compactMap { $0 }.joined(separator: " ")
    }

    func contains(_ time: Timestamp) -> Bool {
        if let from, time < from { return false }
        if let to, time >= to { return false }
        return true
    }

    /// The bars that open inside the range; an error naming the file's own span when none do.
    func candles(_ series: CandleSeries, source: String) throws -> CandleSeries {
        guard !isAll else { return series }
        let slice = series.slice(from: from, to: to)
        guard slice.isEmpty else { return slice }
        let span =
            series.isEmpty
            ? "it holds no bars"
            : "it covers \(Timestamp(milliseconds: series.openTimes[0]).iso8601) to \(Timestamp(milliseconds: series.openTimes[series.count - 1]).iso8601)"
        throw CLIError("no bar of \(source) opens inside \(flags) (\(span))")
    }

    /// The funding settlements inside the range.
    func funding(_ rates: [FundingRate]) -> [FundingRate] {
        isAll ? rates : rates.filter { contains($0.time) }
    }
}
