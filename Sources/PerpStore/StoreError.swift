import PerpModel

/// Why a ``MarketDataStore`` operation failed. Every case prints as one line that says what
/// was being done and why it failed.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database file could not be created or opened (missing permissions, a file where a
    /// folder should be, a locked file).
    case cannotOpen(path: String, reason: String)
    /// The file is not an SQLite database, or its pages are damaged.
    case corrupt(path: String, reason: String)
    /// The database holds migrations that this build does not know: a newer NMRPerp wrote it.
    case newerSchema(path: String, unknownMigrations: [String])
    /// A time range whose start is after its end.
    case invalidRange(from: Timestamp, to: Timestamp)
    /// A series key the store cannot hold (for example a non-positive interval).
    case invalidKey(SeriesKey, reason: String)
    /// A bar that breaks the candle invariants (times strictly increasing, prices positive,
    /// `low ≤ open, close ≤ high`, volume not negative). `index` is its position in the series.
    case invalidCandle(SeriesKey, index: Int, openTime: Timestamp, reason: String)
    /// A funding settlement the store cannot hold (for example a non-positive interval).
    case invalidFunding(SeriesKey, index: Int, time: Timestamp, reason: String)
    /// Any other SQLite failure, with the operation that hit it.
    case database(operation: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "cannot open database at \(path): \(reason)"
        case .corrupt(let path, let reason):
            return "database at \(path) is corrupt: \(reason)"
        case .newerSchema(let path, let unknown):
            return "database at \(path) was written by a newer NMRPerp (unknown migrations: "
                + unknown.joined(separator: ", ") + "); refusing to use it"
        case .invalidRange(let from, let to):
            return "invalid time range [\(from), \(to)): start is after end"
        case .invalidKey(let key, let reason):
            return "invalid series key \(key): \(reason)"
        case .invalidCandle(let key, let index, let openTime, let reason):
            return "invalid candle #\(index) at \(openTime) in \(key): \(reason)"
        case .invalidFunding(let key, let index, let time, let reason):
            return "invalid funding rate #\(index) at \(time) in \(key): \(reason)"
        case .database(let operation, let reason):
            return "database error while \(operation): \(reason)"
        }
    }
}
