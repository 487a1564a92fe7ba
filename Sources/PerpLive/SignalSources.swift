import Foundation
import PerpEngine
import PerpMarketData
import PerpModel
import PerpVenues

/// Where paper trading reads the signals that do not come from the market (spec §4: staked
/// NMR, tournament activity, sentiment). What a source returns is stored as events, so a
/// restart replays exactly what the bot saw, even if the source has changed since.
public protocol SignalSource: Sendable {
    /// Values published after `last[series]` and at or before `now`, oldest first per series.
    func observations(after last: [ExternalSignal: Timestamp], now: Timestamp) async throws -> [(
        signal: ExternalSignal, value: Double, time: Timestamp
    )]
    /// The calendar's events as the source knows them now (the session keeps each once).
    func calendar() throws -> [CalendarEvent]
}

extension SignalSource {
    public func calendar() throws -> [CalendarEvent] { [] }
}

/// `DIR/{staked,activity,sentiment,exchange_netflow}.csv` (time,value), read again at every poll: lines added
/// since the last poll become observations. Missing files are skipped.
public struct SignalFilesSource: SignalSource {
    public let folder: String

    public init(folder: String) { self.folder = folder }

    public func observations(after last: [ExternalSignal: Timestamp], now: Timestamp) async throws -> [(
        signal: ExternalSignal, value: Double, time: Timestamp
    )] {
        var result: [(signal: ExternalSignal, value: Double, time: Timestamp)] = []
        for signal in ExternalSignal.allCases {
            let path = (folder as NSString).appendingPathComponent(signal.rawValue + ".csv")
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let points = try ValueSeriesCSV.parse(MarketDataFiles.readBytes(path), source: path)
            let after = last[signal]?.milliseconds ?? Int64.min
            for point in SignalSeries(points).points where point.time > after && point.time <= now.milliseconds {
                result.append((signal, point.value, Timestamp(milliseconds: point.time)))
            }
        }
        return result
    }

    /// `DIR/calendar.csv` (``CalendarFile``), when there is one.
    public func calendar() throws -> [CalendarEvent] {
        let path = (folder as NSString).appendingPathComponent(CalendarFile.name)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try CalendarFile.parse(MarketDataFiles.readBytes(path), source: path)
    }
}

/// The summed stake of named Numerai models (`v3UserProfile.stakeValue`), read at most once per
/// `every`: the staked-NMR signal from the Numerai API (spec §4).
public struct NumeraiStakeSource: SignalSource {
    public let client: NumeraiClient
    public let models: [ModelName]
    public let tournament: NumeraiTournament
    public let every: TimeSpan

    public init(client: NumeraiClient, models: [ModelName], tournament: NumeraiTournament = .classic, every: TimeSpan = .hours(1)) {
        self.client = client
        self.models = models
        self.tournament = tournament
        self.every = every
    }

    public func observations(after last: [ExternalSignal: Timestamp], now: Timestamp) async throws -> [(
        signal: ExternalSignal, value: Double, time: Timestamp
    )] {
        if let previous = last[.staked], now - previous < every { return [] }
        var total = Quantity.zero
        for model in models { total = total + (try await client.stake(model: model, tournament: tournament)) }
        return [(.staked, total.doubleValue, now)]
    }
}
