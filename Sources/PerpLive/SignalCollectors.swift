import Foundation
import PerpMarketData
import PerpModel
import PerpSignals
import PerpVenues

/// What a collector is asked for (issue 16; docs/decisions/0020-signal-collectors.md).
public struct CollectRequest: Sendable {
    /// The collector's clock.
    public var now: Timestamp
    /// A backfill's start: collect history from here (`nil`: only what is new since the files'
    /// last rows, or a recent window on the first run).
    public var from: Timestamp?
    /// The time of each of the collector's files' last row (missing: no file or no rows).
    public var last: [String: Int64]
    /// What the collector saved after its last run (`nil` the first time).
    public var state: JSONValue?
    /// Progress lines for long work (a backfill's pages or blocks).
    public var progress: @Sendable (String) -> Void

    public init(
        now: Timestamp, from: Timestamp? = nil, last: [String: Int64] = [:], state: JSONValue? = nil,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.now = now
        self.from = from
        self.last = last
        self.state = state
        self.progress = progress
    }
}

/// What a collector found: rows per series file, its state for the next run, a summary line.
public struct CollectResult: Sendable {
    public var rows: [String: [(time: Int64, value: String)]]
    /// Events for the folder's `calendar.csv` (merged: each (time, kind) once).
    public var events: [CalendarEvent]
    public var state: JSONValue?
    public var summary: String

    public init(
        rows: [String: [(time: Int64, value: String)]], events: [CalendarEvent] = [], state: JSONValue? = nil, summary: String
    ) {
        self.rows = rows
        self.events = events
        self.state = state
        self.summary = summary
    }
}

/// One source of NMR's own data, writing `time,value` series that `--signals DIR` reads.
public protocol SignalCollector: Sendable {
    /// The name `--source` takes and the state file's name.
    var source: String { get }
    /// The series files it writes (`NAME.csv`).
    var series: [String] { get }
    /// How often `signals collect` asks it.
    var every: TimeSpan { get }
    /// Whether it can reach into the past (`signals backfill`).
    var hasHistory: Bool { get }
    func collect(_ request: CollectRequest) async throws -> CollectResult
}

/// What one source's run did.
public struct CollectOutcome: Sendable {
    public var source: String
    /// Rows written per series.
    public var written: [String: Int]
    public var summary: String
    /// Why it failed (`nil`: it ran).
    public var failure: String?
}

/// Runs collectors against a folder of series files: reads each file's last time and the
/// collector's saved state, appends (or, for a backfill, merges) the rows, then saves the state.
/// The state is saved only after the rows are on disk, so a run killed at any point is followed
/// by one that writes exactly what is missing (``SeriesFile`` never writes a time twice).
public struct SignalCollection: Sendable {
    public let folder: String
    public let collectors: [any SignalCollector]

    public init(folder: String, collectors: [any SignalCollector]) {
        self.folder = folder
        self.collectors = collectors
    }

    public func path(of series: String) -> String { (folder as NSString).appendingPathComponent(series + ".csv") }
    var stateFolder: String { (folder as NSString).appendingPathComponent(".collect") }
    func statePath(of source: String) -> String { (stateFolder as NSString).appendingPathComponent(source + ".json") }

    /// Checks the folder and every file before anything is fetched.
    public func precheck() throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw SeriesFile.Failure("\(folder): no such folder; create it or give another --out")
        }
        for collector in collectors {
            for series in collector.series { try SeriesFile.precheck(path(of: series)) }
        }
    }

    /// One run of `collector`; failures are returned, not thrown, so one source's outage never
    /// stops the others.
    public func run(
        _ collector: any SignalCollector, now: Timestamp, from: Timestamp? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async -> CollectOutcome {
        do {
            var last: [String: Int64] = [:]
            for series in collector.series { last[series] = try SeriesFile.lastTime(path(of: series)) }
            let state = readState(collector.source)
            let result = try await collector.collect(
                CollectRequest(now: now, from: from, last: last, state: state, progress: progress))
            var written: [String: Int] = [:]
            for series in collector.series {
                let rows = result.rows[series] ?? []
                guard !rows.isEmpty else {
                    written[series] = 0
                    continue
                }
                let outcome =
                    from == nil ? try SeriesFile.append(rows, to: path(of: series)) : try SeriesFile.merge(rows, into: path(of: series))
                written[series] = outcome.written
            }
            if !result.events.isEmpty {
                written["calendar"] = try CalendarFile.merge(
                    result.events, into: (folder as NSString).appendingPathComponent(CalendarFile.name))
            }
            if let state = result.state { try writeState(state, source: collector.source) }
            return CollectOutcome(source: collector.source, written: written, summary: result.summary, failure: nil)
        } catch {
            return CollectOutcome(source: collector.source, written: [:], summary: "", failure: String(describing: error))
        }
    }

    func readState(_ source: String) -> JSONValue? {
        guard let bytes = try? MarketDataFiles.readBytes(statePath(of: source), limit: 1 << 20) else { return nil }
        return try? JSONParser.parse(bytes)
    }

    /// Saves a collector's state whole or not at all (a synced temporary file renamed into place).
    func writeState(_ state: JSONValue, source: String) throws {
        try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
        let path = statePath(of: source)
        func failure(_ what: String) -> SeriesFile.Failure {
            SeriesFile.Failure("\(path): \(what) the collector's state: \(String(cString: strerror(errno)))")
        }
        guard let (descriptor, temporary) = DurableWrite.temporaryFile(beside: path, folder: stateFolder) else { throw failure("creating") }
        defer { unlink(temporary) }
        let written = DurableWrite.all(state.serialized(pretty: false), to: descriptor)
        let synced = written == nil && fsync(descriptor) == 0
        close(descriptor)
        if let written { errno = written }
        guard synced else { throw failure("writing") }
        guard rename(temporary, path) == 0 else { throw failure("saving") }
        DurableWrite.syncFolder(stateFolder)
    }
}

/// A number for a series file: up to six decimals, no exponent.
func seriesValue(_ value: Double) -> String { SeriesFile.format(value) ?? "0" }
