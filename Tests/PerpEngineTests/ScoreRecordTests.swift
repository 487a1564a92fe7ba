import PerpEngine
import PerpModel
import PerpSimulation
import Testing

/// Recording the blended score for the report's panel (`TradingKernel.recordsScores`) must not
/// change a single decision: it only skips the kernel's fast path, which returns exactly where
/// the threshold check would.
@Suite struct ScoreRecordTests {
    func run(recording: Bool, config: BotConfig, seed: UInt64) -> (BacktestResult, [JournalEntry], ScoreRecord) {
        let bars = paperWalk(seed: seed, bars: 3_000)
        var series = CandleSeries()
        for bar in bars { series.append(bar) }
        var kernel = TradingKernel(config: config, barInterval: .minutes(15), lotSize: Quantity("0.1")!)
        kernel.recordsScores = recording
        var tester = Backtester(strategy: BotStrategy(kernel: kernel), config: paperVenue(), initialCapital: Notional(10_000))
        let result = tester.run(series)
        return (result, tester.strategy.journal, tester.strategy.kernel.scoreRecord)
    }

    @Test(arguments: [7, 11, 23] as [UInt64])
    func recordingChangesNoTradeAndNoJournalRow(seed: UInt64) {
        for config in [BotConfig(), eagerBot()] {
            let (plain, plainJournal, nothing) = run(recording: false, config: config, seed: seed)
            let (recorded, recordedJournal, record) = run(recording: true, config: config, seed: seed)
            #expect(plain.fills == recorded.fills)
            #expect(plain.finalEquity == recorded.finalEquity)
            #expect(plainJournal == recordedJournal)
            #expect(nothing.times.isEmpty)
            #expect(!record.times.isEmpty)
            #expect(record.times.count == record.scores.count)
            #expect(zip(record.times, record.times.dropFirst()).allSatisfy { $0 < $1 })
            #expect(record.scores.allSatisfy { $0 >= -1 && $0 <= 1 })
        }
    }
}
