import PerpMarketData
import PerpModel

/// `stake --record FILE`: appends one `time_ms,value` row to the staked-NMR history through
/// ``SeriesFile`` (locked, checked, created whole, never a time twice; issue 11,
/// docs/decisions/0010-output-files.md). Errors name the flag.
enum StakeRecord {
    enum Outcome: Equatable {
        case created
        case appended(repairedNewline: Bool)
        /// Not written: the file already has a row at `last`, at or after the new row's time.
        case skipped(last: Int64)
    }

    /// Appends `time_ms,value` for `value` at `time` to `path`.
    static func append(value: String, at time: Timestamp, to path: String) throws -> Outcome {
        let appended: SeriesFile.Appended
        do { appended = try SeriesFile.append([(time.milliseconds, value)], to: path) } catch { throw CLIError("--record \(error)") }
        if appended.written == 0 { return .skipped(last: appended.last ?? time.milliseconds) }
        return appended.created ? .created : .appended(repairedNewline: appended.repairedNewline)
    }

    /// Checks `path` before the stake is fetched (``SeriesFile/precheck(_:)``).
    static func precheck(_ path: String) throws {
        do { try SeriesFile.precheck(path) } catch { throw CLIError("--record \(error)") }
    }
}
