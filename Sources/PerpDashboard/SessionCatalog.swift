import Foundation
import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpModel
import PerpReports
import PerpStore

/// The kinds of session the dashboard shows, each a folder under `$NMRPERP_HOME` (backtests
/// are the runs of `journal.sqlite`).
public enum SessionKind: String, Sendable, CaseIterable, Comparable {
    case paper, live, hedge, backtest

    public static func < (a: SessionKind, b: SessionKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A session as the dashboard names it: `paper/main`, `hedge/stake`, `backtest/RUN`.
public struct SessionKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var kind: SessionKind
    public var name: String

    public init(kind: SessionKind, name: String) {
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind.rawValue)/\(name)" }

    public static func < (a: SessionKey, b: SessionKey) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// Every session under `$NMRPERP_HOME`, read from the files the sessions write (WAL readers; the
/// dashboard keeps no copy of its own beyond the folded state). ``refresh()`` finds new files,
/// asks each open one whether it changed (one indexed query) and folds only the new inputs.
/// A file that cannot be read shows as unreadable with the reason; the others are unaffected.
public actor SessionCatalog {
    public let home: String
    let clock: @Sendable () -> Timestamp
    var entries: [SessionKey: Entry] = [:]
    private var journalMarker: Int64??
    private var journal: JournalStore?
    var backtests: [String: [JournalEntry]] = [:]

    struct Entry {
        var path: String
        var store: LiveStore?
        var marker: [Int64] = []
        var content: Content = .none
        var problem: String?
        /// Set when the file could not be opened: tried again at most every few seconds.
        var retryAfter: Timestamp?
        var failures = 0
    }

    enum Content {
        case none
        case trading(TradingView)
        case hedge(HedgeView)
        case legacyPaper
    }

    struct TradingView {
        var info: LiveSessionInfo
        var bot: BotConfig
        var rules: MarketRules?
        var replay: TradingReplay?
        var status: (time: Timestamp, json: JSONValue)?
        var replayProblem: String?
    }

    struct HedgeView {
        var info: LiveSessionInfo
        var config: HedgeSessionConfig
        var replay: HedgeReplay
        var status: (time: Timestamp, json: JSONValue)?
    }

    /// How long a read waits for a lock another process holds before the session is shown as
    /// locked.
    static let busyTimeout = 0.3

    public init(home: String, clock: @escaping @Sendable () -> Timestamp) {
        self.home = home
        self.clock = clock
    }

    // MARK: - Discovery and refresh

    /// Finds new and removed session files and folds what changed. Returns the sessions that
    /// changed (new rows, a new status, a new file, a new problem).
    @discardableResult
    public func refresh() -> [SessionKey] {
        var changed: [SessionKey] = []
        var seen: Set<SessionKey> = []
        for kind in [SessionKind.paper, .live, .hedge] {
            let folder = home + "/" + kind.rawValue
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for file in names where file.hasSuffix(".sqlite") {
                let name = String(file.dropLast(".sqlite".count))
                guard !name.isEmpty else { continue }
                let key = SessionKey(kind: kind, name: name)
                seen.insert(key)
                if refreshFile(key, path: folder + "/" + file) { changed.append(key) }
            }
        }
        // A session whose file went away stays listed, as unreadable, until it comes back.
        for key in entries.keys where key.kind != .backtest && !seen.contains(key) {
            guard var entry = entries[key], entry.store != nil || entry.problem?.hasPrefix("the file is gone") != true else { continue }
            entry.store = nil
            entry.content = .none
            entry.marker = []
            entry.retryAfter = nil
            entry.problem = "the file is gone (deleted or moved): \(entry.path)"
            entries[key] = entry
            changed.append(key)
        }
        changed += refreshBacktests()
        return changed.sorted()
    }

    private func refreshFile(_ key: SessionKey, path: String) -> Bool {
        var entry = entries[key] ?? Entry(path: path)
        let isNew = entries[key] == nil
        let now = clock()
        if entry.store == nil {
            if let retry = entry.retryAfter, now < retry, !isNew { return false }
            let before = entry.problem
            open(&entry, key: key)
            entries[key] = entry
            return isNew || entry.problem != before || entry.store != nil
        }
        guard let store = entry.store else { return false }
        if let retry = entry.retryAfter, now < retry { return false }
        let marker: [Int64]
        do { marker = try store.changeMarker() } catch {
            // Locked by another process, or broken since it was opened: shown, and asked again
            // in a few seconds rather than holding up every page.
            let problem = "\(error)"
            let changed = entry.problem != problem
            entry.problem = problem
            entry.retryAfter = now + .seconds(3)
            entries[key] = entry
            return changed
        }
        entry.retryAfter = nil
        guard marker != entry.marker else {
            if entry.problem != nil && !isNew { return false }
            return isNew
        }
        entry.marker = marker
        entry.problem = nil
        load(&entry, store: store)
        entries[key] = entry
        return true
    }

    /// Opens a session file and reads its settings; a file that is not one, is locked, corrupt
    /// or from a newer build is kept as unreadable with the reason.
    private func open(_ entry: inout Entry, key: SessionKey) {
        do {
            let store = try LiveStore(existing: entry.path, busyTimeout: Self.busyTimeout)
            guard let info = try store.info() else {
                entry.problem = "the file holds no session settings yet"
                entry.retryAfter = clock() + .seconds(2)
                return
            }
            switch key.kind {
            case .hedge:
                guard let config = HedgeSessionConfig.parse(info.configText) else {
                    entry.problem = "the file's settings do not read as a hedge session's"
                    return
                }
                entry.content = .hedge(HedgeView(info: info, config: config, replay: HedgeReplay(settings: config.settings)))
            default:
                let (bot, problems) = try BotConfigFile.parse(yaml: info.configText, file: entry.path + " (stored configuration)")
                guard problems.isEmpty else {
                    entry.problem =
                        "its stored configuration has problems: \(problems.map { "\($0.key): \($0.message)" }.joined(separator: "; "))"
                    return
                }
                let rules = PaperVenueSettings.parse(info.venue, symbol: info.symbol)?.rules
                entry.content = .trading(TradingView(info: info, bot: bot, rules: rules))
            }
            entry.store = store
            entry.problem = nil
            entry.retryAfter = nil
            entry.failures = 0
            entry.marker = []
            load(&entry, store: store)
            entry.marker = (try? store.changeMarker()) ?? []
        } catch let error as StoreError {
            let otherKind = error.description.contains("another kind of NMRPerp file")
            if key.kind == .paper, otherKind, (try? PaperStore(existing: entry.path)) != nil {
                entry.content = .legacyPaper
                entry.problem =
                    "a paper session from before paper trading moved onto the execution layer: `nmrperp paper status --name \(key.name)` reads it"
                entry.retryAfter = clock() + .seconds(3600)
                return
            }
            entry.problem = error.description
            entry.failures += 1
            // Tried again after 2, 4, 8 … up to 60 seconds: a locked file costs a failed open
            // (a fraction of a second) only now and then.
            entry.retryAfter = clock() + .seconds(Int64(min(60, 1 << min(entry.failures, 6))))
        } catch {
            entry.problem = "\(error)"
            entry.retryAfter = clock() + .seconds(2)
        }
    }

    /// Reads the status and folds the new inputs.
    private func load(_ entry: inout Entry, store: LiveStore) {
        let status: (time: Timestamp, json: JSONValue)? = (try? store.status()).flatMap { stored in
            stored.flatMap { value in (try? JSONParser.parse(value.json)).map { (value.time, $0) } }
        }
        switch entry.content {
        case .trading(var view):
            view.status = status
            if view.rules == nil, let rules = LiveStatus.rules(from: status?.json["rules"]) { view.rules = rules }
            if view.replay == nil, let rules = view.rules {
                view.replay = TradingReplay(bot: view.bot, info: view.info, rules: rules)
            }
            if var replay = view.replay {
                do {
                    _ = try replay.catchUp(store)
                    view.replayProblem = nil
                } catch {
                    view.replayProblem = "its stored inputs could not be read back: \(error)"
                }
                view.replay = replay
            } else {
                view.replayProblem =
                    "the equity history needs the venue's trading rules, which this session has not stored yet (they are written with its next status)"
            }
            entry.content = .trading(view)
        case .hedge(var view):
            view.status = status
            do { _ = try view.replay.catchUp(store) } catch { entry.problem = "its stored inputs could not be read back: \(error)" }
            entry.content = .hedge(view)
        case .legacyPaper, .none:
            break
        }
    }

    private func refreshBacktests() -> [SessionKey] {
        let path = home + "/journal.sqlite"
        let key = SessionKey(kind: .backtest, name: "journal.sqlite")
        guard FileManager.default.fileExists(atPath: path) else {
            let gone = entries.keys.filter { $0.kind == .backtest } + backtests.keys.map { SessionKey(kind: .backtest, name: $0) }
            for key in gone where key.kind == .backtest { entries[key] = nil }
            backtests = [:]
            journal = nil
            journalMarker = nil
            return gone
        }
        let now = clock()
        if let retry = entries[key]?.retryAfter, now < retry { return [] }
        do {
            let store = try journal ?? JournalStore(path: path, busyTimeout: Self.busyTimeout)
            journal = store
            let last = try store.lastEntryID()
            entries[key] = nil
            guard last != journalMarker else { return [] }
            journalMarker = last
            var changed: [SessionKey] = []
            for run in try store.runs() where backtests[run] == nil {
                backtests[run] = try store.entries(run: run)
                changed.append(SessionKey(kind: .backtest, name: run))
            }
            return changed
        } catch {
            journal = nil
            entries[key] = Entry(path: path, problem: "\(error)", retryAfter: now + .seconds(5))
            return [key]
        }
    }

    // MARK: - Reading

    public var keys: [SessionKey] {
        (Array(entries.keys) + backtests.keys.map { SessionKey(kind: .backtest, name: $0) }).sorted()
    }

    /// The key a request names: `KIND/NAME`, or a bare `NAME` that only one session has.
    public func resolve(kind: String?, name: String) -> SessionKey? {
        if let kind {
            guard let kind = SessionKind(rawValue: kind) else { return nil }
            let key = SessionKey(kind: kind, name: name)
            return keys.contains(key) ? key : nil
        }
        let matches = keys.filter { $0.name == name }
        return matches.count == 1 ? matches[0] : nil
    }

    public func path(of key: SessionKey) -> String? {
        key.kind == .backtest ? home + "/journal.sqlite" : entries[key]?.path
    }

    public func canStop(_ key: SessionKey) -> Bool {
        guard key.kind != .backtest, let entry = entries[key], entry.store != nil else { return false }
        if case .legacyPaper = entry.content { return false }
        return true
    }
}
