import PerpModel

/// How much of a price history a funding history covers, so that a backtest never passes off
/// "no funding paid" as "no funding due" (issue 10, point 7a).
///
/// The settlements that can pay are those after the first bar's open and at or before the last
/// bar's open: the simulators (decision 0004; the hedge simulation alike) settle each rate at
/// the first bar open at or after its time, and at the first bar's open nothing is held yet.
/// Each settlement pays for the interval before it (spec §3: a rate per interval; every rate
/// carries its own). So, with the paying settlements `t₁ … tₘ`:
///
/// - funding covers `[t₁ − interval₁, tₘ]`;
/// - the start is *missing* when `t₁ − interval₁` is after the first bar's open (the settlement
///   before `t₁` would have paid inside the data but is not in the file);
/// - the end is *missing* when `tₘ + intervalₘ` is at or before the last bar's open;
/// - a *hole* is two consecutive settlements further apart than the later one's interval.
///
/// Venue settlement times carry a few milliseconds of jitter (Binance's `…00:00.006`), so each
/// comparison allows ``jitter``.
public struct FundingCoverage: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable {
        /// No funding history was given.
        case noFile = "no_file"
        /// The file has no settlement that can pay inside the price history.
        case none
        /// Some settlements pay, but the file misses the start, the end or a hole in between.
        case partial
        /// Every settlement due inside the price history is there.
        case full
    }

    /// Slack for the clock jitter of venue settlement times: one minute.
    public static let jitter: Int64 = 60_000

    public var status: Status
    /// First and last bar's open times.
    public var priceFrom: Timestamp
    public var priceTo: Timestamp
    /// Settlements that can pay (after the first bar's open, at or before the last bar's open).
    public var settlements: Int
    /// Start of the first paying settlement's interval, and the last paying settlement.
    public var coveredFrom: Timestamp?
    public var coveredTo: Timestamp?
    /// Time without funding before `coveredFrom` and after `coveredTo` (zero when not missing).
    public var missingAtStart: TimeSpan
    public var missingAtEnd: TimeSpan
    /// Gaps between settlements longer than their interval, and the time they leave uncovered.
    public var holes: Int
    public var holeTime: TimeSpan

    /// The coverage of the bars from `firstOpen` to `lastOpen` by `rates` (`nil`: no file given).
    public init(firstOpen: Timestamp, lastOpen: Timestamp, rates: [FundingRate]?) {
        priceFrom = firstOpen
        priceTo = lastOpen
        settlements = 0
        missingAtStart = TimeSpan(milliseconds: 0)
        missingAtEnd = TimeSpan(milliseconds: 0)
        holes = 0
        holeTime = TimeSpan(milliseconds: 0)
        guard let rates else {
            status = .noFile
            return
        }
        let first = firstOpen.milliseconds
        let last = lastOpen.milliseconds
        let paying = rates.filter { $0.time.milliseconds > first && $0.time.milliseconds <= last }.sorted { $0.time < $1.time }
        guard let head = paying.first, let tail = paying.last else {
            status = .none
            return
        }
        settlements = paying.count
        let from = head.time.milliseconds - head.interval.milliseconds
        coveredFrom = Timestamp(milliseconds: max(from, first))
        coveredTo = tail.time
        if from - first > Self.jitter { missingAtStart = TimeSpan(milliseconds: from - first) }
        if tail.time.milliseconds + tail.interval.milliseconds <= last {
            missingAtEnd = TimeSpan(milliseconds: last - tail.time.milliseconds)
        }
        var uncovered: Int64 = 0
        for index in paying.indices.dropFirst() {
            let gap = paying[index].time.milliseconds - paying[index - 1].time.milliseconds
            let excess = gap - paying[index].interval.milliseconds
            if excess > Self.jitter {
                holes += 1
                uncovered += excess
            }
        }
        holeTime = TimeSpan(milliseconds: uncovered)
        status = missingAtStart.milliseconds > 0 || missingAtEnd.milliseconds > 0 || holes > 0 ? .partial : .full
    }

    /// The coverage of `series` (at least one bar) by `rates`.
    public init(series: CandleSeries, rates: [FundingRate]?) {
        precondition(series.count > 0, "a funding coverage needs at least one bar")
        self.init(
            firstOpen: Timestamp(milliseconds: series.openTimes[0]), lastOpen: Timestamp(milliseconds: series.openTimes[series.count - 1]),
            rates: rates)
    }

    /// What a user must be told, one sentence per item; empty when the coverage is full.
    /// `source` names the funding file, `option` the flag that gives one.
    public func notes(source: String?, option: String = "--funding") -> [String] {
        let span = "\(priceFrom.iso8601) to \(priceTo.iso8601)"
        switch status {
        case .full:
            return []
        case .noFile:
            return ["no \(option) file: funding is not included (fetch one with `nmrperp funding fetch`)"]
        case .none:
            return ["\(source ?? "the funding file") has no settlement between the first and last bar (\(span)): no funding was paid"]
        case .partial:
            var missing: [String] = []
            if missingAtStart.milliseconds > 0 { missing.append("\(Self.readable(missingAtStart)) at the start") }
            if missingAtEnd.milliseconds > 0 { missing.append("\(Self.readable(missingAtEnd)) at the end") }
            if holes > 0 { missing.append("\(Self.readable(holeTime)) in \(holes) gap(s) between settlements") }
            let covered = "\(coveredFrom?.iso8601 ?? "?") to \(coveredTo?.iso8601 ?? "?")"
            return [
                "funding covers only \(covered) of the price history \(span) (\(source ?? "funding file")): \(missing.joined(separator: ", ")) have no funding"
            ]
        }
    }

    /// "3.5 days" from two days up, else "7.0 h" (tenths, rounded half up).
    static func readable(_ span: TimeSpan) -> String {
        let ms = span.milliseconds
        if ms >= 2 * 86_400_000 {
            let tenths = (ms + 4_320_000) / 8_640_000
            return "\(tenths / 10).\(tenths % 10) days"
        }
        let tenths = (ms + 180_000) / 360_000
        return "\(tenths / 10).\(tenths % 10) h"
    }

    /// The coverage as a JSON object (times ISO 8601, spans in hours).
    public func json(source: String?) -> JSONValue {
        .object([
            ("status", .string(status.rawValue)), ("file", source.map { .string($0) } ?? .null),
            ("price_start", .string(priceFrom.iso8601)), ("price_end", .string(priceTo.iso8601)),
            ("settlements", .int(settlements)), ("covered_start", coveredFrom.map { .string($0.iso8601) } ?? .null),
            ("covered_end", coveredTo.map { .string($0.iso8601) } ?? .null),
            ("missing_start_hours", .double(missingAtStart.hours)), ("missing_end_hours", .double(missingAtEnd.hours)),
            ("holes", .int(holes)), ("hole_hours", .double(holeTime.hours)),
        ])
    }
}
