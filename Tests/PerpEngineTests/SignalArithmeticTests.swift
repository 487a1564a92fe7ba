import Foundation
import PerpModel
import Testing

@testable import PerpEngine

/// The bar loop's arithmetic (folded blend factors, cached change signals, the z-score from
/// running sums, journal rows worded when read) against the plain formulas it stands for.
@Suite struct SignalArithmeticTests {
    /// A score in −1…1, or none one time in three.
    private func maybeScore(_ generator: inout SplitMix64) -> Double? {
        generator.next() % 3 == 0 ? nil : uniform(&generator) * 2 - 1
    }

    @Test func foldedBlendIsTheWeightedMeanOfGroupMeans() {
        var generator = SplitMix64(seed: 7)
        for round in 0..<2_000 {
            var weights = BotConfig.Weights()
            if round % 2 == 1 {
                // Any weights, a group weighted zero now and then.
                weights.price = generator.next() % 5 == 0 ? 0 : uniform(&generator)
                weights.network = generator.next() % 5 == 0 ? 0 : uniform(&generator)
                weights.sentiment = generator.next() % 5 == 0 ? 0 : uniform(&generator)
            }
            var scores = SignalScores()
            scores.momentum = maybeScore(&generator)
            scores.meanReversion = maybeScore(&generator)
            scores.funding = maybeScore(&generator)
            scores.staked = maybeScore(&generator)
            scores.activity = maybeScore(&generator)
            scores.sentiment = maybeScore(&generator)
            // The plain formula: the mean of each group with data, weighted, over the weights used.
            func mean(_ values: [Double?]) -> Double? {
                let present = values.compactMap { $0 }
                return present.isEmpty ? nil : present.reduce(0, +) / Double(present.count)
            }
            var total = 0.0
            var weightSum = 0.0
            for (groupMean, weight) in [
                (mean([scores.momentum, scores.meanReversion, scores.funding]), weights.price),
                (mean([scores.staked, scores.activity]), weights.network), (scores.sentiment, weights.sentiment),
            ] {
                if let groupMean, weight > 0 {
                    total += groupMean * weight
                    weightSum += weight
                }
            }
            let expected = weightSum > 0 ? total / weightSum : 0
            #expect(abs(BlendWeights(weights).blend(scores) - expected) <= 1e-12, "round \(round)")
            #expect(abs(scores.blended(weights) - expected) <= 1e-12)
            for direction in [1.0, -1.0] {
                let agreeing = [scores.momentum, scores.meanReversion, scores.funding, scores.staked, scores.activity, scores.sentiment]
                    .compactMap { $0 }.filter { $0 * direction > 0 && abs($0) >= 0.1 }.count
                #expect(scores.agreeing(with: direction) == agreeing)
            }
        }
    }

    /// Exchange flows observed one period at a time (paper and live), a period corrected
    /// once and a stale one refused, score as the same flows given whole (backtests).
    @Test func observedFlowsScoreAsTheWholeSeries() {
        let hour: Int64 = 3_600_000
        let start: Int64 = 1_735_689_600_000
        var generator = SplitMix64(seed: 21)
        var points: [(time: Int64, value: Double)] = []
        var observed = SignalEngine(config: BotConfig.Signals(), inputs: SignalInputs())
        for index in 1...72 {
            let time = start + Int64(index) * hour
            let value = (uniform(&generator) - 0.5) * 8_000
            points.append((time, value))
            observed.observe(.exchangeNetflow, value: value, at: time)
            if index % 10 == 0 {
                // The same period again replaces its flow; an earlier one changes nothing.
                let corrected = value / 2
                points[points.count - 1].value = corrected
                observed.observe(.exchangeNetflow, value: corrected, at: time)
                observed.observe(.exchangeNetflow, value: 99_999, at: time - 5 * hour)
            }
        }
        var whole = SignalEngine(config: BotConfig.Signals(), inputs: SignalInputs(exchangeNetflow: SignalSeries(points)))
        var history = BarHistory(
            circuitWindow: .minutes(15), volatilityWindow: .hours(24), meanReversionWindow: .hours(24), momentumWindow: .hours(4))
        var twin = history
        for index in 0..<(72 * 4) {
            let time = start + Int64(index) * 900_000
            history.append(time: time, openRaw: 1e9, closeRaw: 1e9)
            twin.append(time: time, openRaw: 1e9, closeRaw: 1e9)
            let a = whole.scores(closeRaw: 1e9, at: time + 900_000, history: &history).exchangeFlow
            let b = observed.scores(closeRaw: 1e9, at: time + 900_000, history: &twin).exchangeFlow
            #expect(a.map { ($0 * 1e9).rounded() } == b.map { ($0 * 1e9).rounded() }, "bar \(index)")
        }
    }

    @Test func cachedChangeSignalReadsLikeTheSeries() {
        var generator = SplitMix64(seed: 11)
        // A daily series with gaps and a few same-day corrections.
        var points: [(time: Int64, value: Double)] = []
        var time: Int64 = 1_700_000_000_000
        for _ in 0..<120 {
            time += Int64(1 + generator.next() % 3) * 86_400_000
            points.append((time, 1_000 + uniform(&generator) * 500))
        }
        let series = SignalSeries(points)
        let window = TimeSpan.days(7).milliseconds
        var change = ChangeSignal()
        // Minute steps forward, then jumps back and forth: the cache must never answer for a
        // time outside the span its answer holds for.
        var queries: [Int64] = []
        var query = points[0].time - 10 * 86_400_000
        while query < time + 86_400_000 {
            queries.append(query)
            query += 3_600_000
        }
        for _ in 0..<500 { queries.append(points[0].time - 86_400_000 + Int64(generator.next() % UInt64(140 * 86_400_000))) }
        for query in queries {
            var expected: Double?
            if let now = series.value(at: query), let then = series.value(at: query - window), then > 0 {
                expected = clamp((now / then - 1) / 0.15)
            }
            #expect(change.score(of: series, at: query, window: window, fullScale: 0.15) == expected, "at \(query)")
        }
    }

    @Test func zScoreFromRunningSumsMatchesTwoPasses() {
        var generator = SplitMix64(seed: 3)
        let span = TimeSpan.hours(2)
        var history = BarHistory(circuitWindow: .minutes(15), volatilityWindow: span, meanReversionWindow: span, momentumWindow: span)
        var bars: [(time: Int64, close: Double)] = []
        var close = 12.0
        var time: Int64 = 0
        for index in 0..<3_000 {
            // A minute walk with a gap now and then, and flat stretches (no variance).
            time += index % 500 == 499 ? 45 * 60_000 : 60_000
            if index % 700 > 40 { close *= 1 + (uniform(&generator) - 0.5) * 0.004 }
            let closeRaw = (close * 1e8).rounded()
            bars.append((time, closeRaw))
            history.append(time: time, openRaw: closeRaw, closeRaw: closeRaw)
            let pieces = history.reversionDeviation(of: closeRaw)
            let result = (count: pieces.count, z: pieces.deviation.map { $0 / pieces.variance.squareRoot() })
            let window = bars.filter { $0.time > time - span.milliseconds }.map(\.close)
            #expect(result.count == window.count)
            guard window.count >= 2 else { continue }
            let mean = window.reduce(0, +) / Double(window.count)
            let variance = window.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(window.count - 1)
            guard variance > 1e-9 * mean * mean else { continue }  // below the running sums' resolution
            let z = (closeRaw - mean) / variance.squareRoot()
            #expect(result.z.map { abs($0 - z) <= 1e-6 * max(1, abs(z)) } == true, "bar \(index)")
        }
    }

    /// The bar loop's shortcut (``BlendWeights/staysInside(_:_:reversion:)``, squares instead
    /// of the z-score's square root and division) never says "no entry" where the full blend
    /// reaches the threshold, and says it wherever the blend is clearly inside: random cases,
    /// scores clamped at ±1, variances from 1e-12 to 1e24, and blends placed within 1e-15 to
    /// 1e-6 of either threshold.
    @Test func reversionShortcutDecidesAsTheFullBlend() {
        var generator = SplitMix64(seed: 19)
        var inside = 0
        var worked = 0
        var nearThreshold = 0
        for round in 0..<20_000 {
            var weights = BotConfig.Weights()
            if round % 3 == 1 {
                weights.price = generator.next() % 6 == 0 ? 0 : uniform(&generator)
                weights.network = generator.next() % 5 == 0 ? 0 : uniform(&generator)
                weights.sentiment = generator.next() % 5 == 0 ? 0 : uniform(&generator)
            }
            let blend = BlendWeights(weights)
            let threshold = round % 4 == 0 ? 0.25 : max(1e-3, uniform(&generator))
            var scores = SignalScores()
            scores.momentum = maybeScore(&generator)
            scores.funding = maybeScore(&generator)
            scores.staked = maybeScore(&generator)
            scores.activity = maybeScore(&generator)
            scores.sentiment = maybeScore(&generator)
            let variance = pow(10, uniform(&generator) * 36 - 12)
            let inverseZ = 1 / (0.5 + uniform(&generator) * 3.5)
            // The score wanted, as x in score = clamp(x): anywhere, far beyond the clamp, or
            // placing the blend a hair from either threshold.
            var x = (uniform(&generator) * 2 - 1) * (generator.next() % 4 == 0 ? 5 : 1)
            if round % 2 == 0 {
                var zero = scores
                zero.meanReversion = 0
                let factor = blend.priceFactor(zero)
                let target =
                    (generator.next() % 2 == 0 ? threshold : -threshold) + (uniform(&generator) * 2 - 1)
                    * pow(10, -6 - uniform(&generator) * 9)
                if factor > 0 { x = (target - blend.blend(zero)) / factor }
            }
            let deviation = -x * variance.squareRoot() / inverseZ
            let pending = PendingReversion(deviation: deviation, variance: variance, inverseZ: inverseZ)
            var full = scores
            full.meanReversion = clamp(-(deviation / variance.squareRoot()) * inverseZ)
            let blended = blend.blend(full)
            let says = blend.staysInside(threshold, scores, reversion: pending)
            if says {
                inside += 1
                #expect(abs(blended) < threshold, "round \(round): blend \(blended), threshold \(threshold)")
            } else {
                worked += 1
            }
            if abs(abs(blended) - threshold) < 1e-6 { nearThreshold += 1 }
            if abs(blended) < threshold - 1e-6 { #expect(says, "round \(round): blend \(blended) is inside \(threshold)") }
        }
        // Both answers and the boundary were exercised.
        #expect(inside > 2_000 && worked > 2_000 && nearThreshold > 2_000, "\(inside) inside, \(worked) worked out, \(nearThreshold) near")
    }

    @Test func journalRowsWordedWhenReadMatchTheirText() throws {
        let rate = try #require(Rate("0.000125"))
        let until = Timestamp(milliseconds: 1_760_112_000_000)
        let funding = JournalEntry(time: until, event: .funding, reasonText: .fundingSettled(rate))
        #expect(funding.reason == "funding settled at rate 0.000125")
        #expect(funding == JournalEntry(time: until, event: .funding, reason: "funding settled at rate 0.000125"))
        let halt = JournalEntry(time: until, event: .riskDenied, reasonText: .circuitHalt(until: until))
        #expect(halt.reason == "circuit breaker: no entries until \(until.iso8601)")

        var scores = SignalScores()
        scores.momentum = 0.25
        scores.funding = -1
        scores.sentiment = 0
        let rules = JournalEntry(time: until, event: .entry, reasonText: .text("r"), signalValues: .scores(scores, probabilityUp: nil))
        #expect(rules.signals.map(\.0) == ["momentum", "funding", "sentiment"])
        #expect(rules.signals.map(\.1) == [0.25, -1, 0])
        let model = JournalEntry(time: until, event: .entry, reasonText: .text("r"), signalValues: .scores(scores, probabilityUp: 0.7))
        #expect(model.signals.map(\.0) == ["momentum", "funding", "sentiment", "model_p_up"])
        #expect(model == JournalEntry(time: until, event: .entry, reason: "r", signals: model.signals))
        // Setting the words replaces the recorded facts.
        var edited = funding
        edited.reason = "note"
        edited.signals = [("x", 1)]
        #expect(edited.reason == "note" && edited.signals.map(\.0) == ["x"])
    }
}
