import Dispatch
import Foundation
import PerpConfig
import PerpEngine
import PerpMarketData
import PerpModel
import PerpReports
import PerpSimulation

/// A parameter sweep (issue 15, "Optimisation"): a grid over any numeric setting a strategy
/// reads, `fast`, `slow` and `leverage` for sma-cross, `leverage` for hold-short, every key of
/// the bot configuration for nmr-bot (`risk.stop_loss=0.015..0.035:0.005`), run on every core,
/// ranked by one objective. With `--walk-forward` the parameters are chosen on each training
/// window and only the following test window's result is reported
/// (docs/decisions/0017-sweeps-and-shipped-history.md).
struct SweepGrid {
    /// One key and the values it takes, as text (a range is expanded exactly).
    struct Axis {
        var key: String
        var values: [String]
    }

    var axes: [Axis]

    /// Every combination, in the grid's order (the last axis varies fastest).
    var points: [[(key: String, value: String)]] {
        var result: [[(key: String, value: String)]] = [[]]
        for axis in axes {
            result = result.flatMap { point in axis.values.map { point + [(axis.key, $0)] } }
        }
        return result
    }

    /// The keys `strategy` reads, for `--sweep`.
    static func keys(for strategy: StrategyName) -> [String] {
        switch strategy {
        case .smaCross: return ["fast", "slow", "leverage"]
        case .holdShort: return ["leverage"]
        case .fundingCarry: return []
        case .nmrBot: return BotConfigFile.keys
        }
    }

    /// Parses `key=v1,v2;key2=lo..hi:step`. A key the strategy does not read is refused (with
    /// the closest one it does read), as is a grid of more than `limit` runs.
    static func parse(_ text: String, strategy: StrategyName, limit: Int) throws -> SweepGrid {
        let known = keys(for: strategy)
        guard !known.isEmpty else { throw CLIError("--sweep: \(strategy.rawValue) has no parameter to vary") }
        var axes: [Axis] = []
        var runs = 1
        for part in text.split(separator: ";") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else {
                throw CLIError("--sweep parts look like key=v1,v2 or key=low..high:step (got \"\(InputLimits.excerpt(String(part)))\")")
            }
            let key = pieces[0]
            guard known.contains(key) else { throw CLIError(unknownKey(key, strategy: strategy, known: known)) }
            guard !axes.contains(where: { $0.key == key }) else { throw CLIError("--sweep names \(key) twice") }
            var values: [String] = []
            for item in pieces[1].split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
                values += try expand(item, key: key, limit: limit - values.count)
            }
            guard !values.isEmpty else { throw CLIError("--sweep \(key) has no value") }
            let (product, overflow) = runs.multipliedReportingOverflow(by: values.count)
            guard !overflow, product <= limit else {
                throw CLIError("--sweep asks for more than \(limit) runs (each keeps its equity curve); use fewer values or a coarser step")
            }
            runs = product
            axes.append(Axis(key: key, values: values))
        }
        guard !axes.isEmpty else { throw CLIError("--sweep needs at least one key=values, e.g. \(example(strategy))") }
        return SweepGrid(axes: axes)
    }

    static func example(_ strategy: StrategyName) -> String {
        strategy == .nmrBot ? "\"risk.stop_loss=0.015..0.035:0.005\"" : "\"fast=20,50;slow=100,200\""
    }

    static func unknownKey(_ key: String, strategy: StrategyName, known: [String]) -> String {
        if strategy != .nmrBot, BotConfigFile.keys.contains(key) {
            return "--sweep \(key) is a key of the nmr-bot configuration; \(strategy.rawValue) varies \(known.joined(separator: ", "))"
        }
        if let close = known.first(where: { RequiredFlagTypo.similar("--" + key, "--" + $0) }) {
            return "--sweep: \(strategy.rawValue) reads no \(InputLimits.excerpt(key)); did you mean \(close)?"
        }
        let listed =
            known.count > 8
            ? known.prefix(8).joined(separator: ", ") + ", … (`nmrperp bot init` lists them all)" : known.joined(separator: ", ")
        return "--sweep: \(strategy.rawValue) reads no \(InputLimits.excerpt(key)); it varies \(listed)"
    }

    /// `0.015..0.035:0.005` → 0.015, 0.02, …, 0.035 (exact decimals, the end included when the
    /// step lands on it); anything else is one value, checked when the run is set up.
    static func expand(_ item: String, key: String, limit: Int) throws -> [String] {
        guard let dots = item.range(of: "..") else { return [item] }
        let low = String(item[..<dots.lowerBound])
        let rest = item[dots.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else {
            throw CLIError("--sweep \(key)=\(InputLimits.excerpt(item)): a range needs a step, e.g. \(key)=\(low)..\(rest):STEP")
        }
        let high = String(rest[..<colon])
        let stepText = String(rest[rest.index(after: colon)...])
        func number(_ text: String) -> Decimal? {
            guard Double(text)?.isFinite == true, let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
                return nil
            }
            return value
        }
        guard let start = number(low), let end = number(high), let step = number(stepText) else {
            throw CLIError("--sweep \(key)=\(InputLimits.excerpt(item)): a range is low..high:step of numbers, e.g. 0.015..0.035:0.005")
        }
        guard step > 0 else { throw CLIError("--sweep \(key)=\(InputLimits.excerpt(item)): the step must be positive") }
        guard start <= end else { throw CLIError("--sweep \(key)=\(InputLimits.excerpt(item)): low must not exceed high") }
        var values: [String] = []
        var value = start
        while value <= end {
            guard values.count < limit else {
                throw CLIError("--sweep \(key)=\(InputLimits.excerpt(item)) asks for more than \(limit) runs; use a coarser step")
            }
            values.append(NSDecimalNumber(decimal: value).stringValue)
            value += step
        }
        return values
    }
}

/// What one point of a sweep runs.
enum SweepTarget: Sendable {
    case sma(fast: Int, slow: Int, leverage: Rate)
    case holdShort(leverage: Rate)
    case bot(BotConfig)
}

/// Runs many backtests on every core, showing progress with an ETA.
enum ParallelRuns {
    /// `body(i)` for every `i < count` on `workers` threads; results in order.
    static func map<T: Sendable>(count: Int, workers: Int, progress: ProgressBar?, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        let slots = Slots<T>(count: count)
        let threads = max(1, min(workers, count))
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            var index = worker
            while index < count {
                slots.set(index, body(index))
                progress?.update(slots.finished(), count)
                index += threads
            }
        }
        progress?.finish()
        return slots.values.map { $0! }
    }

    final class Slots<T>: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [T?]
        private var done = 0
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: T) {
            lock.lock()
            values[index] = value
            done += 1
            lock.unlock()
        }
        func finished() -> Int {
            lock.lock()
            defer { lock.unlock() }
            return done
        }
    }
}
